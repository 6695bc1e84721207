"""The breaker's error-rate rule, its state names and per-key counters (the count rule: webhooks' tests)."""

from __future__ import annotations

import pytest

from msgbridge.core.breaker import Breaker, CircuitState

A = "sms"


def test_error_rate_over_the_window_opens_without_consecutive_failures() -> None:
    breaker = Breaker(failures=5, cooldown=10, error_rate=0.5, window=30, min_calls=6)
    for i in range(5):  # fail, succeed, fail, ...: never 2 in a row, but half of the calls
        (breaker.failed if i % 2 == 0 else breaker.succeeded)(A, float(i))
    assert breaker.state(A, 5.0) is CircuitState.CLOSED  # 5 calls, fewer than min_calls
    breaker.succeeded(A, 5.0)
    assert breaker.state(A, 5.0) is CircuitState.CLOSED  # 3 of 6 failed... but the last call succeeded
    breaker.failed(A, 6.0)  # 4 of 7 >= 0.5
    assert breaker.state(A, 6.0) is CircuitState.OPEN
    assert breaker.info(A, 6.0).opened == 1


def test_calls_older_than_the_window_do_not_count() -> None:
    breaker = Breaker(failures=100, error_rate=0.5, window=10, min_calls=4)
    for t in (0.0, 1.0, 2.0):
        breaker.failed(A, t)
    for t in (20.0, 21.0, 22.0):
        breaker.succeeded(A, t)
    breaker.failed(A, 23.0)  # 1 of the 4 in the window
    assert breaker.state(A, 23.0) is CircuitState.CLOSED


def test_below_the_rate_stays_closed() -> None:
    breaker = Breaker(failures=100, error_rate=0.5, window=60, min_calls=10)
    for i in range(40):
        (breaker.failed if i % 3 == 0 else breaker.succeeded)(A, float(i))
    assert breaker.state(A, 40.0) is CircuitState.CLOSED


def test_states_closed_open_half_open_and_back() -> None:
    breaker = Breaker(failures=2, cooldown=30, probe_wait=5, keep_closed=True)
    assert breaker.state(A, 0.0) is CircuitState.CLOSED
    breaker.failed(A, 0.0)
    assert breaker.info(A, 0.0).failures == 1
    breaker.failed(A, 1.0)
    assert breaker.state(A, 2.0) is CircuitState.OPEN
    assert breaker.state(A, 31.0) is CircuitState.HALF_OPEN
    assert breaker.blocked_until(A, 31.0) is None  # the probe
    assert breaker.state(A, 31.0) is CircuitState.HALF_OPEN
    breaker.succeeded(A, 32.0)
    info = breaker.info(A, 32.0)
    assert (info.state, info.failures, info.opened) == (CircuitState.CLOSED, 0, 1)
    assert [s.value for s in CircuitState] == ["closed", "open", "half_open"]


def test_an_abandoned_probe_lets_the_next_call_probe() -> None:
    breaker = Breaker(failures=1, cooldown=10, probe_wait=5)
    breaker.failed(A, 0.0)
    assert breaker.blocked_until(A, 10.0) is None
    assert breaker.blocked_until(A, 10.0) == 15.0
    breaker.abandoned(A)
    assert breaker.blocked_until(A, 10.0) is None


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        Breaker(error_rate=0)
    with pytest.raises(ValueError):
        Breaker(error_rate=0.5, window=0)
