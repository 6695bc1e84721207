"""Dashboard sessions: expiry, the cap on how many are kept, and a key replaced under the same name."""

from __future__ import annotations

from msgbridge.service.apikeys import ApiKey, KeyRing, digest
from msgbridge.service.http.dashboard.sessions import Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(name: str, token: str) -> ApiKey:
    return ApiKey(name=name, sha256=digest(token), hint=token[:8])


def test_a_session_lasts_its_lifetime_then_is_forgotten() -> None:
    clock = Clock()
    ring = KeyRing([key("ops", "mbk_a")])
    sessions = Sessions(lifetime=60.0, clock=clock)
    token = sessions.open(ring.keys[0])
    assert len(token) >= 40 and "mbk_a" not in token
    assert sessions.find(token, ring) == ring.keys[0]
    clock.now += 59.0
    assert sessions.find(token, ring) is not None
    clock.now += 1.0
    assert sessions.find(token, ring) is None and len(sessions) == 0
    assert sessions.find(None, ring) is None and sessions.find("", ring) is None


def test_a_key_replaced_under_its_name_or_removed_ends_its_sessions() -> None:
    sessions = Sessions()
    old = key("ops", "mbk_old")
    token = sessions.open(old)
    assert sessions.find(token, KeyRing([key("ops", "mbk_new")])) is None  # same name, another key
    assert sessions.find(token, KeyRing([old])) is None  # and it stays ended
    other = sessions.open(old)
    assert sessions.find(other, KeyRing([])) is None


def test_logout_and_the_cap_forget_sessions_oldest_first() -> None:
    ring = KeyRing([key("ops", "mbk_a")])
    sessions = Sessions(limit=3)
    tokens = [sessions.open(ring.keys[0]) for _ in range(4)]
    assert len(sessions) == 3 and sessions.find(tokens[0], ring) is None
    assert all(sessions.find(t, ring) is not None for t in tokens[1:])
    sessions.close(tokens[2])
    sessions.close(tokens[2])  # twice is harmless
    sessions.close(None)
    assert sessions.find(tokens[2], ring) is None and len(sessions) == 2


def test_expired_sessions_are_dropped_when_a_new_one_opens() -> None:
    clock = Clock()
    ring = KeyRing([key("ops", "mbk_a")])
    sessions = Sessions(lifetime=10.0, clock=clock)
    for _ in range(5):
        sessions.open(ring.keys[0])
    clock.now += 11.0
    sessions.open(ring.keys[0])
    assert len(sessions) == 1
