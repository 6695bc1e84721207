"""Reading one HTTP exchange: a provider's answer, or its failure, as data.

Providers fail in two layers. The HTTP layer (connect refused, timeouts, a
proxy's 502 page, a 429, a body cut short) looks the same for every provider
and is turned into :class:`ErrorInfo` here; the provider layer (a JSON body
that says "error") is each provider payload's own parser. Every JSON body
goes through :func:`parse_json`, which refuses nesting no provider uses
instead of letting the parser recurse until it crashes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from msgbridge.core.errors import ErrorCode, ErrorInfo

# How much of a provider's body we keep in native_message: enough to read, not a whole HTML page.
NATIVE_TEXT_LIMIT = 300

# HTTP status -> ours, for answers a provider did not wrap in its own JSON error.
HTTP_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_ARGUMENT,
    401: ErrorCode.AUTH_FAILED,
    402: ErrorCode.INSUFFICIENT_FUNDS,
    403: ErrorCode.ACCESS_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.PROTOCOL_ERROR,
    408: ErrorCode.TIMEOUT,
    409: ErrorCode.DUPLICATE,
    413: ErrorCode.INVALID_ARGUMENT,
    422: ErrorCode.INVALID_ARGUMENT,
    429: ErrorCode.THROTTLED,
    500: ErrorCode.TEMPORARY_FAILURE,
    502: ErrorCode.TEMPORARY_FAILURE,
    503: ErrorCode.TEMPORARY_FAILURE,
    504: ErrorCode.TIMEOUT,
}

# Statuses that are failures even when the body is well-formed JSON.
HTTP_ALWAYS_ERRORS: frozenset[int] = frozenset({401, 403, 404, 405, 408})


# Deepest JSON nesting accepted. The providers' answers nest four or five levels; a body nested
# deeper is not an answer, and parsing or printing it unchecked would exhaust the stack.
MAX_JSON_DEPTH = 64


def truncate(text: str, limit: int = NATIVE_TEXT_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def http_status_code(status: int) -> ErrorCode:
    if status in HTTP_STATUS:
        return HTTP_STATUS[status]
    if status >= 500:
        return ErrorCode.TEMPORARY_FAILURE
    return ErrorCode.PROTOCOL_ERROR


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date; None when it is neither.

    ``inf`` and ``nan`` are not a wait (RFC 9110 allows digits only); they are ignored rather than
    allowed to turn into a sleep that never ends.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def json_depth_within(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests at most ``limit`` arrays/objects deep; iterative, so it cannot recurse."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(text: str | bytes) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, why)`` when ``text`` is not a JSON answer we can use. Never raises.

    The one JSON parser of every HTTP adapter. Beyond what ``json.loads``
    refuses, it refuses nesting deeper than MAX_JSON_DEPTH (``[`` x 100000
    made the parser raise RecursionError), ``NaN``/``Infinity`` and numbers
    that overflow a float (they would make ``int()`` of a field raise later),
    and integers too long to convert.
    """
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        return None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, our refusals, int digit limit
        return None, f"unparsable JSON ({truncate(str(exc), 80)})"
    if not json_depth_within(value):
        return None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    return value, None


@dataclass(frozen=True)
class Reply:
    """One HTTP exchange: the response if any, the parsed body, or the failure as data.

    ``from_body`` says the error was read from the provider's answer (by a
    ``provider_error`` function), not a failure of the exchange: only then is
    the body the provider's word on each message.
    """

    request: httpx.Request
    response: httpx.Response | None = None
    data: Any = None  # parsed JSON (expect="json") or text (expect="text")
    error: ErrorInfo | None = None
    from_body: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status_code(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    @property
    def exchange_failed(self) -> bool:
        """No usable answer: no response, or one the HTTP layer refuses (429, 5xx, 401...)."""
        return self.error is not None and not self.from_body

    @property
    def server_error(self) -> bool:
        """An HTTP 5xx: from the provider or from a proxy in front of it, after the request arrived."""
        return self.error is not None and not self.from_body and (self.status_code or 0) >= 500


def deadline_failure(seconds: float, written: bool) -> ErrorInfo:
    """The request's overall deadline passed: in doubt if any of it left, else it never did."""
    if written:
        return ErrorInfo(
            code=ErrorCode.TIMEOUT,
            native_code="deadline",
            native_message=f"Timeout: no complete answer within {seconds:g} s",
        )
    return ErrorInfo(
        code=ErrorCode.NETWORK_ERROR,
        native_code="deadline",
        native_message=f"Timeout: no connection within {seconds:g} s; nothing was sent",
    )


def classify_exception(exc: httpx.HTTPError) -> ErrorInfo:
    """Transport-level failures: did the request leave (TIMEOUT, outcome unknown) or not (NETWORK_ERROR)?"""
    name = type(exc).__name__
    text = truncate(f"{name}: {exc}" if str(exc) else name)
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ConnectError):
        return ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_code=name, native_message=text)
    if isinstance(exc, httpx.TimeoutException):
        return ErrorInfo(code=ErrorCode.TIMEOUT, native_code=name, native_message=text)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ErrorInfo(code=ErrorCode.INVALID_ARGUMENT, native_code=name, native_message=text)
    # ReadError, WriteError, RemoteProtocolError...: the connection broke after the
    # request may have been received. No answer seen -> outcome unknown.
    return ErrorInfo(code=ErrorCode.TIMEOUT, native_code=name, native_message=text)


def classify_response(response: httpx.Response, expect: str = "json") -> tuple[Any, ErrorInfo | None]:
    """The parsed body, and the HTTP-level failure if any.

    429, 5xx and the statuses in HTTP_ALWAYS_ERRORS are failures whatever the
    body says (the parsed body is still returned for the adapter to read);
    other 4xx answers with a parseable body are left to the provider's parser,
    since providers put their validation errors there.
    """
    status = response.status_code
    raw = response.content
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    native = truncate(text) or response.reason_phrase
    content_type = response.headers.get("content-type", "").lower()
    looks_html = "html" in content_type or text.lstrip()[:1] == "<"
    data: Any = None
    parse_error: str | None = None
    if expect == "text":
        if looks_html and "<html" in text[:200].lower():
            parse_error = f"HTML page: {native}"
        elif not text.strip():
            parse_error = f"empty body (HTTP {status})"
        else:
            data = text
    elif not raw.strip():
        parse_error = f"empty body (HTTP {status})"
    else:
        data, why = parse_json(text)
        if why is not None:
            parse_error = f"HTML page: {native}" if looks_html else f"{why}: {native}"
    if status == 429:
        return data, ErrorInfo(
            code=ErrorCode.THROTTLED,
            native_code=status,
            native_message=native,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    if status >= 500 or status in HTTP_ALWAYS_ERRORS:
        return data, ErrorInfo(code=http_status_code(status), native_code=status, native_message=native)
    if parse_error is not None:
        code = http_status_code(status) if status >= 400 else ErrorCode.PROTOCOL_ERROR
        return None, ErrorInfo(code=code, native_code=status, native_message=parse_error)
    return data, None
