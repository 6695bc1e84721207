"""What every HTTP provider shares below the send loop: one client, one deadline, careful retries.

Nothing raises for a failed request: :meth:`HttpClient.call` returns a
:class:`Reply` whose ``error`` is set (how an exchange is read is in
``replies.py``).

Retrying a *send* is dangerous: a request that timed out may have been carried
out, and sending it again would send the SMS twice. So a send is retried only
when the request provably did not take effect (the connection was never made,
HTTP 429, or a provider rate-limit code); after a timeout, and after an HTTP
5xx (a proxy's 502 can come after the provider took the message), the message
is left MAYBE_SUBMITTED for the dispatcher to settle, except for a provider
whose idempotency key makes a repeat harmless (``resend_is_safe``).

Every request has one deadline, ``timeout``, from the first byte written to
the last byte of the body: httpx's own timeouts are per read, so a peer that
drips one byte a second would otherwise hold a send for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx

from msgbridge.adapters.base import LinkHealth, Transport
from msgbridge.adapters.http.payload import IGNORE, UNSUPPORTED_OPTION, failed_result
from msgbridge.adapters.http.replies import Reply, classify_exception, classify_response, deadline_failure
from msgbridge.adapters.linkstate import LinkState, scrubber
from msgbridge.core import options as opt
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import Message, SendResult
from msgbridge.core.options import OptionSet
from msgbridge.core.ratelimit import DEFAULT_MAX_RETRY_WAIT, Backoff, TokenBucket
from msgbridge.core.url import TransportURL

log = logging.getLogger(__name__)

T = TypeVar("T")

# Codes after which a send may be repeated: the provider provably did not act on it.
SAFE_TO_RESEND: frozenset[ErrorCode] = frozenset({ErrorCode.NETWORK_ERROR, ErrorCode.THROTTLED})

# Longest wait slept inside one call; a longer (honoured) wait goes back to the caller, which requeues
# the message for later instead of holding a request slot.
IN_CALL_WAIT = 30.0


# httpcore trace event that says the request started to leave: before it, nothing reached the peer.
REQUEST_WRITE_EVENTS: frozenset[str] = frozenset(
    {"http11.send_request_headers.started", "http2.send_request_headers.started"}
)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items (provider batch limits)."""
    if size <= 0:
        raise ValueError("chunk size must be positive")
    for start in range(0, len(items), size):
        yield items[start : start + size]


HTTP_OPTIONS = OptionSet(
    opt.text(
        "base_url", None, "where requests go; point it at an emulator", shown_default="`https://<host>`"
    ),
    opt.number("timeout", 30.0, 0.01, 3600, "seconds for the whole request, first byte out to last byte in"),
    opt.number(
        "connect_timeout", None, 0.01, 3600, "seconds to connect", shown_default="10 (`timeout` if less)"
    ),
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
    UNSUPPORTED_OPTION,
)


class HttpClient(Transport):
    """The HTTP half of every provider transport: owns (or borrows) one httpx.AsyncClient.

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
        self.ignore_unsupported = o.get_str("unsupported") == IGNORE
        # Requests in flight inside one send() or status poll; providers read their own option.
        self.concurrency = 4
        # How the last requests went, for health(): counted in call() and call_with_retry(), and where
        # the send and status loops read a refusal in an answer (msgbridge.adapters.linkstate).
        self.link_state = LinkState(scrub=scrubber(self.credentials))

    @classmethod
    def from_url(
        cls,
        url: str | TransportURL,
        *,
        client: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
    ) -> HttpClient:
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

    def credentials(self) -> list[str]:
        """Every credential this transport sends (its key or password, private options): what
        ``health()`` text hides, wherever the provider carries it (query, header, body)."""
        url = self.url
        values = [url.secret.reveal()] if url.secret is not None else []
        values += [url.options[name] for name in url.private if url.options.get(name)]
        return values

    def health(self) -> LinkHealth:
        """Requests in flight, up or down, throttled, from how the last requests went (``linkstate.py``)."""
        return self.link_state.health()

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

    async def open(self) -> None:
        """Nothing to connect (connections are made per request); the link counts as open from here."""
        self.link_state.closed = False

    async def aclose(self) -> None:
        self.link_state.closed = True
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
        link = self.link_state
        link.closed = False
        written = asyncio.Event()

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event in REQUEST_WRITE_EVENTS:
                written.set()

        request.extensions = {**request.extensions, "trace": trace}
        try:
            with link.request():
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
            link.outcome(failure, answered=False)
            return Reply(request=request, error=failure)
        data, info = classify_response(response, expect)
        link.outcome(info, answered=response.status_code < 500)
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
                    self.link_state.said(error)
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
            if error.code is ErrorCode.THROTTLED:
                self.link_state.pausing(delay)
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
        """The result for a message whose send request failed (:func:`failed_result`).

        An HTTP 5xx (``reply`` given) leaves it MAYBE_SUBMITTED: none of the
        providers documents a 5xx as "not processed", and a proxy's 502 can
        come after the provider took the message; FAILED instead where
        ``resend_is_safe``.
        """
        server_error = reply is not None and reply.server_error and not cls.resend_is_safe
        return failed_result(message, error, in_doubt=server_error)

    @staticmethod
    async def gather_batches(batches: Sequence[Awaitable[list[T]]], limit: int = 4) -> list[T]:
        """Run batch calls at most ``limit`` at a time; results concatenated in batch order."""
        semaphore = asyncio.Semaphore(limit)

        async def one(awaitable: Awaitable[list[T]]) -> list[T]:
            async with semaphore:
                return await awaitable

        parts = await asyncio.gather(*(one(b) for b in batches))
        return [item for part in parts for item in part]
