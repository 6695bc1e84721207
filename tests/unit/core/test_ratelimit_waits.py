"""Backoff.delay_within: a peer's wait is taken up to a limit and refused beyond it."""

from __future__ import annotations

import pytest

from msgbridge.core.ratelimit import Backoff, describe_wait

EXACT = Backoff(base=1.0, factor=2.0, cap=60.0, jitter=False)


def test_a_wait_within_the_limit_is_taken() -> None:
    assert EXACT.delay_within(1, 5.0, 300.0) == 5.0
    assert EXACT.delay_within(1, 300.0, 300.0) == 300.0


def test_a_wait_beyond_the_limit_is_refused() -> None:
    assert EXACT.delay_within(1, 999999.0, 300.0) is None
    assert EXACT.delay_within(1, 300.5, 300.0) is None


def test_our_own_backoff_is_cut_to_the_limit() -> None:
    assert EXACT.delay_within(7, None, 10.0) == 10.0  # 1 * 2**6 = 64, capped at 60, cut to 10
    assert EXACT.delay_within(2, None, 300.0) == 2.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (999999.0, "999999 s (11.6 days)"),
        (7200.0, "7200 s (2.0 hours)"),
        (600.0, "600 s (10.0 minutes)"),
        (90.0, "90 s"),
        (2.0, "2 s"),
    ],
)
def test_waits_are_described_in_units_a_user_can_judge(seconds: float, text: str) -> None:
    assert describe_wait(seconds) == text
