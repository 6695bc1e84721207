"""Login failure bookkeeping and connection counting, on a clock the test moves."""

from __future__ import annotations

import pytest

from msgbridge.inbound.limits import (
    AuthPolicy,
    ConnectionCount,
    ConnectionPolicy,
    FailureLog,
    client_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # same /64: same counter
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4 over an IPv6 socket
        ("not-an-address", "not-an-address"),
    ],
)
def test_client_key(host: str, key: str) -> None:
    assert client_key(host) == key


def test_waits_double_up_to_the_cap() -> None:
    policy = AuthPolicy(delay=1.0, max_delay=5.0)
    assert [policy.wait_after(n) for n in range(6)] == [0.0, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert AuthPolicy(delay=0).wait_after(3) == 0.0
    assert AuthPolicy(delay=1.0, max_delay=30.0).wait_after(10_000) == 30.0  # no overflow


def test_failures_lock_then_expire() -> None:
    clock = Clock()
    log = FailureLog(AuthPolicy(delay=1.0, max_delay=8.0, max_failures=3, lockout=100.0), clock)
    assert not log.fail("login:bob")
    assert log.wait_for("login:bob") == 1.0
    clock.now += 0.5
    assert log.wait_for("login:bob") == 0.5
    assert not log.fail("login:bob")
    assert log.wait_for("login:bob") == 2.0
    assert log.locked_for("login:bob") == 0
    assert log.fail("login:bob")  # the third starts the lock-out
    assert log.locked_for("login:bob") == 100.0
    assert not log.fail("login:bob")  # failing while locked does not lock again
    clock.now += 99.0
    assert log.locked_for("login:bob") == 1.0
    clock.now += 1.0
    assert log.locked_for("login:bob") == 0 and len(log) == 0  # over and quiet since: forgotten


def test_success_clears_failures_but_not_a_lock() -> None:
    clock = Clock()
    log = FailureLog(AuthPolicy(max_failures=2, lockout=50.0), clock)
    log.fail("ip:a")
    log.clear("ip:a")
    assert log.wait_for("ip:a") == 0 and len(log) == 0
    log.fail("ip:a")
    log.fail("ip:a")
    log.clear("ip:a")
    assert log.locked_for("ip:a") == 50.0


def test_failure_log_is_bounded_oldest_first() -> None:
    log = FailureLog(AuthPolicy(), Clock(), max_entries=100)
    for i in range(1000):
        log.fail(f"login:user{i}")
    assert len(log) == 100
    assert log.wait_for("login:user0") == 0  # evicted
    assert log.wait_for("login:user999") > 0  # kept


def test_connection_count_caps_and_forgets() -> None:
    count = ConnectionCount(ConnectionPolicy(max_total=3, max_per_client=2))
    assert [count.open("a"), count.open("a"), count.open("a")] == [True, True, False]
    assert count.open("b") and not count.open("c")
    assert count.total == 3
    count.close("a")
    assert count.open("c")
    for key in ("a", "b", "c"):
        count.close(key)
    assert count.total == 0 and count.clients() == 0
