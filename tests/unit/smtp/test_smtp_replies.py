"""Every row of the SMTP reply table, checked against an independent list."""

from __future__ import annotations

import pytest

from msgbridge.adapters.smtp.replies import BASIC, ENHANCED, SUBJECTS, classify, enhanced_code, error_info
from msgbridge.core.errors import ErrorCode

EXPECTED_BASIC: list[tuple[int, str]] = [
    (421, "TEMPORARY_FAILURE"),
    (450, "TEMPORARY_FAILURE"),
    (451, "TEMPORARY_FAILURE"),
    (452, "TEMPORARY_FAILURE"),
    (454, "TEMPORARY_FAILURE"),
    (500, "PROTOCOL_ERROR"),
    (501, "PROTOCOL_ERROR"),
    (502, "PROTOCOL_ERROR"),
    (503, "PROTOCOL_ERROR"),
    (504, "PROTOCOL_ERROR"),
    (530, "AUTH_FAILED"),
    (534, "AUTH_FAILED"),
    (535, "AUTH_FAILED"),
    (538, "AUTH_FAILED"),
    (550, "PERMANENT_FAILURE"),
    (551, "INVALID_DESTINATION"),
    (552, "MESSAGE_TOO_LONG"),
    (553, "INVALID_DESTINATION"),
    (554, "PERMANENT_FAILURE"),
    (555, "PROTOCOL_ERROR"),
]

EXPECTED_ENHANCED: list[tuple[str, str]] = [
    ("4.3.1", "QUEUE_FULL"),
    ("4.4.5", "QUEUE_FULL"),
    ("4.5.3", "TEMPORARY_FAILURE"),
    ("4.7.0", "TEMPORARY_FAILURE"),
    ("4.7.1", "THROTTLED"),
    ("5.1.7", "INVALID_SENDER"),
    ("5.1.8", "INVALID_SENDER"),
    ("5.2.3", "MESSAGE_TOO_LONG"),
    ("5.3.4", "MESSAGE_TOO_LONG"),
    ("5.7.0", "AUTH_FAILED"),
    ("5.7.1", "ACCESS_DENIED"),
    ("5.7.8", "AUTH_FAILED"),
    ("5.7.9", "AUTH_FAILED"),
    ("5.7.11", "AUTH_FAILED"),
]

# (subject, an enhanced code in it that has no row of its own, expected)
EXPECTED_SUBJECTS: list[tuple[str, str, str]] = [
    ("1", "5.1.1", "INVALID_DESTINATION"),
    ("5", "5.5.2", "PROTOCOL_ERROR"),
    ("6", "5.6.0", "INVALID_ARGUMENT"),
    ("7", "5.7.27", "ACCESS_DENIED"),
]


def test_tables_have_exactly_the_expected_rows() -> None:
    assert sorted(BASIC) == sorted(c for c, _ in EXPECTED_BASIC)
    assert sorted(ENHANCED) == sorted(c for c, _ in EXPECTED_ENHANCED)
    assert sorted(SUBJECTS) == sorted(s for s, _, _ in EXPECTED_SUBJECTS)


@pytest.mark.parametrize("code", sorted(BASIC))
def test_basic_row(code: int) -> None:
    expected = dict(EXPECTED_BASIC)[code]
    assert BASIC[code] is ErrorCode(expected)
    assert classify(code, "no enhanced code here") is ErrorCode(expected)


@pytest.mark.parametrize("enhanced", sorted(ENHANCED))
def test_enhanced_row(enhanced: str) -> None:
    expected = dict(EXPECTED_ENHANCED)[enhanced]
    basic = 451 if enhanced.startswith("4") else 550
    assert ENHANCED[enhanced] is ErrorCode(expected)
    assert classify(basic, f"{enhanced} the server's words") is ErrorCode(expected)


@pytest.mark.parametrize("subject", sorted(SUBJECTS))
def test_subject_row(subject: str) -> None:
    _, example, expected = next(row for row in EXPECTED_SUBJECTS if row[0] == subject)
    assert SUBJECTS[subject] is ErrorCode(expected)
    assert classify(550, f"{example} something") is ErrorCode(expected)


def test_issue_examples() -> None:
    assert classify(550, "5.1.1 <x@y>: Recipient address rejected") is ErrorCode.INVALID_DESTINATION
    assert classify(535, "5.7.8 Authentication credentials invalid") is ErrorCode.AUTH_FAILED
    assert classify(552, "Error: Too much mail data") is ErrorCode.MESSAGE_TOO_LONG
    assert classify(554, "Transaction failed") is ErrorCode.PERMANENT_FAILURE
    for code in (421, 450, 451, 452, 454):
        assert classify(code, "").retryable


def test_enhanced_class_wins_over_basic_code() -> None:
    # A 550 whose enhanced code says 4.x.x is temporary; a 450 saying 5.x.x is not.
    assert classify(550, "4.2.2 mailbox full, try later") is ErrorCode.TEMPORARY_FAILURE
    assert classify(550, "4.7.1 slow down") is ErrorCode.THROTTLED
    assert classify(450, "5.1.1 no such user") is ErrorCode.INVALID_DESTINATION
    assert classify(421, "5.3.0 bye") is ErrorCode.PERMANENT_FAILURE


def test_unlisted_codes_fall_back_to_their_class() -> None:
    assert classify(459, "") is ErrorCode.TEMPORARY_FAILURE
    assert classify(559, "") is ErrorCode.PERMANENT_FAILURE
    assert classify(299, "") is ErrorCode.PROTOCOL_ERROR


def test_error_info_keeps_what_the_server_said() -> None:
    info = error_info(550, "5.1.1 Bad destination mailbox address")
    assert info.native_code == "550 5.1.1"
    assert info.native_message == "5.1.1 Bad destination mailbox address"
    assert error_info(552, "Error: Too much mail data").native_code == "552"
    assert enhanced_code("  4.7.1 later") == "4.7.1"
    assert enhanced_code("550 is not enhanced") is None
