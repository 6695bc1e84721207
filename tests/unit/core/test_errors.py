from __future__ import annotations

import pytest

from msgbridge.core.errors import (
    AuthError,
    ConfigError,
    ErrorCode,
    ErrorInfo,
    InvalidDestination,
    MessagingError,
    TemplateError,
    TransportError,
    UnsupportedFeature,
)

# The closed list from the design, with each code's retryable flag, written out independently.
RETRYABLE_BY_NAME = {
    "INVALID_ARGUMENT": False,
    "INVALID_DESTINATION": False,
    "INVALID_SENDER": False,
    "MESSAGE_TOO_LONG": False,
    "AUTH_FAILED": False,
    "ACCESS_DENIED": False,
    "ACCOUNT_BLOCKED": False,
    "INSUFFICIENT_FUNDS": False,
    "NOT_FOUND": False,
    "DUPLICATE": False,
    "THROTTLED": True,
    "QUEUE_FULL": True,
    "TEMPORARY_FAILURE": True,
    "PERMANENT_FAILURE": False,
    "PARTIAL": False,
    "PROTOCOL_ERROR": False,
    "TIMEOUT": True,
    "NETWORK_ERROR": True,
    "WRONG_SERVER": True,
    "UNSUPPORTED": False,
}


def test_the_enum_is_exactly_the_design_list() -> None:
    assert [c.name for c in ErrorCode] == list(RETRYABLE_BY_NAME)


@pytest.mark.parametrize("code", list(ErrorCode), ids=[c.name for c in ErrorCode])
def test_retryable(code: ErrorCode) -> None:
    assert code.retryable is RETRYABLE_BY_NAME[code.name]
    assert ErrorInfo(code=code).retryable is RETRYABLE_BY_NAME[code.name]


@pytest.mark.parametrize("code", list(ErrorCode), ids=[c.name for c in ErrorCode])
def test_only_timeout_leaves_the_outcome_unknown(code: ErrorCode) -> None:
    assert code.outcome_unknown is (code.name == "TIMEOUT")


def test_error_info_keeps_what_the_peer_said() -> None:
    info = ErrorInfo(
        code=ErrorCode.THROTTLED, native_code="0x58", native_message="ESME_RTHROTTLED", retry_after=2
    )
    assert str(info) == "THROTTLED [0x58]: ESME_RTHROTTLED"
    assert str(ErrorInfo(code=ErrorCode.TIMEOUT)) == "TIMEOUT"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigError, "INVALID_ARGUMENT"),
        (UnsupportedFeature, "UNSUPPORTED"),
        (InvalidDestination, "INVALID_DESTINATION"),
        (TemplateError, "INVALID_ARGUMENT"),
        (AuthError, "AUTH_FAILED"),
        (TransportError, "NETWORK_ERROR"),
        (MessagingError, "PERMANENT_FAILURE"),
    ],
)
def test_exception_default_codes(exc: type[MessagingError], code: str) -> None:
    err = exc("boom")
    assert err.code.value == code and err.info.native_message == "boom" and isinstance(err, MessagingError)
    assert exc("boom", code=ErrorCode.TIMEOUT).code is ErrorCode.TIMEOUT
