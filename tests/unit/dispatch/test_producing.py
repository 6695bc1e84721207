"""``send_pending(producing=...)``: workers keep claiming while a campaign is still being queued."""

from __future__ import annotations

import asyncio
from pathlib import Path

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore


def entries(start: int, n: int) -> list[OutboxEntry]:
    out = []
    for i in range(start, start + n):
        msg = Message(to=f"+7701{i:07d}", text="hello", campaign="c")
        out.append(OutboxEntry(message=msg, idempotency_key=f"c:{msg.to}", row=i + 2))
    return out


async def test_workers_wait_for_what_is_still_being_queued_and_finish_once_it_is_done(tmp_path: Path) -> None:
    transport = open_transport("memory://?dlr=no")
    assert isinstance(transport, MemoryTransport)
    async with SqliteStore(tmp_path / "s.db") as store, transport:
        producing = asyncio.Event()
        dispatcher = Dispatcher(store, transport, concurrency=2)
        sending = asyncio.create_task(dispatcher.send_pending("c", producing=producing))
        for chunk in range(3):  # queued while the workers run, with nothing due in between
            await store.enqueue(entries(chunk * 10, 10))
            while len(transport.accepted) < (chunk + 1) * 10:
                assert not sending.done(), "the workers finished while more was being queued"
                await asyncio.sleep(0.01)
        assert not sending.done()
        producing.set()
        stats = await asyncio.wait_for(sending, 30)
        assert stats.submitted == 30
        assert await store.counts("c") == {S.SUBMITTED: 30}


async def test_without_producing_an_empty_outbox_ends_at_once(tmp_path: Path) -> None:
    transport = open_transport("memory://?dlr=no")
    async with SqliteStore(tmp_path / "s.db") as store, transport:
        stats = await asyncio.wait_for(Dispatcher(store, transport).send_pending("c"), 30)
    assert stats.claimed == 0
