"""Whether the API takes new requests, and how many it is still answering.

On SIGTERM ``msgbridge serve`` closes the gate: every new request (but the probes and ``/metrics``,
which a supervisor, a load balancer and a scraper still need) is answered 503 with Retry-After, while the requests
already inside run to their end. :meth:`Gate.idle` is how the server waits for them before the
runtime drains, so a message whose POST is being committed gets its 202 (or its error) and is never
cut off between the commit and the answer.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from msgbridge.core.errors import ErrorCode
from msgbridge.service.http.errors import error_response

ALWAYS_OPEN = frozenset({"/healthz", "/readyz", "/metrics"})  # /readyz says "draining" itself
RETRY_AFTER = "5"  # seconds: another instance, or this one restarted, is expected to answer by then


class Gate:
    def __init__(self) -> None:
        self.draining = False
        self.inside = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def close(self) -> None:
        self.draining = True

    async def idle(self, timeout: float) -> bool:  # noqa: ASYNC109 -- a bounded wait is the point
        """Wait until no request is inside, at most ``timeout`` seconds; whether it came to that."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def enter(self) -> None:
        self.inside += 1
        self._idle.clear()

    def leave(self) -> None:
        self.inside -= 1
        if self.inside == 0:
            self._idle.set()


class GateMiddleware:
    def __init__(self, app: ASGIApp, *, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_OPEN:
            await self.app(scope, receive, send)
            return
        if self.gate.draining:
            response = error_response(
                503, "shutting down; retry on another instance or after the restart",
                code=ErrorCode.TEMPORARY_FAILURE, headers={"Retry-After": RETRY_AFTER, "Connection": "close"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        self.gate.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.leave()
