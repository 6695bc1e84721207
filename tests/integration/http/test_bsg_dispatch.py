"""BSG through the dispatcher and the SQLite store: a lost answer is settled by lookup, never sent twice."""

from __future__ import annotations

from pathlib import Path

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.http.bsg import create_emulator
from msgbridge.simulators.http.server import serve
from msgbridge.store import open_store
from msgbridge.store.base import CostTotal, OutboxEntry

KEY = "live_dispatch"


def url(server_url: str) -> str:
    return f"bsg://{KEY}@one-api.bsg.world?base_url={server_url}&sender=Shop&timeout=2"


async def enqueue(store, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    entries = [
        OutboxEntry(
            message=Message(to=f"+7701{i:07d}", text="hello", reference=f"order{i}", campaign="c1"),
            idempotency_key=f"order{i}",
        )
        for i in range(n)
    ]
    return await store.enqueue(entries)


async def test_lost_answer_is_settled_by_lookup_and_not_resent(tmp_path: Path) -> None:
    emulator = create_emulator(api_keys=[KEY])
    async with serve(emulator) as server, open_store(str(tmp_path / "out.db")) as store:
        ids = await enqueue(store, 30)
        async with open_transport(url(server.url)) as t:  # logs in on entry
            emulator.inject("lost")  # BSG creates the campaign, the answer never arrives
            first = await Dispatcher(store, t, backoff=Backoff(base=0.01, jitter=False)).send_pending("c1")
        assert first.in_doubt == 30
        assert (await store.counts("c1")).get(DeliveryStatus.MAYBE_SUBMITTED) == 30
        assert len(emulator.messages) == 30

        async with open_transport(url(server.url)) as t:
            second = Dispatcher(store, t, poll_interval=0.05)
            stats = await second.send_pending("c1")
            await second.collect_receipts(timeout=20)
        assert stats.settled_sent == 30 and stats.settled_unsent == 0
        assert len(emulator.messages) == 30  # nothing sent twice
        assert emulator.requests["POST /api/campaigns/sms/send"] == 1
        records = [await store.get(i) for i in ids]
        assert all(r is not None and r.status is DeliveryStatus.DELIVERED for r in records)
        # What each cost came with its status (the emulator's 0.02 EUR a message).
        assert await store.cost_totals("c1") == [CostTotal("EUR", price=0, priced=0, cost=600_000, costed=30)]


async def test_request_that_never_arrived_is_sent_after_lookup(tmp_path: Path) -> None:
    emulator = create_emulator(api_keys=[KEY])
    async with serve(emulator) as server, open_store(str(tmp_path / "out.db")) as store:
        await enqueue(store, 10)
        # The 2 s timeout is also the login's: shorter, a loaded machine could fail the login instead.
        async with open_transport(url(server.url)) as t:
            emulator.inject("hang")  # no answer, and BSG never saw it
            first = await Dispatcher(store, t).send_pending("c1")
        assert first.in_doubt == 10
        assert not emulator.messages

        async with open_transport(url(server.url)) as t:
            stats = await Dispatcher(store, t).send_pending("c1")
        assert stats.settled_unsent == 10 and stats.submitted == 10
        assert len(emulator.messages) == 10
        assert (await store.counts("c1")).get(DeliveryStatus.SUBMITTED) == 10
