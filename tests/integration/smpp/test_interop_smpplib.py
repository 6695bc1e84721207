"""python-smpplib's blocking client, used as its README shows, against our simulator.

The client runs in a worker thread (it blocks on its socket) while the event
loop serves the simulator.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

from msgbridge.simulators.smsc import SmscSimulator


def connect(port: int) -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", port, timeout=20, allow_unknown_opt_params=True)
    client.connect()
    return client


def send_and_collect(port: int, texts: list[str]) -> tuple[list[str], list[tuple[str, str, int]], int]:
    """README flow: bind_transceiver, make_parts + send_message, read until every answer and receipt is in."""
    resp_ids: list[str] = []
    receipts: list[tuple[str, str, int]] = []  # (receipted id TLV, text, message_state)
    client = connect(port)
    client.set_message_sent_handler(lambda pdu: resp_ids.append(pdu.message_id.decode()))

    def on_receipt(pdu: smpplib.command.DeliverSM) -> None:
        receipts.append((pdu.receipted_message_id.decode(), pdu.short_message.decode(), pdu.message_state))

    client.set_message_received_handler(on_receipt)
    client.bind_transceiver(system_id="u", password="p")
    sent = 0
    for text in texts:
        parts, encoding_flag, msg_type_flag = smpplib.gsm.make_parts(text)
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr="Test",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                destination_addr="77011234567",
                short_message=part,
                data_coding=encoding_flag,
                esm_class=msg_type_flag,
                registered_delivery=True,
            )
            sent += 1
    while len(resp_ids) < sent or len(receipts) < sent:
        client.read_once()
    client.unbind()
    client.disconnect()
    return resp_ids, receipts, sent


async def test_smpplib_client_sends_and_receives_receipts(smsc: SmscSimulator) -> None:
    texts = ["hello from smpplib", "Привет, мир! " * 10]  # one GSM part, then a long UCS-2 text
    resp_ids, receipts, sent = await asyncio.wait_for(
        asyncio.to_thread(send_and_collect, smsc.port, texts), 30
    )
    assert sent >= 3
    recorded = smsc.submitted
    assert [r.message_id for r in recorded] == resp_ids
    assert sorted(rid for rid, _, _ in receipts) == sorted(resp_ids)
    assert all(state == 2 and f"id:{rid} " in text for rid, text, state in receipts)
    assert recorded[0].short_message == b"hello from smpplib" and recorded[0].data_coding == 0
    assert recorded[1].data_coding == 8 and recorded[1].esm_class & 0x40  # UDH-concatenated parts
    assert smsc.stats.deliver_sm_resp == sent and smsc.stats.unbinds == 1


def bind_error(port: int, password: str) -> int:
    client = connect(port)
    try:
        client.bind_transmitter(system_id="u", password=password)
    except smpplib.exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        client.disconnect()
    return 0


@pytest.mark.parametrize(("password", "status"), [("wrong", 0x0E), ("p", 0x00)])
async def test_smpplib_sees_our_bind_status(smsc: SmscSimulator, password: str, status: int) -> None:
    assert await asyncio.to_thread(bind_error, smsc.port, password) == status


def receive_mo(port: int, n: int, ready: threading.Event) -> list[bytes]:
    got: list[bytes] = []
    client = connect(port)
    client.set_message_received_handler(lambda pdu: got.append(pdu.short_message))
    client.bind_receiver(system_id="u", password="p")
    ready.set()
    while len(got) < n:
        client.read_once()
    client.unbind()
    client.disconnect()
    return got


async def test_smpplib_receives_our_concatenated_mo(smsc: SmscSimulator) -> None:
    ready = threading.Event()
    worker = asyncio.create_task(asyncio.to_thread(receive_mo, smsc.port, 2, ready))
    text = "x" * 200
    statuses = await smsc.send_mo(
        system_id="u", source="+77011234567", destination="1234", text=text, concat="udh8"
    )
    parts = await asyncio.wait_for(worker, 30)
    assert statuses == [0, 0]
    assert [p[:3] for p in parts] == [b"\x05\x00\x03"] * 2
    assert b"".join(p[6:] for p in parts) == text.encode()
