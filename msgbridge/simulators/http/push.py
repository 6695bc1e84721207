"""What an emulator pushes to a client's callback URL after a send, as its provider documents it.

Each emulator builds its provider's request (Mobizon's signed webhook JSON, SMSC.ru's status handler
call); this module times and delivers them over a real socket: each message's pushes in order, one after
another's delay, a push that is not answered 2xx tried again up to ``retries`` more times, the n-th retry
``interval * n`` seconds after the failure (Mobizon: "each interval 1 minute longer than the last").
``answers`` keeps every answer in arrival order, for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

# One push: given the attempt number (1 for the first try), the request to make.
Build = Callable[[int], httpx.Request]


@dataclass(frozen=True, slots=True)
class Answer:
    """One delivery attempt of a push and how the callback answered (status 0: no answer)."""

    attempt: int
    status: int
    body: str
    request: httpx.Request


class Pusher:
    """Delivers an emulator's pushes to ``url`` (see the module docstring)."""

    def __init__(self, url: str, *, retries: int, interval: float) -> None:
        self.url = url
        self.retries = retries
        self.interval = interval
        self.answers: list[Answer] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def schedule(self, steps: Sequence[tuple[float, Build]]) -> None:
        """Deliver each ``(delay, build)`` in turn, ``delay`` seconds after the previous one was delivered."""
        task = asyncio.get_running_loop().create_task(self._run(list(steps)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, steps: list[tuple[float, Build]]) -> None:
        for delay, build in steps:
            if delay > 0:
                await asyncio.sleep(delay)
            await self.deliver(build)

    async def deliver(self, build: Build) -> bool:
        """One push, retried while it is not answered 2xx; True once it was."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0, trust_env=False)
        for attempt in range(1, self.retries + 2):
            request = build(attempt)
            try:
                response = await self._client.send(request)
                answer = Answer(attempt, response.status_code, response.text, request)
            except httpx.HTTPError as exc:
                answer = Answer(attempt, 0, f"{type(exc).__name__}: {exc}", request)
            self.answers.append(answer)
            if 200 <= answer.status < 300:
                return True
            log.info("push to %s answered %s (attempt %d)", self.url, answer.status or "nothing", attempt)
            if attempt <= self.retries:
                await asyncio.sleep(self.interval * attempt)
        return False

    @property
    def pending(self) -> int:
        """Messages whose pushes are not all delivered (or given up) yet."""
        return len(self._tasks)

    async def wait(self) -> None:
        """Until every scheduled push is delivered or given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop pushing (what is scheduled is dropped) and close the connections."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None
