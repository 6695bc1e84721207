"""A webhook receiver on a real socket (port 0) for the delivery tests and the benchmark.

It answers as a test tells it to (``mode``): up (200), failing (500), slow (200 after ``delay``), throttling
(429 with ``Retry-After``), gone (410), or down: not listening at all (:meth:`Receiver.down`, and
:meth:`Receiver.up` listens again on the same port). Every request is kept (``requests``); the events it
answered 200 are kept in arrival order with whether their signature verified (``events``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from msgbridge.simulators.http.server import HttpServer, Request, Response
from msgbridge.webhooks.signing import HEADER, InvalidSignature, verify_signature


@dataclass
class Arrival:
    event: dict[str, Any]
    path: str
    verified: bool
    at: float


@dataclass
class Receiver:
    secret: str | None = None
    mode: str = "up"  # up | fail | slow | throttle | gone
    delay: float = 0.5
    retry_after: str = "1"
    script: deque[str] = field(default_factory=deque)  # modes for the next requests, before ``mode``
    requests: list[Request] = field(default_factory=list)
    answered: list[tuple[float, int]] = field(default_factory=list)  # (when, status) of every answer
    events: list[Arrival] = field(default_factory=list)
    server: HttpServer | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        response = await self._answer(request)
        self.answered.append((time.time(), response.status))
        return response

    async def _answer(self, request: Request) -> Response:
        self.requests.append(request)
        mode = self.script.popleft() if self.script else self.mode
        if mode == "fail":
            return Response(500, b'{"error":"receiver broken"}' + b"x" * 4000)
        if mode == "throttle":
            return Response(429, b"slow down", [("Retry-After", self.retry_after)])
        if mode == "gone":
            return Response(410, b"no such hook")
        if mode == "slow":
            await asyncio.sleep(self.delay)
        verified = True
        if self.secret is not None:
            try:
                verify_signature(request.body, request.headers.get(HEADER.lower()), self.secret)
            except InvalidSignature:
                verified = False
        try:
            event = json.loads(request.body) if request.body else {}
        except ValueError:
            event = {}
        self.events.append(Arrival(event, request.path, verified, time.time()))
        self.arrived.set()
        return Response(200, b"ok")

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    async def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up`."""
        assert self.server is not None
        await self.server.close()

    async def up(self) -> None:
        assert self.server is not None
        await self.server.start()

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:  # noqa: ASYNC109 -- a bounded wait
        """Until ``count`` events have arrived (AssertionError after ``timeout``)."""
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()


@asynccontextmanager
async def receiver(secret: str | None = None, **kwargs: Any) -> AsyncIterator[Receiver]:
    """A :class:`Receiver` listening on 127.0.0.1, port 0 (the same port kept across down/up)."""
    r = Receiver(secret=secret, **kwargs)
    server = HttpServer(r)
    await server.start()
    server._port = server.port  # listen again on this port after down()
    r.server = server
    try:
        yield r
    finally:
        await server.close()
