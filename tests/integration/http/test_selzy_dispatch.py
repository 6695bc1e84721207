"""Selzy through the dispatcher and the SQLite store: batched sends, polled receipts, retried throttling."""

from __future__ import annotations

from pathlib import Path

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.http.selzy import create_emulator
from msgbridge.simulators.http.server import serve
from msgbridge.store import open_store
from msgbridge.store.base import OutboxEntry

KEY = "selzy-dispatch"


async def test_queue_to_final_status(tmp_path: Path) -> None:
    emulator = create_emulator(api_keys=[KEY], final_mix={"delivered": 0.8, "undeliverable": 0.2}, seed=5)
    emulator.inject("http429")
    async with serve(emulator) as server, open_store(str(tmp_path / "out.db")) as store:
        entries = [
            OutboxEntry(
                message=Message(to=f"+7701{i:07d}", text="sale", campaign="s"), idempotency_key=f"s:{i}"
            )
            for i in range(400)
        ]
        ids = await store.enqueue(entries)
        url = f"selzy://{KEY}@api.selzy.com?base_url={server.url}&sender=Shop&platform=Test&retry_base=0.01&rate=0"
        async with open_transport(url) as t:
            dispatcher = Dispatcher(store, t, backoff=Backoff(base=0.01, jitter=False), poll_interval=0.05)
            stats = await dispatcher.send_pending("s")
            await dispatcher.collect_receipts(timeout=30)
        counts = await store.counts("s")
    assert stats.submitted == 400
    assert len(emulator.sms) == 400  # the throttled call was repeated, nothing doubled
    assert emulator.requests["sendSms"] == 4  # 150 + 150 + 100, and the one answered 429 again
    expected = {"delivered": 0, "undeliverable": 0}
    records = {sid: emulator.outcome(sid) for sid in emulator.sms}
    for outcome in records.values():
        expected[outcome] += 1
    assert counts.get(DeliveryStatus.DELIVERED) == expected["delivered"]
    assert counts.get(DeliveryStatus.UNDELIVERABLE) == expected["undeliverable"]
    assert sum(counts.values()) == len(ids)
