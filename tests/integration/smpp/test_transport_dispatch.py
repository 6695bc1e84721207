"""smpp:// under the real dispatcher and SQLite store: every message ends in a known state."""

from __future__ import annotations

from pathlib import Path

from smpp_helpers import smpp_url

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore


async def test_campaign_with_throttling_and_drops(smsc: SmscSimulator, tmp_path: Path) -> None:
    smsc.throttle_every = 7
    smsc.drop_every = 90
    smsc.dlr_mix = {"delivered": 0.8, "undeliverable": 0.2}
    msgs = [Message(to=f"+7701{i:07d}", sender="Shop", text=f"code {i}", campaign="c") for i in range(300)]
    async with SqliteStore(tmp_path / "db.sqlite") as store:
        await store.enqueue([OutboxEntry(m, f"c:{m.to}") for m in msgs])
        transport = open_transport(smpp_url(smsc, window=20, binds=2, throttle_pause=0.01))
        async with transport:
            dispatcher = Dispatcher(
                store, transport, concurrency=3, batch_size=50, backoff=Backoff(base=0.01)
            )
            stats = await dispatcher.run("c", wait_receipts=10)
        counts = await store.counts("c")
    assert sum(counts.values()) == 300
    final = {DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERABLE}
    in_doubt = counts.get(DeliveryStatus.MAYBE_SUBMITTED, 0)
    assert set(counts) <= final | {DeliveryStatus.MAYBE_SUBMITTED}
    assert counts.get(DeliveryStatus.DELIVERED, 0) > 0 and counts.get(DeliveryStatus.UNDELIVERABLE, 0) > 0
    assert smsc.stats.dropped > 0 and smsc.stats.throttled > 0
    # nothing was accepted twice: in-doubt messages (in flight when the link dropped) are never resent blindly
    assert 300 - in_doubt <= smsc.stats.submit_sm_ok <= 300
    assert stats.in_doubt == in_doubt
