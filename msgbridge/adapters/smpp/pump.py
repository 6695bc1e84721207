"""One bind's pump: feeds its share of each send() batch through its window until every slot has an outcome.

The transport decides which bind carries which message; the session frames
PDUs and reports answers; the :class:`~msgbridge.adapters.smpp.window.Window`
says how much may be in flight. What is left is here, once per bind: when to
write, when to wait (a full window, a throttle pause, a bind that is down),
when to give up on a bind that stays down (``reconnect_wait``: NETWORK_ERROR,
never sent), the shared tps bucket, and the dispatcher's ``before_write`` hook
that marks exactly what one write carries before it is written.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from msgbridge.adapters.smpp.batch import _SendBatch
from msgbridge.adapters.smpp.session import Session
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.ratelimit import TokenBucket


class BindPump:
    """Writes one bind's queued slots as its window has room; one per submitting session.

    ``hooked`` is the transport's set of send() batches in progress with a
    hook: a marked write reports what all of them had answered since, so the
    dispatcher records accepted messages without waiting for their batch.
    """

    __slots__ = ("bucket", "hooked", "index", "lock", "reconnect_wait", "session")

    def __init__(
        self,
        session: Session,
        index: int,
        bucket: TokenBucket | None,
        reconnect_wait: float,
        hooked: set[_SendBatch],
    ) -> None:
        self.session = session
        self.index = index
        self.bucket = bucket
        self.reconnect_wait = reconnect_wait
        self.hooked = hooked
        # Two send() calls with a hook must not mark the same room.
        self.lock = asyncio.Lock()

    async def run(self, batch: _SendBatch) -> None:
        """Feed this bind's share of ``batch`` until each of its slots has an outcome."""
        session = self.session
        queue = batch.queues[self.index]
        # Without a cap or a hook the session tops its window up from the queue itself, on the response path.
        feed = self.bucket is None and batch.hook is None
        if feed:
            session.add_feed(batch, queue)
        try:
            await self._loop(batch, queue)
        finally:
            if feed:
                session.remove_feed(batch, queue)

    async def _loop(self, batch: _SendBatch, queue: deque[int]) -> None:
        session = self.session
        index = self.index
        bucket = self.bucket
        outstanding = batch.outstanding
        down_since: float | None = None
        while outstanding[index] > 0:
            if session.fatal is not None or session.closing:
                info = (
                    session.fatal.info
                    if session.fatal is not None
                    else ErrorInfo(
                        code=ErrorCode.NETWORK_ERROR, native_message="transport closed before sending"
                    )
                )
                while queue:
                    batch.fail(queue.popleft(), info)
                if outstanding[index] > 0:
                    await session.wait_window(0.1)
                continue
            if not queue:
                await session.wait_window(1.0)
                continue
            if batch.hook is not None and await self._write_marked(batch, queue):
                down_since = None
                continue
            room = 0 if batch.hook is not None else session.room()
            if room > 0:
                down_since = None
                n = min(room, len(queue))
                if bucket is not None:
                    n = await self._tokens(bucket, n, queue)
                    if n <= 0:
                        continue
                session.submit(batch, [queue.popleft() for _ in range(n)])
                continue
            if not session.bound.is_set():
                now = time.monotonic()
                down_since = down_since or now
                if now - down_since > self.reconnect_wait:
                    info = ErrorInfo(
                        code=ErrorCode.NETWORK_ERROR,
                        native_message=f"bind down for {self.reconnect_wait:g}s ({session.last_error}); not sent",
                    )
                    while queue:
                        batch.fail(queue.popleft(), info)
                    continue
                await session.wait_window(0.25)
                continue
            pause = session.pause_left()
            await session.wait_window(pause if pause > 0 else 1.0)

    async def _tokens(self, bucket: TokenBucket, n: int, queue: deque[int]) -> int:
        """Take tps tokens for up to ``n`` PDUs (at most a burst); how many may go once they are taken."""
        n = min(n, max(1, int(bucket.burst)))
        await bucket.acquire(n)
        return min(n, self.session.room(), len(queue))

    async def _write_marked(self, batch: _SendBatch, queue: deque[int]) -> bool:
        """Write what the window has room for, after the hook has marked exactly that; False if nothing was."""
        assert batch.hook is not None
        session = self.session
        bucket = self.bucket
        async with self.lock:
            n = min(session.room(), len(queue))
            if n <= 0:
                return False
            if bucket is not None:
                n = await self._tokens(bucket, n, queue)
                if n <= 0:
                    return False
            slots = [queue.popleft() for _ in range(n)]
            try:
                answered = [r for b in self.hooked for r in b.take_answered()]
                await batch.hook(batch.message_ids_of(slots), answered)
            except Exception as exc:
                # Not marked, so never written: this call's messages end as not sent.
                info = ErrorInfo(code=ErrorCode.TEMPORARY_FAILURE, native_message=f"not sent: {exc}")
                for slot in slots:
                    batch.fail(slot, info)
                while queue:
                    batch.fail(queue.popleft(), info)
                return True
            room = session.room()
            if room < n:  # the link went down while marking: the rest waits for the reconnect
                queue.extendleft(reversed(slots[max(room, 0) :]))
                slots = slots[: max(room, 0)]
            if not slots:
                return False
            session.submit(batch, slots)
            return True
