"""Every row of the SMPP command_status table, checked against an independent list."""

from __future__ import annotations

import logging

import pytest

from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import DeliveryStatus
from msgbridge.smpp.status import (
    SLOW_DOWN,
    STATUS_TABLE,
    StatusClass,
    error_info,
    failed_status,
    lookup,
)

E = ErrorCode
T, P, B, S, X = (
    StatusClass.TEMPORARY,
    StatusClass.PERMANENT,
    StatusClass.BIND,
    StatusClass.STOP,
    StatusClass.BUG,
)

# Written from SMPP 3.4 §5.1.3 (command_status), not copied from the table under test.
EXPECTED: list[tuple[int, str, ErrorCode | None, StatusClass]] = [
    (0x00, "ESME_ROK", None, StatusClass.OK),
    (0x01, "ESME_RINVMSGLEN", E.MESSAGE_TOO_LONG, P),
    (0x02, "ESME_RINVCMDLEN", E.PROTOCOL_ERROR, X),
    (0x03, "ESME_RINVCMDID", E.PROTOCOL_ERROR, X),
    (0x04, "ESME_RINVBNDSTS", E.TEMPORARY_FAILURE, B),
    (0x05, "ESME_RALYBND", E.TEMPORARY_FAILURE, B),
    (0x06, "ESME_RINVPRTFLG", E.INVALID_ARGUMENT, P),
    (0x07, "ESME_RINVREGDLVFLG", E.INVALID_ARGUMENT, P),
    (0x08, "ESME_RSYSERR", E.TEMPORARY_FAILURE, T),
    (0x0A, "ESME_RINVSRCADR", E.INVALID_SENDER, P),
    (0x0B, "ESME_RINVDSTADR", E.INVALID_DESTINATION, P),
    (0x0C, "ESME_RINVMSGID", E.NOT_FOUND, P),
    (0x0D, "ESME_RBINDFAIL", E.TEMPORARY_FAILURE, B),
    (0x0E, "ESME_RINVPASWD", E.AUTH_FAILED, S),
    (0x0F, "ESME_RINVSYSID", E.AUTH_FAILED, S),
    (0x11, "ESME_RCANCELFAIL", E.PERMANENT_FAILURE, P),
    (0x13, "ESME_RREPLACEFAIL", E.PERMANENT_FAILURE, P),
    (0x14, "ESME_RMSGQFUL", E.QUEUE_FULL, T),
    (0x15, "ESME_RINVSERTYP", E.INVALID_ARGUMENT, P),
    (0x33, "ESME_RINVNUMDESTS", E.INVALID_DESTINATION, P),
    (0x34, "ESME_RINVDLNAME", E.INVALID_DESTINATION, P),
    (0x40, "ESME_RINVDESTFLAG", E.INVALID_ARGUMENT, P),
    (0x42, "ESME_RINVSUBREP", E.INVALID_ARGUMENT, P),
    (0x43, "ESME_RINVESMCLASS", E.INVALID_ARGUMENT, P),
    (0x44, "ESME_RCNTSUBDL", E.PERMANENT_FAILURE, P),
    (0x45, "ESME_RSUBMITFAIL", E.PERMANENT_FAILURE, P),
    (0x48, "ESME_RINVSRCTON", E.INVALID_SENDER, P),
    (0x49, "ESME_RINVSRCNPI", E.INVALID_SENDER, P),
    (0x50, "ESME_RINVDSTTON", E.INVALID_DESTINATION, P),
    (0x51, "ESME_RINVDSTNPI", E.INVALID_DESTINATION, P),
    (0x53, "ESME_RINVSYSTYP", E.AUTH_FAILED, S),
    (0x54, "ESME_RINVREPFLAG", E.INVALID_ARGUMENT, P),
    (0x55, "ESME_RINVNUMMSGS", E.INVALID_ARGUMENT, P),
    (0x58, "ESME_RTHROTTLED", E.THROTTLED, T),
    (0x61, "ESME_RINVSCHED", E.INVALID_ARGUMENT, P),
    (0x62, "ESME_RINVEXPIRY", E.INVALID_ARGUMENT, P),
    (0x63, "ESME_RINVDFTMSGID", E.INVALID_ARGUMENT, P),
    (0x64, "ESME_RX_T_APPN", E.TEMPORARY_FAILURE, T),
    (0x65, "ESME_RX_P_APPN", E.PERMANENT_FAILURE, P),
    (0x66, "ESME_RX_R_APPN", E.PERMANENT_FAILURE, P),
    (0x67, "ESME_RQUERYFAIL", E.NOT_FOUND, P),
    (0xC0, "ESME_RINVOPTPARSTREAM", E.PROTOCOL_ERROR, X),
    (0xC1, "ESME_ROPTPARNOTALLWD", E.UNSUPPORTED, X),
    (0xC2, "ESME_RINVPARLEN", E.PROTOCOL_ERROR, X),
    (0xC3, "ESME_RMISSINGOPTPARAM", E.PROTOCOL_ERROR, X),
    (0xC4, "ESME_RINVOPTPARAMVAL", E.INVALID_ARGUMENT, P),
    (0xFE, "ESME_RDELIVERYFAILURE", E.PERMANENT_FAILURE, P),
    (0xFF, "ESME_RUNKNOWNERR", E.PERMANENT_FAILURE, P),
]


def test_table_covers_exactly_the_expected_codes() -> None:
    assert sorted(STATUS_TABLE) == [row[0] for row in EXPECTED]


@pytest.mark.parametrize("status", sorted(STATUS_TABLE))
def test_every_table_row(status: int) -> None:
    expected = {row[0]: row[1:] for row in EXPECTED}[status]
    row = STATUS_TABLE[status]
    assert (row.name, row.code, row.cls) == expected
    if status:
        info = error_info(status)
        assert info.code is expected[1]
        assert info.native_code == status
        assert expected[0] in info.native_message


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(0x08, True), (0x14, True), (0x58, True), (0x64, True), (0x0B, False), (0x45, False), (0x0E, False)],
)
def test_temporary_codes_are_retryable(status: int, retryable: bool) -> None:
    assert error_info(status).retryable is retryable


def test_only_throttling_and_queue_full_slow_the_sender_down() -> None:
    assert {0x14, 0x58} == SLOW_DOWN


@pytest.mark.parametrize("status", [0x400, 0x4FF, 0x1234])
def test_unknown_codes_are_permanent_and_logged_once(status: int, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        row = lookup(status)
        lookup(status)
    assert row.code is ErrorCode.PERMANENT_FAILURE
    assert row.cls is StatusClass.PERMANENT
    assert f"0x{status:08X}" in row.name
    assert sum(f"0x{status:08X}" in r.getMessage() for r in caplog.records) <= 1


@pytest.mark.parametrize(
    ("status", "delivery"),
    [(0x58, DeliveryStatus.FAILED), (0x0B, DeliveryStatus.REJECTED), (0x08, DeliveryStatus.FAILED)],
)
def test_failed_status(status: int, delivery: DeliveryStatus) -> None:
    assert failed_status(error_info(status)) is delivery
