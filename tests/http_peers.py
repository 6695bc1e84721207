"""Misbehaving HTTP peers on real sockets (port 0), and the four providers described once for tests.

- ``Misbehaving`` wraps a provider emulator and answers chosen requests its
  own way: after carrying the request out (a proxy's 502 after the provider
  took the message) or instead of it (a 429, a reply nested 100,000 deep).
- ``Held`` wraps a provider emulator and keeps the requests to one endpoint
  waiting until the test lets them go, so they are in flight for as long as
  the test looks.
- ``DripPeer`` is a raw TCP server that answers one byte at a time, in the
  headers or in the body, so a client whose timeouts are per read never times
  out.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from msgbridge.simulators.http import bsg, mobizon, selzy, smsc
from msgbridge.simulators.http.server import BAD_GATEWAY_PAGE, Emulator, Request, Response, text_response


@dataclass(frozen=True)
class Provider:
    """What a test needs to know to talk to one provider through its emulator."""

    name: str
    create: Callable[[], Emulator]
    credentials: str
    host: str
    send_endpoint: str  # as counted in Emulator.requests
    taken: Callable[[Any], int]  # messages the emulator has carried out
    error_body: bytes  # the provider's own JSON error shape
    native_id: str  # a native message id as the adapter makes them, for status()
    options: str = ""

    def url(self, base_url: str, extra: str = "") -> str:
        query = f"base_url={base_url}&retry_base=0.001&sender=Shop{self.options}"
        return f"{self.name}://{self.credentials}@{self.host}?{query}" + (f"&{extra}" if extra else "")


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            "selzy",
            lambda: selzy.create_emulator(),
            "test-key",
            "api.selzy.com",
            "sendSms",
            lambda e: len(e.sms),
            b'{"error":"slow down","code":"invalid_arg","result":""}',
            "1001",
        ),
        Provider(
            "bsg",
            lambda: bsg.create_emulator(),
            "test-key",
            "one-api.bsg.world",
            "POST /api/campaigns/sms/send",
            lambda e: len(e.messages),
            b'{"message":"slow down","errors":{"phones":["slow down"]}}',
            "5/abc",
        ),
        Provider(
            "smsc",
            lambda: smsc.create_emulator(),
            "user:secret",
            "smsc.ru",
            "send",
            lambda e: len(e.sent),
            b'{"error":"slow down","error_code":1}',
            "1001:77011000000",
        ),
        Provider(
            "mobizon",
            lambda: mobizon.create_emulator(),
            "test-key",
            "api.mobizon.kz",
            "message/sendsmsmessage",
            lambda e: len(e.messages),
            b'{"code":1,"data":"","message":"slow down"}',
            "1001",
        ),
    )
}

NESTED_JSON = b"[" * 100_000


def bad_gateway() -> Response:
    return text_response(BAD_GATEWAY_PAGE, 502, "text/html")


def server_error_json() -> Response:
    return Response(500, b'{"error":"internal"}', [("Content-Type", "application/json")])


def nested() -> Response:
    return Response(200, NESTED_JSON, [("Content-Type", "application/json")])


@dataclass
class Answer:
    """One scripted answer: ``response()`` after the emulator carried the request out, or instead of it."""

    response: Callable[[], Response]
    after_taking: bool = False


@dataclass
class Misbehaving:
    """An App: the emulator, except for the scripted answers queued per endpoint (``script``)."""

    emulator: Emulator
    script: dict[str, deque[Answer]] = field(default_factory=dict)
    always: dict[str, Answer] = field(default_factory=dict)

    def next(self, endpoint: str, *answers: Answer) -> None:
        self.script.setdefault(endpoint, deque()).extend(answers)

    async def handle(self, request: Request) -> Response:
        endpoint = self.emulator.endpoint(request)
        queued = self.script.get(endpoint)
        answer = queued.popleft() if queued else self.always.get(endpoint)
        if answer is None:
            return await self.emulator.handle(request)
        if answer.after_taking:
            await self.emulator.handle(request)
        else:
            self.emulator.requests[endpoint] += 1
        return answer.response()


@dataclass
class Held:
    """An App: the emulator, with requests to ``endpoint`` held (unanswered) until ``release`` is set.

    ``holding`` counts the requests waiting now.
    """

    emulator: Emulator
    endpoint: str
    release: asyncio.Event = field(default_factory=asyncio.Event)
    holding: int = 0

    async def handle(self, request: Request) -> Response:
        if self.emulator.endpoint(request) == self.endpoint:
            self.holding += 1
            try:
                await self.release.wait()
            finally:
                self.holding -= 1
        return await self.emulator.handle(request)


def _head(length: int) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % length
    )


class DripPeer:
    """Answers every request with ``head`` + ``body``, one byte every ``pause`` seconds from ``drip_from``.

    ``drip_from="headers"`` drips the status line on; ``"body"`` sends the
    headers at once and drips the body. ``quick`` maps paths answered at once
    with a JSON body (a login before the dripping call). ``requests`` counts
    the other requests read, ``arrived`` is set by the first.
    """

    def __init__(
        self,
        *,
        drip_from: str,
        pause: float = 0.2,
        body: bytes = b"[" * 400,
        quick: dict[str, bytes] | None = None,
    ) -> None:
        self.drip_from = drip_from
        self.pause = pause
        self.body = body
        self.quick = dict(quick or {})
        self.requests = 0
        self.arrived = asyncio.Event()  # set when a dripped request has been read
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            path = head.split(b" ", 2)[1].split(b"?")[0].decode()
            if path in self.quick:
                writer.write(_head(len(self.quick[path])) + self.quick[path])
                await writer.drain()
                return
            self.requests += 1
            self.arrived.set()
            headers = _head(len(self.body))
            if self.drip_from == "body":
                writer.write(headers)
                await writer.drain()
                slow = self.body
            else:
                slow = headers + self.body
            for i in range(len(slow)):
                writer.write(slow[i : i + 1])
                await writer.drain()
                await asyncio.sleep(self.pause)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[DripPeer]:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
