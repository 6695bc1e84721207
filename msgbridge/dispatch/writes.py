"""What the dispatcher writes to the store while messages are in flight, kept off the send path.

Two promises shape this module (docs/reliability.md):

- a message is MAYBE_SUBMITTED, durably, before its request may be written.
  ``WriteHook`` keeps that promise without making every write wait for a
  commit: while one group is in flight it marks the next few messages of its
  chunk ahead (with the answers not yet recorded, at most one write group over
  all chunks), so the next write usually finds its messages already marked. What was marked ahead and never
  written is queued again when the chunk ends (``WriteHook.finish``); after a
  kill it is in doubt, which is why the lead is bounded;
- answers are recorded soon after they arrive. ``ResultWriter`` records them
  in one task, in the order they were handed over, batching whatever piled up
  during the previous commit, so the transport's pump never waits for a
  results transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from msgbridge.core.message import SendResult
from msgbridge.store.base import Store


class Interrupted(Exception):
    """Raised by the write hook once a stop was requested: the transport writes nothing more."""


class ResultWriter:
    """Records send results in batches, in one task, in the order they were added.

    ``add`` never waits; ``flush`` waits until everything added so far is
    committed and raises the store's error if a commit failed (the run stops
    then: what was not recorded stays MAYBE_SUBMITTED, as after a kill).
    """

    def __init__(self, store: Store, link: str) -> None:
        self.store = store
        self.link = link
        self._pending: list[SendResult] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._committing = 0
        self._added = 0  # results handed over so far
        self._done = 0  # of which committed (or given up on a failed commit)
        self._committed = asyncio.Event()  # set (and replaced) after each commit
        self.error: Exception | None = None
        # Told each batch once it is committed (a service's status events); must not block or raise.
        self.on_results: Callable[[Sequence[SendResult]], None] | None = None

    @property
    def pending(self) -> int:
        """Results handed over and not committed yet."""
        return len(self._pending) + self._committing

    async def drained(self) -> None:
        """Wait until what was handed over so far is committed (or a commit failed); never raises that error.

        Later additions are not waited for: a write that waits for these answers does not wait for the
        ones that arrive meanwhile.
        """
        target = self._added
        while self._done < target and self.error is None and self._task is not None and not self._task.done():
            await self._committed.wait()

    def _pulse(self, n: int) -> None:
        self._done += n
        self._committed.set()
        self._committed = asyncio.Event()

    def add(self, results: Sequence[SendResult]) -> None:
        if not results:
            return
        self._pending.extend(results)
        self._added += len(results)
        if self.error is not None:
            return  # kept: the run is stopping with that error
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="result-writer")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                self._committing = len(batch)
                try:
                    await self.store.record_results(batch, link=self.link)
                except Exception as exc:
                    self._pending[:0] = batch
                    self.error = exc
                    self._idle.set()
                    self._pulse(0)
                    return
                except asyncio.CancelledError:
                    self._pending[:0] = batch  # not known to be committed: the final flush writes it
                    raise
                finally:
                    self._committing = 0
                self._pulse(len(batch))
                if self.on_results is not None:
                    self.on_results(batch)
            self._idle.set()

    def check(self) -> None:
        """Raise the error of a failed commit, once (what it did not record is kept for the next flush)."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    async def flush(self) -> None:
        self.check()
        if self._pending and (self._task is None or self._task.done()):
            self._idle.clear()
            self._wake.set()
            self._task = asyncio.create_task(self._run(), name="result-writer")
        await self._idle.wait()
        self.check()

    async def close(self) -> None:
        """Record what is pending, then stop the task (on an error, what is left is not recorded)."""
        try:
            await self.flush()
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None


class MarkBudget:
    """What every chunk's hook shares: the results writer, early results, and the lead of marks."""

    __slots__ = ("ahead", "group", "recorded", "results", "stopping", "store", "wrote")

    def __init__(self, store: Store, results: ResultWriter, stopping: Callable[[], bool]) -> None:
        self.store = store
        self.results = results
        self.recorded: set[str] = set()  # results handed over early by a write hook, until their chunk ends
        self.stopping = stopping
        self.group = 0  # the largest write group seen: a window's room
        self.ahead = 0  # messages marked ahead and not written yet, over all chunks
        # Set as a group is let through: what else must hold the event loop is best done right after a write.
        self.wrote = asyncio.Event()

    def room(self) -> int:
        """How many more may be marked ahead now.

        Marked ahead plus answered-but-not-recorded stays within one write
        group, so after a kill at most the windows in flight plus one group
        are in doubt (docs/reliability.md).
        """
        return self.group - self.ahead - self.results.pending


class WriteHook:
    """One chunk's ``BeforeWrite``: every message it lets be written is marked in doubt first.

    ``written`` is what may have been written (and so is MAYBE_SUBMITTED
    until its result is recorded). ``marked`` also holds what was marked
    ahead. Answers the transport hands over early, for this chunk or another
    one in flight, go to the results writer and are noted in ``recorded``, so
    their chunk does not record them twice. ``all_written`` is set once every
    message of the chunk was let through (or the chunk ended): the next chunk
    starts writing then, so writes come in the order marks were made ahead.
    """

    __slots__ = (
        "_ahead",
        "_marking",
        "all_written",
        "lookahead",
        "marked",
        "order",
        "pos",
        "shared",
        "written",
    )

    def __init__(self, shared: MarkBudget, order: Sequence[str], *, lookahead: bool = True) -> None:
        self.shared = shared
        self.order = order  # the chunk's messages in the order the transport writes them
        # Only for a transport that says when it writes (writes_in_groups); another one marks each request.
        self.lookahead = lookahead
        self.pos = 0
        self.marked: set[str] = set()
        self.written: set[str] = set()
        self.all_written = asyncio.Event()
        self._ahead: asyncio.Task[None] | None = None
        self._marking = False  # the task in _ahead has begun its commit (else it waits for answers)

    def start(self) -> None:
        """Mark the first messages ahead while the previous chunk's last groups are in flight."""
        self._mark_ahead()

    async def __call__(self, message_ids: Sequence[str], answered: Sequence[SendResult] = ()) -> None:
        s = self.shared
        if answered:
            s.results.add(answered)
            s.recorded.update(r.message_id for r in answered)
            s.results.check()
        if s.stopping():
            raise Interrupted("stop requested: not written")
        written, marked = self.written, self.marked
        new = [i for i in message_ids if i not in written]
        if not new:
            return
        s.group = max(s.group, len(new))
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            if self._marking:
                await ahead
            else:
                # Still waiting for answers to be recorded: this group is marked now instead, not later.
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ahead
        unmarked = [i for i in new if i not in marked]
        consumed = len(new) - len(unmarked)
        if s.results.pending + s.ahead - consumed > s.group:
            # More answers waiting to be recorded than this write takes from the marks made ahead: recorded
            # first, so what is in doubt beyond the windows in flight stays within one group.
            await s.results.drained()
        if unmarked:
            await s.store.mark_in_doubt(unmarked)
            marked.update(unmarked)
        s.ahead -= consumed
        written.update(new)
        if len(written) >= len(self.order):
            self.all_written.set()
        s.wrote.set()
        self._mark_ahead()

    def _mark_ahead(self) -> None:
        """While this group is in flight, mark the next ones, once the lead is down to half a group."""
        s = self.shared
        if (
            self.lookahead
            and self._ahead is None
            and self.pos < len(self.order)
            and s.ahead <= s.group // 2
            and not s.stopping()
        ):
            self._ahead = asyncio.create_task(self._mark_next(), name="mark-ahead")

    async def _mark_next(self) -> None:
        s = self.shared
        # Answers first: marking more while they wait would let in doubt grow past one group.
        await s.results.drained()
        want = s.room()
        if want <= 0 or s.stopping():
            return
        order, marked, pos = self.order, self.marked, self.pos
        nxt: list[str] = []
        while pos < len(order) and len(nxt) < want:
            mid = order[pos]
            pos += 1
            if mid not in marked:
                nxt.append(mid)
        self.pos = pos
        if not nxt:
            return
        s.ahead += len(nxt)
        self._marking = True
        try:
            await s.store.mark_in_doubt(nxt)
        except BaseException:
            s.ahead -= len(nxt)  # not marked: each is marked when it is written
            self.pos = min(self.pos, order.index(nxt[0]))
            raise
        finally:
            self._marking = False
        marked.update(nxt)

    async def finish(self) -> list[str]:
        """The chunk is done: the messages marked ahead and never written (to be queued again)."""
        self.all_written.set()
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            with contextlib.suppress(Exception):
                await ahead
        unwritten = [i for i in self.marked if i not in self.written]
        self.shared.ahead -= len(unwritten)
        return unwritten
