"""Our ErrorCode -> the command_status a submit_sm_resp carries: the client's table (``smpp/status.py``) inverted.

The client reads a command_status as an ErrorCode through :data:`~msgbridge.smpp.status.STATUS_TABLE`; the
front answers with the code that an ESME reading the same table gets the same ErrorCode back from. Several
rows share an ErrorCode; :data:`PREFERRED` names the one written for each (the most general of them), and
:func:`inverted` checks the choice against the table, so the two cannot drift apart. ErrorCodes no row
carries (a provider's account problems, which an ESME cannot act on) go out as the nearest row that does.
"""

from __future__ import annotations

from msgbridge.core.errors import ErrorCode
from msgbridge.smpp.status import STATUS_TABLE

# For each ErrorCode the table holds: which of its rows the front writes.
PREFERRED: dict[ErrorCode, int] = {
    ErrorCode.MESSAGE_TOO_LONG: 0x01,  # ESME_RINVMSGLEN
    ErrorCode.PROTOCOL_ERROR: 0x02,  # ESME_RINVCMDLEN
    ErrorCode.TEMPORARY_FAILURE: 0x08,  # ESME_RSYSERR
    ErrorCode.INVALID_ARGUMENT: 0xC4,  # ESME_RINVOPTPARAMVAL
    ErrorCode.INVALID_SENDER: 0x0A,  # ESME_RINVSRCADR
    ErrorCode.INVALID_DESTINATION: 0x0B,  # ESME_RINVDSTADR
    ErrorCode.NOT_FOUND: 0x0C,  # ESME_RINVMSGID
    ErrorCode.AUTH_FAILED: 0x0E,  # ESME_RINVPASWD
    ErrorCode.PERMANENT_FAILURE: 0x45,  # ESME_RSUBMITFAIL
    ErrorCode.QUEUE_FULL: 0x14,  # ESME_RMSGQFUL
    ErrorCode.THROTTLED: 0x58,  # ESME_RTHROTTLED
    ErrorCode.UNSUPPORTED: 0xC1,  # ESME_ROPTPARNOTALLWD
}
# ErrorCodes no row of the table carries -> the ErrorCode whose row stands in for them.
STAND_IN: dict[ErrorCode, ErrorCode] = {
    ErrorCode.ACCESS_DENIED: ErrorCode.PERMANENT_FAILURE,
    ErrorCode.ACCOUNT_BLOCKED: ErrorCode.PERMANENT_FAILURE,
    ErrorCode.INSUFFICIENT_FUNDS: ErrorCode.PERMANENT_FAILURE,
    ErrorCode.DUPLICATE: ErrorCode.PERMANENT_FAILURE,
    ErrorCode.PARTIAL: ErrorCode.PERMANENT_FAILURE,
    ErrorCode.TIMEOUT: ErrorCode.TEMPORARY_FAILURE,
    ErrorCode.NETWORK_ERROR: ErrorCode.TEMPORARY_FAILURE,
    ErrorCode.WRONG_SERVER: ErrorCode.TEMPORARY_FAILURE,
}


def inverted() -> dict[ErrorCode, int]:
    """Every ErrorCode -> command_status; raises if a preferred row does not read back as its ErrorCode."""
    out: dict[ErrorCode, int] = {}
    for code, status in PREFERRED.items():
        row = STATUS_TABLE[status]
        if row.code is not code:
            raise ValueError(f"{row.name} reads as {row.code}, not {code}")
        out[code] = status
    for code, stand_in in STAND_IN.items():
        out[code] = out[stand_in]
    missing = set(ErrorCode) - set(out)
    if missing:
        raise ValueError(f"ErrorCodes with no command_status: {sorted(missing)}")
    return out


COMMAND_STATUS: dict[ErrorCode, int] = inverted()
