"""Retry policy: full jitter under a capped exponential, Retry-After as given, give up at max_age."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msgbridge.webhooks.policy import RetryPolicy, Verdict, verdict


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (299, Verdict.DELIVERED),
        (410, Verdict.GONE),
        (None, Verdict.RETRY),
        (301, Verdict.RETRY),
        (400, Verdict.RETRY),
        (401, Verdict.RETRY),
        (404, Verdict.RETRY),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
    ],
)
def test_what_an_answer_means(status: int | None, expected: Verdict) -> None:
    assert verdict(status) is expected


@given(attempts=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_backoff_is_drawn_between_zero_and_the_capped_exponential(attempts: int, seed: int) -> None:
    policy = RetryPolicy(base=1.0, cap=600.0)
    wait = policy.backoff(attempts, random.Random(seed))
    assert 0.0 <= wait <= min(600.0, 2.0 ** (attempts - 1))


def test_backoff_is_full_jitter_not_a_fixed_step() -> None:
    rng = random.Random(7)
    waits = [RetryPolicy(base=1.0, cap=600.0).backoff(10, rng) for _ in range(500)]
    # Full jitter spreads over the whole range [0, 512]: some below a quarter, some above three quarters.
    assert min(waits) < 128 < 384 < max(waits)


def test_retry_after_is_honoured_exactly() -> None:
    policy = RetryPolicy(max_age=3600)
    assert policy.next_try(attempts=1, occurred_at=1000.0, now=1010.0, retry_after=42.0) == 1052.0


def test_the_last_try_is_made_at_max_age_then_the_event_is_given_up() -> None:
    policy = RetryPolicy(max_age=100.0, base=1000.0, cap=1000.0)
    at = policy.next_try(attempts=5, occurred_at=0.0, now=50.0, rng=random.Random(1))
    assert at is not None and 50.0 <= at <= 100.0
    assert policy.next_try(attempts=6, occurred_at=0.0, now=100.0) is None


def test_a_retry_after_beyond_max_age_gives_up_rather_than_trying_early() -> None:
    policy = RetryPolicy(max_age=100.0)
    assert policy.next_try(attempts=1, occurred_at=0.0, now=10.0, retry_after=500.0) is None
