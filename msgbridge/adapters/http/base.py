"""What every HTTP provider adapter shares: one client, failures as data, careful retries.

Providers fail in two layers. The HTTP layer (connect refused, timeouts, a
proxy's 502 page, a 429, a body cut short) looks the same for every provider
and is turned into :class:`ErrorInfo` here; the provider layer (a JSON body
that says "error") is each adapter's own parse function. Nothing raises for a
failed request: :meth:`HttpTransport.call` returns a :class:`Reply` whose
``error`` is set.

Retrying a *send* is dangerous: a request that timed out may have been carried
out, and sending it again would send the SMS twice. So a send is retried only
when the request provably did not take effect (the connection was never made,
HTTP 429, or a provider rate-limit code); after a timeout, and after an HTTP
5xx (a proxy's 502 can come after the provider took the message), the message
is left MAYBE_SUBMITTED for the dispatcher to settle, except for a provider
whose idempotency key makes a repeat harmless (``resend_is_safe``).

Every request has one deadline, ``timeout``, from the first byte written to
the last byte of the body: httpx's own timeouts are per read, so a peer that
drips one byte a second would otherwise hold a send for ever. Every JSON body
goes through :func:`parse_json`, which refuses nesting no provider uses
instead of letting the parser recurse until it crashes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx

from msgbridge.adapters.base import Transport
from msgbridge.core import options as opt
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import Message, SendResult
from msgbridge.core.options import OptionSet
from msgbridge.core.ratelimit import DEFAULT_MAX_RETRY_WAIT, Backoff, TokenBucket
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import TransportURL

log = logging.getLogger(__name__)

T = TypeVar("T")

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

# Codes after which a send may be repeated: the provider provably did not act on it.
SAFE_TO_RESEND: frozenset[ErrorCode] = frozenset({ErrorCode.NETWORK_ERROR, ErrorCode.THROTTLED})

# Longest wait slept inside one call; a longer (honoured) wait goes back to the caller, which requeues
# the message for later instead of holding a request slot.
IN_CALL_WAIT = 30.0

# Deepest JSON nesting accepted. The providers' answers nest four or five levels; a body nested
# deeper is not an answer, and parsing or printing it unchecked would exhaust the stack.
MAX_JSON_DEPTH = 64

# httpcore trace event that says the request started to leave: before it, nothing reached the peer.
REQUEST_WRITE_EVENTS: frozenset[str] = frozenset(
    {"http11.send_request_headers.started", "http2.send_request_headers.started"}
)


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


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items (provider batch limits)."""
    if size <= 0:
        raise ValueError("chunk size must be positive")
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


HTTP_OPTIONS = OptionSet(
    opt.text("base_url", None, "where requests go; point it at an emulator", shown_default="`https://<host>`"),
    opt.number("timeout", 30.0, 0.01, 3600, "seconds for the whole request, first byte out to last byte in"),
    opt.number("connect_timeout", None, 0.01, 3600, "seconds to connect", shown_default="10 (`timeout` if less)"),
    opt.integer("connections", 10, 1, 1000, "connection pool size"),
    opt.integer("attempts", 3, 1, 100, "tries for a call that is safe to repeat"),
    opt.number("retry_base", 0.5, 0.001, 60, "first backoff delay (exponential, full jitter, cap 30 s)"),
    opt.number(
        "max_retry_wait",
        DEFAULT_MAX_RETRY_WAIT,
        0,
        86_400,
        "longest wait a provider may ask for (Retry-After); a longer one ends the message THROTTLED",
    ),
    opt.number(
        "rate",
        None,
        0,
        100_000,
        "requests per second cap on our side; `rate=0` for none",
        shown_default="provider's published limit (Selzy 20), else none",
    ),
)


class HttpTransport(Transport):
    """Base for provider adapters: owns (or borrows) one httpx.AsyncClient.

    URL options shared by all providers are declared once in HTTP_OPTIONS;
    each provider adds its own (``declared_options = HTTP_OPTIONS + OptionSet(...)``).
    ``timeout`` is one deadline for the whole request, first byte out to last
    byte in; ``max_retry_wait`` is the longest wait a provider may ask for (a
    longer Retry-After ends the message THROTTLED instead of waiting; waits up
    to IN_CALL_WAIT are slept inside the call, longer ones by the dispatcher).
    """

    default_host: ClassVar[str] = ""
    user_is_secret: ClassVar[bool] = True
    # Requests per second we allow ourselves when the URL says nothing (a provider's published limit).
    default_rate: ClassVar[float] = 0.0
    # True only where the provider refuses a repeated send (an idempotency key it enforces), so a send
    # that may have been taken (HTTP 5xx) can be sent again: the repeat is refused as a duplicate and
    # settled by lookup. Elsewhere a 5xx on a send leaves the message MAYBE_SUBMITTED.
    resend_is_safe: ClassVar[bool] = False
    declared_options = HTTP_OPTIONS

    def __init__(
        self,
        url: TransportURL,
        *,
        client: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(url)
        o = self.settings
        self.base_url = self._base_url(url)
        self.timeout = o.get_float("timeout")
        connect = o.maybe_float("connect_timeout")
        self.connect_timeout = connect if connect is not None else min(10.0, self.timeout)
        self.connections = o.get_int("connections")
        self.attempts = o.get_int("attempts")
        self.max_retry_wait = o.get_float("max_retry_wait")
        self.backoff = backoff or Backoff(base=o.get_float("retry_base"), cap=30.0)
        given_rate = o.maybe_float("rate")
        rate = given_rate if given_rate is not None else self.default_rate
        self.bucket: TokenBucket | None = TokenBucket(rate) if rate > 0 else None
        self._client = client
        self._owns_client = client is None
        self.requests_made = 0

    @classmethod
    def from_url(
        cls,
        url: str | TransportURL,
        *,
        client: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
    ) -> HttpTransport:
        parsed = (
            url
            if isinstance(url, TransportURL)
            else TransportURL.parse(url, user_is_secret=cls.user_is_secret)
        )
        return cls(parsed, client=client, backoff=backoff)

    def _base_url(self, url: TransportURL) -> str:
        explicit = self.settings.get_text("base_url")
        if explicit:
            parts = urlsplit(explicit)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"base_url={explicit!r} is not an http(s) URL")
            return explicit.rstrip("/")
        host = url.host or self.default_host
        if not host:
            raise ConfigError(f"{url.scheme}:// URL needs a host")
        port = f":{url.port}" if url.port else ""
        return f"https://{host}{port}"

    @property
    def link(self) -> str:
        return f"{self.url.scheme}://{urlsplit(self.base_url).netloc}"

    def api_key(self) -> str:
        if self.url.secret is None or not self.url.secret:
            raise ConfigError(f"{self.url.scheme}:// URL needs an API key: {self.url.scheme}://KEY@host")
        return self.url.secret.reveal()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            local = urlsplit(self.base_url).hostname in ("127.0.0.1", "localhost", "::1")
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                limits=httpx.Limits(
                    max_connections=self.connections, max_keepalive_connections=self.connections
                ),
                http2=False,
                trust_env=not local,  # a proxy from the environment must not swallow loopback emulators
                headers={"User-Agent": "msgbridge"},
            )
            self._owns_client = True
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ one request

    async def call(self, request: httpx.Request, *, expect: str = "json") -> Reply:
        """Send one request; every failure comes back as ``Reply.error``. Never logs bodies or headers.

        The whole exchange, body included, must end within ``timeout``: past
        it the request is abandoned as TIMEOUT when any of it was written
        (the peer may act on it) or NETWORK_ERROR when none was (still
        waiting for a connection: safe to send again).
        """
        if self.bucket is not None:
            await self.bucket.acquire()
        self.requests_made += 1
        written = asyncio.Event()

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event in REQUEST_WRITE_EVENTS:
                written.set()

        request.extensions = {**request.extensions, "trace": trace}
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.send(request)
        except (httpx.HTTPError, TimeoutError) as exc:
            failure = (
                deadline_failure(self.timeout, written.is_set())
                if isinstance(exc, TimeoutError)
                else classify_exception(exc)
            )
            log.warning(
                "%s %s %s failed: %s",
                self.scheme,
                request.method,
                request.url.path,
                failure,
                extra={"transport": self.scheme, "error_code": failure.code.value},
            )
            return Reply(request=request, error=failure)
        data, info = classify_response(response, expect)
        if info is not None:
            log.warning(
                "%s %s %s -> HTTP %s: %s",
                self.scheme,
                request.method,
                request.url.path,
                response.status_code,
                info.code.value,
                extra={"transport": self.scheme, "error_code": info.code.value},
            )
        else:
            log.debug(
                "%s %s %s -> HTTP %s", self.scheme, request.method, request.url.path, response.status_code
            )
        return Reply(request=request, response=response, data=data, error=info)

    # ------------------------------------------------------------------ retries

    async def call_with_retry(
        self,
        build: Callable[[], httpx.Request],
        *,
        send: bool,
        expect: str = "json",
        provider_error: Callable[[Any], ErrorInfo | None] | None = None,
        on_auth_failure: Callable[[], Awaitable[bool]] | None = None,
        refusals_undone: bool = False,
    ) -> Reply:
        """Call ``build()`` until it works, a non-retryable error comes, or attempts run out.

        ``provider_error`` extracts the provider's own error from a parsed
        body, so its rate-limit codes are retried like HTTP 429. ``send=True``
        restricts retries to failures where the request provably did not take
        effect. ``refusals_undone=True`` says that for this provider an
        explicit error answer means the call was not carried out (Selzy: an
        answer with ``error`` has no ``result``), so a retryable refusal such
        as "retry later" may be sent again. ``on_auth_failure`` (e.g. refresh a
        bearer token) is awaited once on AUTH_FAILED; when it returns True the
        call is repeated.
        """
        reauthed = False
        attempt = 0
        while True:
            attempt += 1
            reply = await self.call(build(), expect=expect)
            error: ErrorInfo | None = reply.error
            refused = False
            if error is None and provider_error is not None and reply.data is not None:
                error = provider_error(reply.data)
                refused = error is not None and error.code is not ErrorCode.PROTOCOL_ERROR
                if error is not None:
                    reply = Reply(
                        request=reply.request,
                        response=reply.response,
                        data=reply.data,
                        error=error,
                        from_body=True,
                    )
            if error is None:
                return reply
            if error.code is ErrorCode.AUTH_FAILED and on_auth_failure is not None and not reauthed:
                reauthed = True
                if await on_auth_failure():
                    attempt -= 1
                    continue
            if not error.retryable or attempt >= self.attempts:
                return reply
            if send and error.code not in SAFE_TO_RESEND and not (refused and refusals_undone):
                return reply
            delay = self.backoff.delay_within(attempt, error.retry_after, self.max_retry_wait)
            if delay is None or delay > IN_CALL_WAIT:
                return reply  # too long to wait here: the caller decides (requeue, or give up and say so)
            log.info(
                "%s retrying %s after %s in %.2fs (attempt %d/%d)",
                self.scheme,
                reply.request.url.path,
                error.code.value,
                delay,
                attempt + 1,
                self.attempts,
            )
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------ helpers for adapters

    @classmethod
    def failed(cls, message: Message, error: ErrorInfo, reply: Reply | None = None) -> SendResult:
        """The result for a message whose send request failed.

        MAYBE_SUBMITTED when the outcome is unknown: no answer at all, a 2xx
        answer we could not read (the provider said "OK" in some form, so the
        message may well be on its way), or an HTTP 5xx (``reply`` given):
        none of the providers documents a 5xx as "not processed", and a
        proxy's 502 can come after the provider took the message, so sending
        it again could send it twice; the dispatcher never resends
        MAYBE_SUBMITTED on its own. FAILED otherwise (the dispatcher retries it
        when the code is retryable), and for a 5xx where ``resend_is_safe``.
        """
        unreadable_ok = (
            error.code is ErrorCode.PROTOCOL_ERROR
            and isinstance(error.native_code, int)
            and 200 <= error.native_code < 300
        )
        server_error = reply is not None and reply.server_error and not cls.resend_is_safe
        in_doubt = error.code.outcome_unknown or unreadable_ok or server_error
        status = DeliveryStatus.MAYBE_SUBMITTED if in_doubt else DeliveryStatus.FAILED
        return SendResult(message_id=message.id, status=status, error=error)

    @staticmethod
    async def gather_batches(batches: Sequence[Awaitable[list[T]]], limit: int = 4) -> list[T]:
        """Run batch calls at most ``limit`` at a time; results concatenated in batch order."""
        semaphore = asyncio.Semaphore(limit)

        async def one(awaitable: Awaitable[list[T]]) -> list[T]:
            async with semaphore:
                return await awaitable

        parts = await asyncio.gather(*(one(b) for b in batches))
        return [item for part in parts for item in part]
