"""SeenPhones: each number once, with the line it was first on, across many growths of its tables."""

from __future__ import annotations

import random

from msgbridge.dispatch.seen import SeenPhones


def test_each_number_is_new_once_and_then_names_its_first_line() -> None:
    rng = random.Random(3)
    numbers = [f"+{rng.randrange(10**10, 10**15)}" for _ in range(50_000)]
    seen = SeenPhones()
    first: dict[str, int] = {}
    for line, number in enumerate(numbers + rng.sample(numbers, 5_000), start=2):
        got = seen.first(number, line)
        assert got == first.get(number), number
        first.setdefault(number, line)
    assert len(seen) == len(set(numbers))


def test_numbers_that_differ_only_in_the_last_digit_or_the_plus_sign() -> None:
    seen = SeenPhones()
    assert seen.first("+77010000001", 2) is None
    assert seen.first("+77010000002", 3) is None
    assert seen.first("77010000001", 4) == 2
    assert seen.first("+999999999999999", None) is None  # 15 digits, no line (an API caller's recipient)
    assert seen.first("+999999999999999", 9) == -1
