"""The poll schedule alone, on simulated time: growing intervals, per-message and mass caps, refusals."""

from __future__ import annotations

import itertools

import pytest

from msgbridge.adapters.base import registry
from msgbridge.core.url import TransportURL
from msgbridge.dispatch.polling import HOUR, POLICIES, PollPolicy, PollSchedule, policy_for, steady

SMSC = POLICIES["smsc"]


def run_schedule(
    schedule: PollSchedule, ids: list[str], until: float, step: float = 0.25
) -> dict[str, list[float]]:
    """Drive the schedule from t=0 to ``until``; every planned request is 'answered: still pending'."""
    schedule.sync(ids, 0.0)
    polls: dict[str, list[float]] = {n: [] for n in ids}
    now = 0.0
    while now <= until:
        for request in schedule.plan(now):
            schedule.polled(request, now)
            for nid in request:
                polls[nid].append(now)
        nxt = schedule.next_due()
        if nxt is None:
            break
        now = max(now + step, nxt)
    return polls


def max_in_window(times: list[float], window: float) -> int:
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


# Every row of POLICIES, against the document it follows (independent of the module's numbers).
EXPECTED = {
    "smsc": {"per_message": 5, "mass": 1, "window": 60.0, "give_up_after": 25 * HOUR},
    "mobizon": {"per_message": None, "mass": None, "give_up_after": 25 * HOUR},
    "selzy": {"per_message": None, "mass": None, "give_up_after": 25 * HOUR},
    "bsg": {"per_message": None, "mass": None, "give_up_after": 73 * HOUR},
}


@pytest.mark.parametrize("scheme", sorted(EXPECTED))
def test_each_provider_policy_row(scheme: str) -> None:
    policy = POLICIES[scheme]
    for name, value in EXPECTED[scheme].items():
        assert getattr(policy, name) == value, (scheme, name)
    assert policy.source
    assert policy.growth > 1 and policy.max_interval >= policy.interval
    cls = registry.get(scheme)
    url = {"smsc": "smsc://u:p@smsc.ru", "bsg": "bsg://k@one-api.bsg.world"}.get(scheme, f"{scheme}://k@h")
    transport = cls.from_url(TransportURL.parse(url, user_is_secret=cls.user_is_secret))
    assert policy_for(transport, 1.0) is policy
    assert set(POLICIES) == set(EXPECTED)


def test_transports_without_a_policy_are_polled_steadily() -> None:
    cls = registry.get("memory")
    transport = cls.from_url("memory://?poll=yes")
    policy = policy_for(transport, 0.5)
    assert policy == steady(0.5)
    polls = run_schedule(PollSchedule(policy, 1000), ["a"], until=5.0, step=0.01)
    assert polls["a"][0] == 0.0
    assert all(b - a == pytest.approx(0.5) for a, b in zip(polls["a"], polls["a"][1:], strict=False))


def test_smsc_one_message_pending_for_hours_stays_under_five_a_minute_with_growing_intervals() -> None:
    polls = run_schedule(PollSchedule(SMSC, 100), ["1:77010000001"], until=3 * HOUR)["1:77010000001"]
    assert polls[:5] == [1.0, 3.0, 7.0, 15.0, 31.0]
    assert max_in_window(polls, SMSC.window + SMSC.margin) <= SMSC.per_message
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert gaps == sorted(gaps)  # never faster again
    assert max(gaps) == pytest.approx(SMSC.max_interval)
    # 3 hours at most max_interval apart after the first minutes: tens of polls, not thousands
    assert len(polls) < 3 * HOUR / SMSC.max_interval + 12


def test_smsc_many_messages_get_one_mass_request_a_minute_and_single_ones_between() -> None:
    ids = [f"7:7701{i:07d}" for i in range(250)]
    schedule = PollSchedule(SMSC, 100)
    sizes: list[tuple[float, int]] = []
    schedule.sync(ids, 0.0)
    now = 0.0
    while now < 600:
        for request in schedule.plan(now):
            schedule.polled(request, now)
            sizes.append((now, len(request)))
        now += 0.05
    mass_times = [t for t, n in sizes if n > 1]
    assert mass_times and all(n <= 100 for _, n in sizes)
    assert all(b - a > SMSC.window for a, b in itertools.pairwise(mass_times))
    # requests per second stay under the policy's rate (one second of burst allowed)
    assert SMSC.rate is not None
    for start in range(0, 600, 10):
        assert sum(1 for t, _ in sizes if start <= t < start + 10) <= SMSC.rate * 11
    assert min(schedule.tracks[nid].polls for nid in ids) >= 5  # everybody was asked about, repeatedly


def test_a_refusal_moves_the_refused_ids_back_and_pauses_the_round() -> None:
    schedule = PollSchedule(SMSC, 100)
    schedule.sync(["a:1", "b:2"], 0.0)
    [request] = schedule.plan(1.0)
    assert sorted(request) == ["a:1", "b:2"]
    schedule.polled(request, 1.0)
    schedule.refused(request, 1.0, retry_after=60.0)
    assert schedule.plan(2.0) == []  # paused
    assert schedule.plan(30.0) == []  # the ids wait out the refusal
    assert all(t.next_at >= 61.0 for t in schedule.tracks.values())
    later = schedule.plan(62.0)
    assert sorted(n for r in later for n in r) == ["a:1", "b:2"]


def test_a_refusal_without_retry_after_waits_the_policys_window() -> None:
    policy = PollPolicy(refused_wait=42.0, refused_pause=1.0)
    schedule = PollSchedule(policy, 10)
    schedule.sync(["x"], 0.0)
    [request] = schedule.plan(1.0)
    schedule.polled(request, 1.0)
    schedule.refused(request, 1.0, retry_after=None)
    assert schedule.tracks["x"].next_at == pytest.approx(43.0)


def test_polling_stops_after_the_providers_validity_and_does_not_restart() -> None:
    policy = PollPolicy(give_up_after=100.0, max_interval=10.0)
    schedule = PollSchedule(policy, 10)
    polls = run_schedule(schedule, ["x"], until=500.0)
    assert polls["x"] and max(polls["x"]) <= 100.0
    schedule.sync(["x"], 600.0)
    assert "x" not in schedule.tracks and schedule.next_due() is None


def test_messages_no_longer_pending_are_dropped() -> None:
    schedule = PollSchedule(SMSC, 100)
    schedule.sync(["a", "b"], 0.0)
    schedule.sync(["b"], 1.0)
    assert set(schedule.tracks) == {"b"}
    schedule.done("b")
    assert schedule.next_due() is None


def test_a_partial_page_of_pending_ids_keeps_the_poll_history_of_the_others() -> None:
    schedule = PollSchedule(SMSC, 100)
    schedule.sync(["a", "b"], 0.0)
    for request in schedule.plan(1.0):
        schedule.polled(request, 1.0)
    schedule.sync(["b"], 2.0, complete=False)
    assert schedule.tracks["a"].polls == 1
