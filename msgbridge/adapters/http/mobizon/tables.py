"""Mobizon's tables: answer codes, per-recipient codes, statuses, task states and limits (every row tested).

From Mobizon's API documentation ("API response codes", Message and Campaign
modules). Codes 0 and 100 are successes.
"""

from __future__ import annotations

from datetime import timedelta

from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import DeliveryStatus

DEFAULT_HOST = "api.mobizon.kz"

# Response "code" -> ours ("API response codes"). 0 and 100 are successes.
ERRORS: dict[int, ErrorCode] = {
    1: ErrorCode.INVALID_ARGUMENT,  # validation error; data names the fields (refined by FIELD_ERRORS)
    2: ErrorCode.NOT_FOUND,
    3: ErrorCode.PERMANENT_FAILURE,  # unidentified application error
    4: ErrorCode.PROTOCOL_ERROR,  # bad module
    5: ErrorCode.PROTOCOL_ERROR,  # bad method
    6: ErrorCode.PROTOCOL_ERROR,  # bad format
    8: ErrorCode.AUTH_FAILED,
    9: ErrorCode.ACCESS_DENIED,
    10: ErrorCode.TEMPORARY_FAILURE,  # save failed (concurrent access)
    11: ErrorCode.INVALID_ARGUMENT,  # required parameters missing
    12: ErrorCode.INVALID_ARGUMENT,  # a parameter violates limits
    13: ErrorCode.WRONG_SERVER,  # the right domain is in data
    14: ErrorCode.ACCOUNT_BLOCKED,
    15: ErrorCode.PERMANENT_FAILURE,  # non-update operation error
    30: ErrorCode.THROTTLED,
    98: ErrorCode.PARTIAL,  # per-item results in data
    99: ErrorCode.PERMANENT_FAILURE,  # nothing done; per-item errors in data
    999: ErrorCode.TEMPORARY_FAILURE,  # general service error
}
SUCCESS_CODES: frozenset[int] = frozenset({0, 100})

# Code 1 names the fields that failed validation; some fields say more than "invalid argument".
FIELD_ERRORS: dict[str, ErrorCode] = {
    "recipient": ErrorCode.INVALID_DESTINATION,
    "from": ErrorCode.INVALID_SENDER,
    "text": ErrorCode.MESSAGE_TOO_LONG,
}

# campaign/addRecipients per-item codes -> ours.
RECIPIENT_ERRORS: dict[int, ErrorCode] = {
    1: ErrorCode.INVALID_DESTINATION,  # empty
    2: ErrorCode.INVALID_DESTINATION,  # no number
    3: ErrorCode.INVALID_DESTINATION,  # not international
    4: ErrorCode.DUPLICATE,
    5: ErrorCode.PERMANENT_FAILURE,  # on the stop list
    6: ErrorCode.UNSUPPORTED,  # country restricted
    7: ErrorCode.UNSUPPORTED,  # operator cannot be determined
    8: ErrorCode.UNSUPPORTED,  # operator not supported
    20: ErrorCode.INVALID_ARGUMENT,  # placeholders missing
    30: ErrorCode.INVALID_ARGUMENT,  # contact problems
    31: ErrorCode.INVALID_ARGUMENT,
    32: ErrorCode.INVALID_ARGUMENT,
    51: ErrorCode.PERMANENT_FAILURE,  # short link could not be made
    99: ErrorCode.TEMPORARY_FAILURE,  # system error
}

# Message statuses ("SMS statuses"). PDLIVRD is final for us but may be replaced later (see core.status).
STATUSES: dict[str, DeliveryStatus] = {
    "NEW": DeliveryStatus.QUEUED,
    "ENQUEUD": DeliveryStatus.QUEUED,
    "ACCEPTD": DeliveryStatus.ACCEPTED,
    "PDLIVRD": DeliveryStatus.PARTIALLY_DELIVERED,
    "DELIVRD": DeliveryStatus.DELIVERED,
    "UNDELIV": DeliveryStatus.UNDELIVERABLE,
    "REJECTD": DeliveryStatus.REJECTED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "DELETED": DeliveryStatus.DELETED,
    "UNKNOWN": DeliveryStatus.UNKNOWN,
}

# Why a final status is a failure, for the receipt's ErrorInfo.
STATUS_ERRORS: dict[str, ErrorCode] = {
    "UNDELIV": ErrorCode.PERMANENT_FAILURE,
    "REJECTD": ErrorCode.PERMANENT_FAILURE,
    "EXPIRED": ErrorCode.TEMPORARY_FAILURE,
    "DELETED": ErrorCode.PERMANENT_FAILURE,
}

# taskqueue/getStatus "status".
TASK_STATUSES: dict[int, str] = {0: "waiting", 1: "running", 2: "done", 3: "rejected"}
TASK_FINAL: frozenset[int] = frozenset({2, 3})

# campaign/create data[type].
CAMPAIGN_SINGLE, CAMPAIGN_BULK, CAMPAIGN_TEMPLATE = 1, 2, 3

MAX_STATUS_IDS = 100
MAX_RECIPIENTS = 500
VALIDITY_MINUTES = (60, 1440)
DEFER_RANGE = (timedelta(hours=1), timedelta(days=14))
