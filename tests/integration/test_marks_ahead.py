"""Marks made ahead of the write over smpp:// (``dispatch/writes.py``): the in-doubt promise still holds.

Against ``msgbridge sim smsc`` answering after 20 ms, so a window's worth is
always in flight: at any moment at most the window plus one write group is
MAYBE_SUBMITTED (docs/reliability.md), and a stop leaves nothing in doubt,
what was marked ahead and never written included.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.smsc.process import SimulatorProcess
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

WINDOW = 10


@pytest.fixture
def sim() -> Iterator[SimulatorProcess]:
    process = SimulatorProcess("--users", "u:p", "--latency-ms", "20", "--no-record")
    try:
        yield process
    finally:
        process.stop(signal.SIGTERM)


async def queue(store: SqliteStore, n: int) -> None:
    await store.enqueue(
        [
            OutboxEntry(
                message=Message(to=f"+7701{i:07d}", text="hi", campaign="c"), idempotency_key=f"c:{i}"
            )
            for i in range(n)
        ]
    )


async def test_in_doubt_stays_within_the_window_plus_one_group(sim: SimulatorProcess, tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        await queue(store, 400)
        marks: list[int] = []
        mark = store.mark_in_doubt

        async def counted(ids: list[str]) -> None:
            marks.append(len(ids))
            await mark(ids)

        store.mark_in_doubt = counted  # type: ignore[method-assign]
        seen: list[int] = []
        async with open_transport(f"smpp://u:p@127.0.0.1:{sim.port}?window={WINDOW}&dlr=0") as t:
            d = Dispatcher(store, t, concurrency=2, batch_size=50)
            sending = asyncio.create_task(d.send_pending("c"))
            while not sending.done():
                seen.append((await store.counts("c")).get(S.MAYBE_SUBMITTED, 0))
                await asyncio.sleep(0.003)
            stats = await sending
        assert stats.submitted == 400
        assert await store.counts("c") == {S.SUBMITTED: 400}
    assert max(seen) <= WINDOW + WINDOW, seen
    assert max(seen) > 0
    assert sum(marks) == 400  # every message marked once, ahead or at its write


async def test_a_stop_leaves_nothing_in_doubt_marked_ahead_included(
    sim: SimulatorProcess, tmp_path: Path
) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        await queue(store, 400)
        async with open_transport(f"smpp://u:p@127.0.0.1:{sim.port}?window={WINDOW}&dlr=0") as t:
            d = Dispatcher(store, t, concurrency=2, batch_size=50)
            sending = asyncio.create_task(d.send_pending("c"))
            for _ in range(3000):
                if (await store.counts("c")).get(S.SUBMITTED, 0) >= 60:
                    break
                await asyncio.sleep(0.005)
            d.request_stop()
            stats = await asyncio.wait_for(sending, 15)
        counts = await store.counts("c")
    accepted = sim.counters()["submit_sm_ok"]
    assert S.MAYBE_SUBMITTED not in counts, counts
    assert counts.get(S.SUBMITTED, 0) == stats.submitted == accepted  # what was written was recorded
    assert counts.get(S.QUEUED, 0) == 400 - accepted > 0
