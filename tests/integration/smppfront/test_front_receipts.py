"""Receipts back over the ESME's bind: deliver_sm from the store's events, held while no receiver is bound."""

from __future__ import annotations

import asyncio
import time

from conftest import Front, take_receipts

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.message import DeliveryReceipt, Message
from msgbridge.core.status import DeliveryStatus


async def take(t: SmppTransport, n: int, seconds: float = 20.0) -> list[DeliveryReceipt]:
    return await take_receipts(t, lambda got: len(got) >= n, seconds)


async def until(predicate: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_transceiver_gets_the_receipt_of_what_it_submitted(front: Front) -> None:
    t = open_transport(front.url(mode="trx"))
    assert isinstance(t, SmppTransport)
    await t.open()
    try:
        results = await t.send([Message(to="+77011234567", sender="Shop", text=f"r{i}") for i in range(3)])
        receipts = await take(t, 3)
    finally:
        await t.aclose()
    assert {r.native_id for r in receipts} == {r.native_id for r in results}
    assert all(r.status is DeliveryStatus.DELIVERED for r in receipts)
    assert front.front.health().receipts_delivered == 3


async def test_receipts_wait_in_the_store_for_a_receiver_that_binds_later(front: Front) -> None:
    tx = open_transport(front.url(mode="tx"))
    await tx.open()
    try:
        results = await tx.send(
            [Message(to="+77011234567", sender="Shop", text=f"later {i}") for i in range(4)]
        )
    finally:
        await tx.aclose()
    store = front.runtime.store

    async def all_delivered() -> bool:
        for r in results:
            assert r.native_id is not None
            rec = await front.runtime.message(r.native_id.lower())
            if rec is None or rec.status is not DeliveryStatus.DELIVERED:
                return False
        return True

    await until(all_delivered)
    assert front.front.health().receipts_sent == 0
    backlog = await store.event_backlog()
    assert backlog.pending >= 4  # held durably, nothing written while no receiver is bound
    rx = open_transport(front.url(mode="tx+rx"))
    assert isinstance(rx, SmppTransport)
    await rx.open()
    try:
        receipts = await take(rx, 4)
    finally:
        await rx.aclose()
    assert {r.native_id for r in receipts} == {r.native_id for r in results}
