"""Receipts an SMPP transport releases on close reach the store.

A transport holds back receipts whose id it has not seen (they may come
before their submit_sm_resp, or belong to another worker on the same
account). The SMSC keeps them until they are stored (each deliver_sm is
answered only then), so the dispatcher must keep reading through the close
and store them before the binds go: ``close_transport`` does.
"""

from __future__ import annotations

import time
from pathlib import Path

from smpp_helpers import smpp_url

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

COUNT = 120


async def test_receipts_held_by_a_collector_are_written_when_it_closes(
    smsc: SmscSimulator, tmp_path: Path
) -> None:
    msgs = [Message(to=f"+7701{i:07d}", text=f"note {i}", campaign="c") for i in range(COUNT)]
    async with SqliteStore(tmp_path / "db.sqlite") as store:
        await store.enqueue([OutboxEntry(m, f"c:{m.to}") for m in msgs])
        # The collector binds first and sends nothing: every receipt names an id it never saw,
        # so it holds each one back for receipt_park seconds (far longer than this test).
        collector_transport = open_transport(smpp_url(smsc, receipt_park=60))
        async with collector_transport:
            collector = Dispatcher(store, collector_transport)
            collector.start_receipts()
            sender_transport = open_transport(smpp_url(smsc, mode="tx", window=20))
            async with sender_transport:
                await Dispatcher(store, sender_transport).run("c")
            assert isinstance(collector_transport, SmppTransport)
            deadline = time.monotonic() + 20
            while collector_transport.receipts_received < COUNT:
                assert time.monotonic() < deadline, smsc.stats
                await collector.collect_receipts(timeout=0.05, until_final=False)
            held = await store.counts("c")
            acked_while_held = smsc.stats.deliver_sm_resp
            await collector.close_transport()
        counts = await store.counts("c")
    # Held in the collector, not yet in the store, so not acknowledged to the SMSC ...
    assert held == {DeliveryStatus.SUBMITTED: COUNT}
    assert acked_while_held == 0
    # ... then written when the collector closed, not dropped with it, and acknowledged once written.
    assert counts == {DeliveryStatus.DELIVERED: COUNT}
    assert collector.stats.receipts == COUNT
    assert smsc.stats.deliver_sm_resp == COUNT
