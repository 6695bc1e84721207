"""Checking submissions: each problem by index and field, with the ErrorCode a front reports."""

from __future__ import annotations

import pytest

from msgbridge.core.errors import ErrorCode
from msgbridge.service.contract import MAX_BATCH, InvalidSubmission, Submission
from msgbridge.service.validation import check_batch, sender_problem


def resolve(name: str | None) -> str | None:
    return "sms" if name in (None, "sms", "SMS") else None


def problems(items: list[Submission]) -> set[tuple[int, str, ErrorCode]]:
    with pytest.raises(InvalidSubmission) as info:
        check_batch(items, resolve)
    return {(e.index, e.field, e.code) for e in info.value.errors}


def test_a_good_batch_is_normalised() -> None:
    [one, two] = check_batch(
        [
            Submission(to="+7 701 123 45 67", text="hi"),
            Submission(to="87011234567", text="hi", region="KZ", transport="SMS"),
        ],
        resolve,
    )
    assert (one.to, one.transport) == ("+77011234567", "sms")
    assert (two.to, two.transport) == ("+77011234567", "sms")


def test_every_problem_of_every_item_is_named() -> None:
    found = problems(
        [
            Submission(to="+77011234567", text="ok"),
            Submission(to="", text="", sender=""),
            Submission(to="+77011234567", text="x" * 40_000),
            Submission(to="+77011234567", text="x", reference=""),
            Submission(to="+77011234567", text="x", callback_url="not a url"),
            Submission(to="+77011234567", text="x", options={"k": 1}),  # type: ignore[dict-item]
        ]
    )
    assert found == {
        (1, "to", ErrorCode.INVALID_DESTINATION),
        (1, "text", ErrorCode.INVALID_ARGUMENT),
        (1, "sender", ErrorCode.INVALID_SENDER),
        (2, "text", ErrorCode.MESSAGE_TOO_LONG),
        (3, "reference", ErrorCode.INVALID_ARGUMENT),
        (4, "callback_url", ErrorCode.INVALID_ARGUMENT),
        (5, "options", ErrorCode.INVALID_ARGUMENT),
    }


def test_a_batch_over_the_limit_is_refused_whole() -> None:
    items = [Submission(to="+77011234567", text="x")] * (MAX_BATCH + 1)
    assert problems(items) == {(MAX_BATCH, "messages", ErrorCode.INVALID_ARGUMENT)}


@pytest.mark.parametrize(
    ("sender", "ok"),
    [("Shop", True), ("ABCDEFGHIJK", True), ("ABCDEFGHIJKL", False), ("+77011234567", True), ("7000", True),
     ("Магазин", False), ("a\tb", False), ("1" * 21, False)],
)  # fmt: skip
def test_senders(sender: str, ok: bool) -> None:
    assert (sender_problem(sender) is None) is ok
