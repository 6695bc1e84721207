"""python-smpplib's blocking client as the ESME: bind, a single and a 3-part UDH message, receipts back."""

from __future__ import annotations

import asyncio

import smpplib.client
import smpplib.command
import smpplib.consts
from front_peers import Target, dlr_receiver_fixture, target_fixture, udh_parts  # noqa: F401

DEST = "77011234567"


def send_and_collect(target: Target, parts: list[bytes]) -> tuple[list[str], dict[str, tuple[str, int]]]:
    """bind_transceiver, one submit_sm per part, read until every submit_sm_resp and receipt is in."""
    resp_ids: list[str] = []
    receipts: dict[str, tuple[str, int]] = {}  # receipted_message_id -> (text, message_state)
    client = smpplib.client.Client(target.host, target.port, timeout=20, allow_unknown_opt_params=True)
    client.connect()
    client.set_message_sent_handler(lambda pdu: resp_ids.append(pdu.message_id.decode()))

    def on_deliver(pdu: smpplib.command.DeliverSM) -> None:
        assert pdu.esm_class & 0x3C == 0x04, pdu.esm_class  # a receipt, not MO
        receipts[pdu.receipted_message_id.decode()] = (pdu.short_message.decode(), pdu.message_state)

    client.set_message_received_handler(on_deliver)
    try:
        client.bind_transceiver(system_id=target.system_id, password=target.password)
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr="Test",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                destination_addr=DEST,
                short_message=part,
                esm_class=0x40 if part.startswith(b"\x05\x00\x03") else 0,
                registered_delivery=True,
            )
        while len(resp_ids) < len(parts) or not set(resp_ids) <= set(receipts):
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return resp_ids, receipts


async def run(target: Target, parts: list[bytes]) -> tuple[list[str], dict[str, tuple[str, int]]]:
    return await asyncio.wait_for(asyncio.to_thread(send_and_collect, target, parts), 25)


async def test_smpplib_single_message_and_its_receipt(target: Target) -> None:
    ids, receipts = await run(target, [b"hello from smpplib"])
    assert target.submitted() == [b"hello from smpplib"]
    assert await target.knows(ids)
    text, state = receipts[ids[0]]
    assert state == 2 and f"id:{ids[0]} " in text and "stat:DELIVRD" in text


async def test_smpplib_three_part_udh_message_and_a_receipt_per_part_id(target: Target) -> None:
    parts = udh_parts("A long message from smpplib in three parts. " * 8, ref=0x42)
    assert len(parts) == 3
    ids, receipts = await run(target, parts)
    assert len(set(ids)) == 3
    assert set(receipts) >= set(ids)
    assert all(receipts[i][1] == 2 for i in ids)
    assert b"".join(p[6:] for p in target.submitted()) == b"".join(p[6:] for p in parts)
