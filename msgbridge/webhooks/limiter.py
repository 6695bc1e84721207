"""Per-origin queues, each drained by at most ``concurrency`` tasks of its own.

A receiver that answers slowly (or not at all, until the timeout) then holds only its own origin's tasks:
its events queue behind them while every other origin's events go out on theirs. A global semaphore would
let one dead receiver's events take every slot; a queue per origin cannot. ``depth`` bounds what one
origin may hold in memory; the caller leaves what does not fit in the store, where it is found again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

T = TypeVar("T")


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url``: what one receiver is, for its limit and its circuit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or {"http": 80, "https": 443}.get(scheme)
    host = (parts.hostname or "").lower()
    return f"{scheme}://{host}:{port}"


class OriginQueues(Generic[T]):
    """``put(origin, item)``; ``handle(origin, item)`` runs for each, at most ``concurrency`` at a time per origin."""

    def __init__(self, handle: Callable[[str, T], Awaitable[None]], *, concurrency: int, depth: int) -> None:
        if concurrency < 1 or depth < 1:
            raise ValueError("concurrency and depth must be >= 1")
        self._handle = handle
        self.concurrency = concurrency
        self.depth = depth
        self._queues: dict[str, deque[T]] = {}
        self._running: dict[str, int] = {}  # tasks draining each origin's queue
        self._held: dict[str, int] = {}  # items queued or being handled, per origin
        self._tasks: set[asyncio.Task[None]] = set()
        self.held = 0  # queued plus being handled, over every origin
        self._idle = asyncio.Event()
        self._idle.set()

    def held_for(self, origin: str) -> int:
        return self._held.get(origin, 0)

    def put(self, origin: str, item: T) -> bool:
        """Queue ``item``; False (nothing queued) when ``origin`` holds ``depth`` items already."""
        if self.held_for(origin) >= self.depth:
            return False
        self._queues.setdefault(origin, deque()).append(item)
        self._held[origin] = self._held.get(origin, 0) + 1
        self.held += 1
        self._idle.clear()
        if self._running.get(origin, 0) < self.concurrency:
            self._running[origin] = self._running.get(origin, 0) + 1
            task = asyncio.get_running_loop().create_task(self._drain(origin))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True

    async def _drain(self, origin: str) -> None:
        queue = self._queues[origin]
        try:
            while queue:
                item = queue.popleft()
                try:
                    await self._handle(origin, item)
                except Exception:
                    log.exception("webhook delivery to %s failed unexpectedly", origin)
                finally:
                    self.held -= 1
                    self._held[origin] -= 1
        finally:
            left = self._running[origin] - 1
            if left:
                self._running[origin] = left
            else:
                del self._running[origin]
                if not queue:
                    del self._queues[origin]
                    self._held.pop(origin, None)
            if self.held == 0:
                self._idle.set()

    async def idle(self) -> None:
        """Until nothing is queued or being handled."""
        await self._idle.wait()

    async def close(self) -> None:
        """Cancel what is running and forget what is queued (the store still holds all of it)."""
        for origin, queue in self._queues.items():
            self.held -= len(queue)
            self._held[origin] -= len(queue)
            queue.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
