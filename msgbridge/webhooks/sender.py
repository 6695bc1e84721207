"""One callback request on the wire: one deadline, at most 1 KB of the answer read, no redirects followed.

The addresses a host name resolves to are checked when the connection is made (:class:`CheckedBackend`),
and the connection goes to the address that was checked. A name checked when the URL was accepted can
resolve elsewhere by the time an event is delivered (DNS rebinding); checking at connect time, on the
address actually used, is the only check an attacker's DNS cannot outrun. Environment proxies are not used
for the same reason: a proxy would resolve the name itself.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx

from msgbridge.adapters.http.replies import parse_retry_after
from msgbridge.webhooks.formats import CallbackRequest
from msgbridge.webhooks.policy import RETRY_AFTER_STATUSES

BODY_LIMIT = 1024  # bytes of a receiver's answer kept (last_error), and read at all
DEFAULT_TIMEOUT = 10.0

# An address -> why a callback may not connect to it, or None.
AddressCheck = Callable[[str], str | None]


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses ``refuse`` has nothing against."""

    def __init__(self, refuse: AddressCheck | None) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._refuse = refuse

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._refuse is None:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            async with asyncio.timeout(timeout):
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:  # one refused address refuses the name: the attacker picks which is used
            why = self._refuse(address)
            if why is not None:
                raise httpcore.ConnectError(f"{host} resolves to {address}: {why}")
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host} resolves to no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("callbacks go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool whose connections :class:`CheckedBackend` makes.

    httpx takes no network backend of its own, so the pool it builds is replaced by the same pool with one.
    """

    def __init__(self, refuse: AddressCheck | None, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(refuse),
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """What one request came to: the receiver's status and the start of its body, or why there was none."""

    status: int | None  # None: no answer (connection refused, timeout, broken connection)
    body: str = ""  # at most BODY_LIMIT bytes of it, decoded leniently
    retry_after: float | None = None  # seconds, from Retry-After on a 429/503
    error: str | None = None  # what went wrong when there was no answer

    def describe(self) -> str:
        """``last_error`` as the store keeps it: ``HTTP 500: <body>`` or the failure itself."""
        if self.status is None:
            return self.error or "no answer"
        return f"HTTP {self.status}: {self.body}" if self.body else f"HTTP {self.status}"


class Sender:
    """An httpx client for callbacks: ``await sender.send(request)`` -> :class:`Answer`, never raising."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        refuse: AddressCheck | None = None,
        connections: int = 1000,
    ) -> None:
        self.timeout = timeout
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = httpx.AsyncClient(
            transport=_CheckedTransport(refuse, limits),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
        )

    async def send(self, request: CallbackRequest) -> Answer:
        """One request, first byte out to the last byte read within ``timeout``."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(request)
        except TimeoutError:
            return Answer(None, error=f"Timeout: no answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            name = type(exc).__name__
            return Answer(None, error=f"{name}: {exc}" if str(exc) else name)

    async def _exchange(self, request: CallbackRequest) -> Answer:
        built = self._client.build_request(
            request.method, request.url, headers=request.headers, content=request.body
        )
        response = await self._client.send(built, stream=True)
        try:
            kept = bytearray()
            async for chunk in response.aiter_bytes():
                kept += chunk
                if len(kept) >= BODY_LIMIT:
                    break
        finally:
            await response.aclose()
        retry = response.headers.get("retry-after") if response.status_code in RETRY_AFTER_STATUSES else None
        text = bytes(kept[:BODY_LIMIT]).decode("utf-8", "replace").strip()
        return Answer(response.status_code, text, parse_retry_after(retry))

    async def aclose(self) -> None:
        await self._client.aclose()
