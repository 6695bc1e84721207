"""A receipt's deliver_sm is answered only once the receipt is committed to the store.

Answered earlier, a receipt still in memory dies with the process and the
SMSC never sends it again: its message stays SUBMITTED for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from smpp_helpers import eventually, messages, smpp_url

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.message import DeliveryReceipt
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

COUNT = 8


class GatedStore(SqliteStore):
    """Receipt commits wait for ``gate``; with ``fail`` set they raise instead of committing."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = asyncio.Event()
        self.fail = False
        self.waiting = 0

    async def record_receipts(self, receipts: Sequence[DeliveryReceipt]) -> int:
        self.waiting += 1
        await self.gate.wait()
        if self.fail:
            raise OSError("disk full")
        return await super().record_receipts(receipts)


def smpp(url: str) -> SmppTransport:
    t = open_transport(url)
    assert isinstance(t, SmppTransport)
    return t


async def test_deliver_sm_resp_waits_for_the_store_commit(smsc: SmscSimulator, tmp_path: Path) -> None:
    async with GatedStore(tmp_path / "db.sqlite") as store:
        await store.enqueue([OutboxEntry(m, f"k:{m.id}") for m in messages(COUNT)])
        transport = smpp(smpp_url(smsc, window=10))
        async with transport:
            dispatcher = Dispatcher(store, transport)
            dispatcher.start_receipts()
            store.gate.set()  # results are recorded as usual ...
            await dispatcher.send_pending()
            store.gate.clear()  # ... and from now on the receipt commits wait
            await eventually(
                lambda: transport.receipts_received == COUNT, what="every receipt in the transport"
            )
            await eventually(lambda: store.waiting > 0, what="a receipt commit under way")
            await asyncio.sleep(0.1)  # time enough for an answer to leave, were it going to
            assert smsc.stats.deliver_sm_resp == 0  # in memory is not stored: the SMSC still has them all
            assert await store.counts() == {DeliveryStatus.SUBMITTED: COUNT}
            store.gate.set()
            await eventually(lambda: smsc.stats.deliver_sm_resp == COUNT, what="answers after the commit")
            assert await store.counts() == {DeliveryStatus.DELIVERED: COUNT}
            await dispatcher.close_transport()
    assert transport.acks.answered == COUNT and transport.acks.refused == 0


async def test_a_receipt_whose_commit_failed_is_delivered_again_to_the_next_bind(
    smsc: SmscSimulator, tmp_path: Path
) -> None:
    async with GatedStore(tmp_path / "db.sqlite") as store:
        await store.enqueue([OutboxEntry(m, f"k:{m.id}") for m in messages(COUNT)])
        first = smpp(smpp_url(smsc, window=10))
        async with first:
            dispatcher = Dispatcher(store, first)
            dispatcher.start_receipts()
            store.gate.set()
            await dispatcher.send_pending()
            store.fail = True  # the store cannot take the receipts
            await eventually(lambda: first.receipts_received == COUNT, what="every receipt in the transport")
            try:
                await dispatcher.stop_receipts()
            except OSError:
                pass
            assert smsc.stats.deliver_sm_resp == 0
        # Closed with the receipts unstored: refused (ESME_RX_T_APPN), so the SMSC kept them.
        assert first.acks.refused == COUNT
        store.fail = False
        second = smpp(smpp_url(smsc, window=10))
        async with second:
            collector = Dispatcher(store, second)
            await collector.collect_receipts(timeout=20, until_final=True)
            await collector.close_transport()
        assert await store.counts() == {DeliveryStatus.DELIVERED: COUNT}
    assert smsc.stats.deliver_sm_resp == COUNT
    assert smsc.stats.redelivered >= COUNT
