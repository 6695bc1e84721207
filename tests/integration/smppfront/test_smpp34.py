"""smpp34's asyncio client (Rust core) as the ESME: bind, a single and a 3-part UDH message, receipts back."""

from __future__ import annotations

import asyncio

import smpp34
from front_peers import Target, dlr_receiver_fixture, target_fixture, udh_parts  # noqa: F401

DEST = "77011234567"


async def submit_and_collect(target: Target, parts: list[bytes]) -> tuple[list[str], dict[str, int]]:
    """bind_transceiver, every part in flight at once, then read deliver_sm until each id has a receipt."""
    client = smpp34.Client(
        target.host, target.port, target.system_id, target.password, bind_type="TRX", window_size=10
    )
    session = await asyncio.wait_for(client.connect(), 10)
    receipts: dict[str, int] = {}  # receipted_message_id -> message_state
    try:
        resps = await asyncio.gather(
            *(
                session.submit_sm(
                    DEST,
                    part,
                    source_addr="Test",
                    source_addr_ton=5,
                    dest_addr_ton=1,
                    esm_class=0x40 if part.startswith(b"\x05\x00\x03") else 0,
                    registered_delivery=1,
                )
                for part in parts
            )
        )
        assert all(r.is_success and r.command_status == 0 for r in resps), resps
        ids = [r.message_id for r in resps]
        while not set(ids) <= set(receipts):
            event = await asyncio.wait_for(session.next(), 20)
            assert isinstance(event, smpp34.DeliverSmEvent), event
            assert event.esm_class & 0x3C == 0x04  # a receipt, not MO
            tlvs = {t.tag: t for t in event.tlvs}
            rid = tlvs[smpp34.TLV_RECEIPTED_MESSAGE_ID].value.rstrip(b"\x00").decode()
            receipts[rid] = tlvs[smpp34.TLV_MESSAGE_STATE].as_int() or 0
    finally:
        await session.unbind()
        await client.stop()
    return ids, receipts


async def test_smpp34_single_message_and_its_receipt(target: Target) -> None:
    ids, receipts = await submit_and_collect(target, [b"hello from smpp34"])
    assert target.submitted() == [b"hello from smpp34"]
    assert await target.knows(ids)
    assert receipts[ids[0]] == 2  # DELIVERED


async def test_smpp34_three_part_udh_message_and_a_receipt_per_part_id(target: Target) -> None:
    parts = udh_parts("A long message from smpp34 in three parts, sent at once. " * 7, ref=0x43)
    assert len(parts) == 3
    ids, receipts = await submit_and_collect(target, parts)
    assert len(set(ids)) == 3
    assert all(receipts[i] == 2 for i in ids)
    # sent concurrently, the parts may arrive in any order; a relay may renumber the UDH reference
    assert joined(target.submitted()) == joined(parts)


def joined(parts: list[bytes]) -> bytes:
    """The text of 8-bit-reference UDH parts, in their part-number order."""
    return b"".join(p[6:] for p in sorted(parts, key=lambda p: p[5]))
