"""One error taxonomy for every transport.

Providers disagree on how to say "try again later"; callers should not have to
know which provider they are talking to in order to decide whether to retry.
So every native code is mapped onto one closed :class:`ErrorCode`, and the
native code and text travel beside it so nothing the provider said is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_DESTINATION = "INVALID_DESTINATION"
    INVALID_SENDER = "INVALID_SENDER"
    MESSAGE_TOO_LONG = "MESSAGE_TOO_LONG"
    AUTH_FAILED = "AUTH_FAILED"
    ACCESS_DENIED = "ACCESS_DENIED"
    ACCOUNT_BLOCKED = "ACCOUNT_BLOCKED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    THROTTLED = "THROTTLED"
    QUEUE_FULL = "QUEUE_FULL"
    TEMPORARY_FAILURE = "TEMPORARY_FAILURE"
    PERMANENT_FAILURE = "PERMANENT_FAILURE"
    PARTIAL = "PARTIAL"
    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    TIMEOUT = "TIMEOUT"
    NETWORK_ERROR = "NETWORK_ERROR"
    WRONG_SERVER = "WRONG_SERVER"
    UNSUPPORTED = "UNSUPPORTED"

    @property
    def retryable(self) -> bool:
        """Whether sending the same thing again later may succeed.

        TIMEOUT and NETWORK_ERROR are retryable for the *request*, but a send
        that timed out may have been accepted: the dispatcher marks such a
        message MAYBE_SUBMITTED instead of resending it blindly.
        """
        return self in RETRYABLE

    @property
    def outcome_unknown(self) -> bool:
        """True where the request may have reached the provider and taken effect."""
        return self in OUTCOME_UNKNOWN


RETRYABLE: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.THROTTLED,
        ErrorCode.QUEUE_FULL,
        ErrorCode.TEMPORARY_FAILURE,
        ErrorCode.TIMEOUT,
        ErrorCode.NETWORK_ERROR,
        ErrorCode.WRONG_SERVER,
    }
)

# A request that failed this way may still have been carried out by the peer.
OUTCOME_UNKNOWN: frozenset[ErrorCode] = frozenset({ErrorCode.TIMEOUT})


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Our code, plus exactly what the peer said.

    A plain frozen dataclass like the records that carry it (see ``msgbridge.core.message``);
    ``msgbridge.core.records`` reads and writes it as JSON.
    """

    code: ErrorCode
    native_code: str | int | None = None
    native_message: str = ""
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.code.retryable

    def __str__(self) -> str:
        native = f" [{self.native_code}]" if self.native_code is not None else ""
        text = f": {self.native_message}" if self.native_message else ""
        return f"{self.code.value}{native}{text}"


class MessagingError(Exception):
    """Raised when nothing could be done at all; per-message failures are data."""

    default_code: ErrorCode = ErrorCode.PERMANENT_FAILURE

    def __init__(
        self,
        message: str,
        info: ErrorInfo | None = None,
        *,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message)
        self.info = info or ErrorInfo(code=code or self.default_code, native_message=message)

    @property
    def code(self) -> ErrorCode:
        return self.info.code


class ConfigError(MessagingError):
    """The caller's configuration or URL is wrong: fix it, do not retry."""

    default_code = ErrorCode.INVALID_ARGUMENT


class UnsupportedFeature(MessagingError):
    """A transport was asked for something it cannot honour; we refuse rather than drop it."""

    default_code = ErrorCode.UNSUPPORTED


class InvalidDestination(MessagingError):
    default_code = ErrorCode.INVALID_DESTINATION


class TemplateError(MessagingError):
    default_code = ErrorCode.INVALID_ARGUMENT


class AuthError(MessagingError):
    """Credentials were refused; reconnecting with the same ones cannot heal it."""

    default_code = ErrorCode.AUTH_FAILED


class TransportError(MessagingError):
    """The link or provider failed as a whole (connect refused, bind lost, ...)."""

    default_code = ErrorCode.NETWORK_ERROR
