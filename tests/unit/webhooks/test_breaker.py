"""The circuit breaker per origin: opens after N failures in a row, one probe after the cool-down."""

from __future__ import annotations

from msgbridge.core.breaker import Breaker

A = "http://a.example:80"
B = "http://b.example:80"


def test_opens_after_consecutive_failures_only() -> None:
    breaker = Breaker(failures=3, cooldown=30, probe_wait=5)
    breaker.failed(A, 0.0)
    breaker.failed(A, 1.0)
    breaker.succeeded(A)  # a success in between starts the count again
    breaker.failed(A, 2.0)
    breaker.failed(A, 3.0)
    assert breaker.blocked_until(A, 3.0) is None
    breaker.failed(A, 4.0)
    assert breaker.blocked_until(A, 10.0) == 34.0
    assert breaker.is_open(A) and breaker.opened == 1


def test_one_origins_failures_leave_another_alone() -> None:
    breaker = Breaker(failures=1, cooldown=30)
    breaker.failed(A, 0.0)
    assert breaker.blocked_until(A, 1.0) == 30.0
    assert breaker.blocked_until(B, 1.0) is None


def test_half_open_lets_one_probe_through() -> None:
    breaker = Breaker(failures=1, cooldown=30, probe_wait=5)
    breaker.failed(A, 0.0)
    assert breaker.blocked_until(A, 31.0) is None  # the probe
    assert breaker.blocked_until(A, 31.5) == 36.5  # the others wait while it is out
    breaker.failed(A, 32.0)  # the probe failed: another cool-down
    assert breaker.blocked_until(A, 40.0) == 62.0
    assert breaker.blocked_until(A, 62.0) is None  # the next probe
    breaker.succeeded(A)
    assert breaker.blocked_until(A, 62.1) is None and not breaker.is_open(A)


def test_retry_after_pauses_the_origin_then_probes() -> None:
    breaker = Breaker(failures=5, cooldown=30, probe_wait=5)
    breaker.pause(A, 120.0)
    assert breaker.blocked_until(A, 100.0) == 120.0
    assert breaker.blocked_until(A, 120.0) is None
    assert breaker.blocked_until(A, 120.5) == 125.5
    breaker.pause(A, 50.0)  # never shortens a wait already asked for
    assert breaker.blocked_until(A, 49.0) == 120.0
