"""The dispatcher's pipeline: sending while more is still being queued (``send_pending(producing=...)``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "p.db") as s:
        yield s


async def enqueue(store: SqliteStore, start: int, n: int) -> None:
    entries = []
    for i in range(start, start + n):
        msg = Message(to=f"+7701{i:07d}", text="hello", campaign="c")
        entries.append(OutboxEntry(message=msg, idempotency_key=f"c:{msg.to}"))
    await store.enqueue(entries)


async def test_while_producing_idle_workers_wait_and_claim_what_is_queued_later(store: SqliteStore) -> None:
    await enqueue(store, 0, 20)
    producing = asyncio.Event()
    async with open_transport("memory://?dlr=no") as t:
        d = Dispatcher(store, t, concurrency=2)
        sending = asyncio.create_task(d.send_pending("c", producing=producing))
        for _ in range(200):  # the first 20 go out; the workers then wait instead of finishing
            await asyncio.sleep(0.01)
            if (await store.counts("c")).get(S.SUBMITTED) == 20:
                break
        assert not sending.done()
        await enqueue(store, 20, 30)
        await asyncio.sleep(0.2)
        assert not sending.done()
        producing.set()
        stats = await asyncio.wait_for(sending, 10)
    assert stats.submitted == 50
    assert await store.counts("c") == {S.SUBMITTED: 50}


async def test_without_producing_the_run_ends_when_nothing_is_due(store: SqliteStore) -> None:
    await enqueue(store, 0, 5)
    async with open_transport("memory://?dlr=no") as t:
        stats = await asyncio.wait_for(Dispatcher(store, t).send_pending("c"), 10)
    assert stats.submitted == 5


async def test_a_lone_worker_claims_ahead_and_a_stop_gives_that_chunk_back(store: SqliteStore) -> None:
    await enqueue(store, 0, 300)
    async with open_transport("memory://?dlr=no&latency_ms=20&max_batch=50") as t:
        d = Dispatcher(store, t, concurrency=1, batch_size=50)
        sending = asyncio.create_task(d.send_pending("c"))
        for _ in range(500):
            if d.stats.submitted >= 50:
                break
            await asyncio.sleep(0.005)
        d.request_stop()
        first = await asyncio.wait_for(sending, 10)
        assert first.submitted < 300
        # What the first run claimed ahead and never sent is free again: a second run sends all the rest.
        second = await asyncio.wait_for(Dispatcher(store, t, concurrency=1).send_pending("c"), 20)
    assert first.submitted + second.submitted == 300
    assert await store.counts("c") == {S.SUBMITTED: 300}
