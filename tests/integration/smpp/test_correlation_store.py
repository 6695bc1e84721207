"""Receipts reach the store: per-segment status, late resp, and receipts after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from smpp_helpers import eventually, messages, smpp_url, take_receipts

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus, aggregate
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore


def transport(url: str) -> SmppTransport:
    t = open_transport(url)
    assert isinstance(t, SmppTransport)
    return t


async def enqueue(store: SqliteStore, msgs: list[Message]) -> None:
    await store.enqueue([OutboxEntry(m, f"k-{m.id}") for m in msgs])
    claimed = await store.claim(len(msgs))
    assert len(claimed) == len(msgs)


@pytest.mark.parametrize(
    ("id_format", "receipt_format", "id_base"),
    [("hex", "same", "auto"), ("hex", "dec", "resp_hex"), ("dec", "hex", "receipt_hex")],
)
async def test_receipts_after_a_restart_are_matched_through_the_store(
    smsc: SmscSimulator, tmp_path: Path, id_format: str, receipt_format: str, id_base: str
) -> None:
    smsc.id_format = id_format
    smsc.receipt_id_format = receipt_format
    smsc.receipt_id_style = "leading_zeros"
    smsc.dlr_mix = {"delivered": 0.5, "undeliverable": 0.5}
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    msgs = messages(6, text="x" * 200 + " {i}")  # two segments each
    await enqueue(store, msgs)
    # The first process binds as a transmitter only: the SMSC holds the receipts until a receiver binds.
    first = transport(smpp_url(smsc, window=10, id_base=id_base, mode="tx"))
    async with first:
        results = await first.send(msgs)
        await store.record_results(results, link=first.link)
        await eventually(lambda: smsc.snapshot()["receipts_pending"] == 12, what="receipts held by the SMSC")
    assert all(r.ok and r.segments == 2 for r in results)
    # "Restart": a fresh transport that never sent these binds and receives them.
    second = transport(smpp_url(smsc, window=10, id_base=id_base, receipt_park=0))
    async with second:
        receipts = await take_receipts(second, 12)
    assert second.link == first.link
    assert all(r.message_id is None for r in receipts)  # this process never saw them
    assert await store.record_receipts(receipts) == 12
    by_message: dict[str, list[DeliveryStatus]] = {}
    native_to_message = {nid: r.message_id for r in results for nid in r.native_ids}
    for rc in receipts:
        by_message.setdefault(native_to_message[rc.native_id], []).append(rc.status)
    for m in msgs:
        rec = await store.get(m.id)
        assert rec is not None
        assert rec.status is aggregate(by_message[m.id])
    await store.close()


async def test_receipt_for_a_late_resp_settles_a_maybe_submitted_message(
    smsc: SmscSimulator, tmp_path: Path
) -> None:
    smsc.late_every = 2
    smsc.hold_late = True  # answered after send() has timed them out, however slow the machine is
    smsc.enquire_link_ms = 100  # and alive meanwhile, so the link is not dropped as silent
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    msgs = messages(4)
    await enqueue(store, msgs)
    t = transport(smpp_url(smsc, window=10, timeout=2))
    async with t:
        results = await t.send(msgs)
        await store.record_results(results, link=t.link)
        assert sum(r.status is DeliveryStatus.MAYBE_SUBMITTED for r in results) == 2
        await eventually(lambda: smsc.stats.late == 2, what="the late submit_sm at the SMSC")
        assert smsc.release_late() > 0
        receipts = await take_receipts(t, 4)
    assert all(rc.message_id for rc in receipts)
    await store.record_receipts(receipts)
    for m in msgs:
        rec = await store.get(m.id)
        assert rec is not None and rec.status is DeliveryStatus.DELIVERED, rec
    await store.close()
