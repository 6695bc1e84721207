"""SMTP reply codes (RFC 5321) and enhanced status codes (RFC 3463) -> ErrorCode.

A reply is looked up from the most specific key to the least: the full
enhanced code (``5.7.8``), then its subject (``5.1.*``), then the basic code
(``552``), then the class digit. The enhanced code's class wins when it
disagrees with the basic code ("550 4.7.1" is temporary), as RFC 3463 asks:
a permanent-looking ErrorCode under a 4.x.x class becomes TEMPORARY_FAILURE
and a retryable one under 5.x.x becomes PERMANENT_FAILURE. The native code
and text are kept with the result.
"""

from __future__ import annotations

import re

from msgbridge.core.errors import ErrorCode, ErrorInfo

# Full enhanced status codes with a meaning of their own.
ENHANCED: dict[str, ErrorCode] = {
    "4.3.1": ErrorCode.QUEUE_FULL,  # out of storage
    "4.4.5": ErrorCode.QUEUE_FULL,  # system congestion
    "4.5.3": ErrorCode.TEMPORARY_FAILURE,  # too many recipients: send fewer
    "4.7.0": ErrorCode.TEMPORARY_FAILURE,  # temporary authentication failure (454)
    "4.7.1": ErrorCode.THROTTLED,  # policy / rate limit / greylisting: retry later
    "5.1.7": ErrorCode.INVALID_SENDER,  # bad sender mailbox syntax
    "5.1.8": ErrorCode.INVALID_SENDER,  # bad sender system address
    "5.2.3": ErrorCode.MESSAGE_TOO_LONG,  # message length exceeds administrative limit
    "5.3.4": ErrorCode.MESSAGE_TOO_LONG,  # message too big for system
    "5.7.0": ErrorCode.AUTH_FAILED,  # authentication required (530)
    "5.7.1": ErrorCode.ACCESS_DENIED,  # not authorised / relaying denied
    "5.7.8": ErrorCode.AUTH_FAILED,  # credentials invalid (535)
    "5.7.9": ErrorCode.AUTH_FAILED,  # mechanism too weak (534)
    "5.7.11": ErrorCode.AUTH_FAILED,  # encryption required (538)
}

# Enhanced code subjects (the middle number), for codes not listed above.
SUBJECTS: dict[str, ErrorCode] = {
    "1": ErrorCode.INVALID_DESTINATION,  # addressing status
    "5": ErrorCode.PROTOCOL_ERROR,  # mail delivery protocol status
    "6": ErrorCode.INVALID_ARGUMENT,  # message content or media status
    "7": ErrorCode.ACCESS_DENIED,  # security or policy status
}

# Basic reply codes.
BASIC: dict[int, ErrorCode] = {
    421: ErrorCode.TEMPORARY_FAILURE,  # service closing channel: reconnect, back off
    450: ErrorCode.TEMPORARY_FAILURE,  # mailbox busy / greylisted
    451: ErrorCode.TEMPORARY_FAILURE,  # local error in processing
    452: ErrorCode.TEMPORARY_FAILURE,  # insufficient storage / too many recipients
    454: ErrorCode.TEMPORARY_FAILURE,  # TLS or auth temporarily unavailable
    500: ErrorCode.PROTOCOL_ERROR,  # syntax error, command unrecognised
    501: ErrorCode.PROTOCOL_ERROR,  # syntax error in parameters
    502: ErrorCode.PROTOCOL_ERROR,  # command not implemented
    503: ErrorCode.PROTOCOL_ERROR,  # bad sequence of commands
    504: ErrorCode.PROTOCOL_ERROR,  # parameter not implemented
    530: ErrorCode.AUTH_FAILED,  # authentication required
    534: ErrorCode.AUTH_FAILED,  # mechanism too weak
    535: ErrorCode.AUTH_FAILED,  # credentials invalid
    538: ErrorCode.AUTH_FAILED,  # encryption required for mechanism
    550: ErrorCode.PERMANENT_FAILURE,  # mailbox unavailable / policy
    551: ErrorCode.INVALID_DESTINATION,  # user not local
    552: ErrorCode.MESSAGE_TOO_LONG,  # exceeded storage allocation / size
    553: ErrorCode.INVALID_DESTINATION,  # mailbox name not allowed
    554: ErrorCode.PERMANENT_FAILURE,  # transaction failed
    555: ErrorCode.PROTOCOL_ERROR,  # MAIL/RCPT parameters not recognised
}

_ENHANCED_RE = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def enhanced_code(text: str) -> str | None:
    """The RFC 3463 code at the start of a reply text, e.g. ``5.1.1``, or None."""
    m = _ENHANCED_RE.match(text or "")
    return f"{m.group(1)}.{m.group(2)}.{m.group(3)}" if m else None


def classify(code: int, text: str = "") -> ErrorCode:
    """Our ErrorCode for one SMTP reply; see the module docstring for the lookup order."""
    enhanced = enhanced_code(text)
    found: ErrorCode | None = None
    if enhanced is not None:
        found = ENHANCED.get(enhanced) or SUBJECTS.get(enhanced.split(".")[1])
    if found is None:
        found = BASIC.get(code)
    klass = enhanced[0] if enhanced is not None else str(code)[:1]
    if found is None:
        found = {"4": ErrorCode.TEMPORARY_FAILURE, "5": ErrorCode.PERMANENT_FAILURE}.get(
            klass, ErrorCode.PROTOCOL_ERROR
        )
    if klass == "4" and not found.retryable:
        return ErrorCode.TEMPORARY_FAILURE
    if klass == "5" and found.retryable:
        return ErrorCode.PERMANENT_FAILURE
    return found


def error_info(code: int, text: str = "") -> ErrorInfo:
    """An ErrorInfo carrying the reply exactly as the server sent it (``native_code`` like ``"550 5.1.1"``)."""
    enhanced = enhanced_code(text)
    native = f"{code} {enhanced}" if enhanced else str(code)
    return ErrorInfo(code=classify(code, text), native_code=native, native_message=(text or "").strip())
