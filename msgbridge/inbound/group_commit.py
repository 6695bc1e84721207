"""One store transaction for all the mails whose DATA ends at the same moment.

With a durable store every commit waits for the disk (SQLite ``synchronous
=FULL`` fsyncs each one), and that wait, not SMTP, bounds how many mails per
second the gateway can acknowledge. Sessions that finish DATA while a commit
is running queue their rows; the next commit takes them all at once, so N busy
sessions share one fsync instead of standing in line for N. Each mail still
gets its 250 only after the commit that holds its rows has returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from msgbridge.store.base import OutboxEntry, Store


def _consume(future: asyncio.Future[list[str]]) -> None:
    # A session that hung up no longer awaits its future; mark its error as seen.
    if not future.cancelled():
        future.exception()


class GroupCommit:
    def __init__(self, store: Store, max_rows: int = 1000) -> None:
        self.store = store
        self.max_rows = max_rows
        self.commits = 0
        self._pending: list[tuple[Sequence[OutboxEntry], asyncio.Future[list[str]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def enqueue(self, entries: Sequence[OutboxEntry]) -> list[str]:
        """The message ids for ``entries`` once they are committed; raises what the store raised."""
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._pending.append((entries, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="smtp-gateway-commit")
        # Shielded: a client hanging up must not cancel a commit other mails share.
        return await asyncio.shield(future)

    def _take(self) -> list[tuple[Sequence[OutboxEntry], asyncio.Future[list[str]]]]:
        batch: list[tuple[Sequence[OutboxEntry], asyncio.Future[list[str]]]] = []
        rows = 0
        while self._pending and (not batch or rows + len(self._pending[0][0]) <= self.max_rows):
            item = self._pending.pop(0)
            batch.append(item)
            rows += len(item[0])
        return batch

    async def _flush(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # one more loop turn: sessions whose DATA just ended join this commit
            batch = self._take()
            rows = [entry for entries, _ in batch for entry in entries]
            try:
                ids = await self.store.enqueue(rows)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.commits += 1
            start = 0
            for entries, future in batch:
                if not future.done():
                    future.set_result(ids[start : start + len(entries)])
                start += len(entries)
