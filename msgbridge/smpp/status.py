"""SMPP 3.4 command_status -> our ErrorCode, with the class that decides what the session does.

The class column follows the protocol notes (T temporary, P permanent for the
message, B bind/configuration, S bind failure that must stop reconnecting, X
our own protocol or codec bug). ErrorCode alone is not enough: RINVPASWD and
RBINDFAIL both fail a bind, but only the first can never heal by retrying.

Codes missing from the table (vendor range 0x400-0x4FF and anything else) are
treated as permanent for the message and logged once per code, as Kannel does.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import NamedTuple

from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.status import DeliveryStatus

log = logging.getLogger(__name__)


class StatusClass(StrEnum):
    OK = "ok"
    TEMPORARY = "T"  # resend later (throttling and queue-full also slow the sender down)
    PERMANENT = "P"  # this message will never be accepted as it is
    BIND = "B"  # the bind is unhealthy: rebind / back off
    STOP = "S"  # bind refused for good: stop reconnecting and say why
    BUG = "X"  # we sent something malformed


class StatusRow(NamedTuple):
    name: str
    code: ErrorCode | None
    cls: StatusClass


# command_status -> (name, ErrorCode, class). Every row is tested.
STATUS_TABLE: dict[int, StatusRow] = {
    0x00: StatusRow("ESME_ROK", None, StatusClass.OK),
    0x01: StatusRow("ESME_RINVMSGLEN", ErrorCode.MESSAGE_TOO_LONG, StatusClass.PERMANENT),
    0x02: StatusRow("ESME_RINVCMDLEN", ErrorCode.PROTOCOL_ERROR, StatusClass.BUG),
    0x03: StatusRow("ESME_RINVCMDID", ErrorCode.PROTOCOL_ERROR, StatusClass.BUG),
    0x04: StatusRow("ESME_RINVBNDSTS", ErrorCode.TEMPORARY_FAILURE, StatusClass.BIND),
    0x05: StatusRow("ESME_RALYBND", ErrorCode.TEMPORARY_FAILURE, StatusClass.BIND),
    0x06: StatusRow("ESME_RINVPRTFLG", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x07: StatusRow("ESME_RINVREGDLVFLG", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x08: StatusRow("ESME_RSYSERR", ErrorCode.TEMPORARY_FAILURE, StatusClass.TEMPORARY),
    0x0A: StatusRow("ESME_RINVSRCADR", ErrorCode.INVALID_SENDER, StatusClass.PERMANENT),
    0x0B: StatusRow("ESME_RINVDSTADR", ErrorCode.INVALID_DESTINATION, StatusClass.PERMANENT),
    0x0C: StatusRow("ESME_RINVMSGID", ErrorCode.NOT_FOUND, StatusClass.PERMANENT),
    0x0D: StatusRow("ESME_RBINDFAIL", ErrorCode.TEMPORARY_FAILURE, StatusClass.BIND),
    0x0E: StatusRow("ESME_RINVPASWD", ErrorCode.AUTH_FAILED, StatusClass.STOP),
    0x0F: StatusRow("ESME_RINVSYSID", ErrorCode.AUTH_FAILED, StatusClass.STOP),
    0x11: StatusRow("ESME_RCANCELFAIL", ErrorCode.PERMANENT_FAILURE, StatusClass.PERMANENT),
    0x13: StatusRow("ESME_RREPLACEFAIL", ErrorCode.PERMANENT_FAILURE, StatusClass.PERMANENT),
    0x14: StatusRow("ESME_RMSGQFUL", ErrorCode.QUEUE_FULL, StatusClass.TEMPORARY),
    0x15: StatusRow("ESME_RINVSERTYP", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x33: StatusRow("ESME_RINVNUMDESTS", ErrorCode.INVALID_DESTINATION, StatusClass.PERMANENT),
    0x34: StatusRow("ESME_RINVDLNAME", ErrorCode.INVALID_DESTINATION, StatusClass.PERMANENT),
    0x40: StatusRow("ESME_RINVDESTFLAG", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x42: StatusRow("ESME_RINVSUBREP", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x43: StatusRow("ESME_RINVESMCLASS", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x44: StatusRow("ESME_RCNTSUBDL", ErrorCode.PERMANENT_FAILURE, StatusClass.PERMANENT),
    0x45: StatusRow("ESME_RSUBMITFAIL", ErrorCode.PERMANENT_FAILURE, StatusClass.PERMANENT),
    0x48: StatusRow("ESME_RINVSRCTON", ErrorCode.INVALID_SENDER, StatusClass.PERMANENT),
    0x49: StatusRow("ESME_RINVSRCNPI", ErrorCode.INVALID_SENDER, StatusClass.PERMANENT),
    0x50: StatusRow("ESME_RINVDSTTON", ErrorCode.INVALID_DESTINATION, StatusClass.PERMANENT),
    0x51: StatusRow("ESME_RINVDSTNPI", ErrorCode.INVALID_DESTINATION, StatusClass.PERMANENT),
    0x53: StatusRow("ESME_RINVSYSTYP", ErrorCode.AUTH_FAILED, StatusClass.STOP),
    0x54: StatusRow("ESME_RINVREPFLAG", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x55: StatusRow("ESME_RINVNUMMSGS", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x58: StatusRow("ESME_RTHROTTLED", ErrorCode.THROTTLED, StatusClass.TEMPORARY),
    0x61: StatusRow("ESME_RINVSCHED", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x62: StatusRow("ESME_RINVEXPIRY", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x63: StatusRow("ESME_RINVDFTMSGID", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0x64: StatusRow("ESME_RX_T_APPN", ErrorCode.TEMPORARY_FAILURE, StatusClass.TEMPORARY),
    0x65: StatusRow("ESME_RX_P_APPN", ErrorCode.PERMANENT_FAILURE, StatusClass.PERMANENT),
    0x66: StatusRow("ESME_RX_R_APPN", ErrorCode.PERMANENT_FAILURE, StatusClass.PERMANENT),
    0x67: StatusRow("ESME_RQUERYFAIL", ErrorCode.NOT_FOUND, StatusClass.PERMANENT),
    0xC0: StatusRow("ESME_RINVOPTPARSTREAM", ErrorCode.PROTOCOL_ERROR, StatusClass.BUG),
    0xC1: StatusRow("ESME_ROPTPARNOTALLWD", ErrorCode.UNSUPPORTED, StatusClass.BUG),
    0xC2: StatusRow("ESME_RINVPARLEN", ErrorCode.PROTOCOL_ERROR, StatusClass.BUG),
    0xC3: StatusRow("ESME_RMISSINGOPTPARAM", ErrorCode.PROTOCOL_ERROR, StatusClass.BUG),
    0xC4: StatusRow("ESME_RINVOPTPARAMVAL", ErrorCode.INVALID_ARGUMENT, StatusClass.PERMANENT),
    0xFE: StatusRow("ESME_RDELIVERYFAILURE", ErrorCode.PERMANENT_FAILURE, StatusClass.PERMANENT),
    0xFF: StatusRow("ESME_RUNKNOWNERR", ErrorCode.PERMANENT_FAILURE, StatusClass.PERMANENT),
}

# command_status -> its description in SMPP 3.4 §5.1.3 (as python-smpplib spells them), for error messages.
DESCRIPTIONS: dict[int, str] = {
    0x00: "No Error",
    0x01: "Message Length is invalid",
    0x02: "Command Length is invalid",
    0x03: "Invalid Command ID",
    0x04: "Incorrect BIND Status for given command",
    0x05: "ESME Already in Bound State",
    0x06: "Invalid Priority Flag",
    0x07: "<Desc Not Set>",
    0x08: "System Error",
    0x0A: "Invalid Source Address",
    0x0B: "Invalid Destination Address",
    0x0C: "Invalid Message ID",
    0x0D: "Bind Failed",
    0x0E: "Invalid Password",
    0x0F: "Invalid System ID",
    0x11: "Cancel SM Failed",
    0x13: "Replace SM Failed",
    0x14: "Message Queue is full",
    0x15: "Invalid Service Type",
    0x33: "Invalid number of destinations",
    0x34: "Invalid Distribution List name",
    0x40: "Invalid Destination Flag (submit_multi)",
    0x42: "Invalid Submit With Replace request (replace_if_present_flag set)",
    0x43: "Invalid esm_class field data",
    0x44: "Cannot submit to Distribution List",
    0x45: "submit_sm or submit_multi failed",
    0x48: "Invalid Source address TON",
    0x49: "Invalid Source address NPI",
    0x50: "Invalid Destination address TON",
    0x51: "Invalid Destination address NPI",
    0x53: "Invalid system_type field",
    0x54: "Invalid replace_if_present flag",
    0x55: "Invalid number of messages",
    0x58: "Throttling error (ESME has exceeded allowed message limits)",
    0x61: "Invalid Scheduled Delivery Time",
    0x62: "Invalid message validity period (Expiry Time)",
    0x63: "Predefined Message is invalid or not found",
    0x64: "ESME received Temporary App Error Code",
    0x65: "ESME received Permanent App Error Code",
    0x66: "ESME received Reject Message Error Code",
    0x67: "query_sm request failed",
    0xC0: "Error in the optional part of the PDU body",
    0xC1: "Optional Parameter not allowed",
    0xC2: "Invalid Parameter Length",
    0xC3: "Expected Optional Parameter missing",
    0xC4: "Invalid Optional Parameter Value",
    0xFE: "Delivery Failure (used data_sm_resp)",
    0xFF: "Unknown Error",
}

# Codes that make the sender pause and resend the same PDU rather than fail it.
SLOW_DOWN: frozenset[int] = frozenset({0x14, 0x58})

_UNKNOWN = StatusRow("", ErrorCode.PERMANENT_FAILURE, StatusClass.PERMANENT)
_logged_unknown: set[int] = set()


def lookup(status: int) -> StatusRow:
    """The table row for ``status``; unknown codes are permanent (and logged once)."""
    row = STATUS_TABLE.get(status)
    if row is not None:
        return row
    if status not in _logged_unknown:
        _logged_unknown.add(status)
        vendor = " (vendor-specific range)" if 0x400 <= status <= 0x4FF else ""
        log.warning("unknown SMPP command_status 0x%08X%s: treated as permanent", status, vendor)
    return StatusRow(f"0x{status:08X}", _UNKNOWN.code, _UNKNOWN.cls)


def error_info(status: int, *, context: str = "") -> ErrorInfo:
    """ErrorInfo for a non-zero command_status, keeping the SMPP name and description."""
    row = lookup(status)
    description = DESCRIPTIONS.get(status, "unknown status")
    text = f"{row.name}: {description}"
    if context:
        text = f"{text} ({context})"
    return ErrorInfo(code=row.code or ErrorCode.PROTOCOL_ERROR, native_code=status, native_message=text)


def failed_status(info: ErrorInfo) -> DeliveryStatus:
    """What a message refused with ``info`` becomes: REJECTED for a definite refusal, FAILED otherwise."""
    if info.code.outcome_unknown:
        return DeliveryStatus.MAYBE_SUBMITTED
    return DeliveryStatus.FAILED if info.retryable else DeliveryStatus.REJECTED
