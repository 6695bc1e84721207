"""The submission PDUs besides submit_sm, and registered_delivery, over a real socket with a hand-driven ESME:
data_sm, submit_multi (one message per destination, one resp with the unsuccessful ones listed), and which
receipts come back for each mask."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from raw_esme import RawEsme, raw_esme, submit_sm

from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.runtime import Runtime
from msgbridge.service.smppfront.accounts import AccountBook, create_account
from msgbridge.service.smppfront.server import SmppFront
from msgbridge.service.smppfront.status import COMMAND_STATUS
from msgbridge.smpp import codec

REFUSED = "+77019999999"  # the memory transport refuses it: REJECTED at once, a final failure


@dataclass
class Served:
    runtime: Runtime
    front: SmppFront


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    accounts = tmp_path / "smpp-users.toml"
    create_account(accounts, "acme", password="secret", window=20)
    runtime = Runtime(
        store=str(tmp_path / "front.db"), transports={"mem": f"memory://?fail=%2B{REFUSED[1:]}"}
    )
    await runtime.start()
    front = SmppFront(runtime, AccountBook(accounts), events=runtime.store)
    await front.start("127.0.0.1", 0)
    try:
        yield Served(runtime, front)
    finally:
        await front.stop()
        await runtime.drain(2.0)


def data_sm(seq: int, text: bytes, dest: str = "77011234567", registered_delivery: int = 0) -> bytes:
    """A data_sm (SMPP 3.4 §4.7.1): no short_message, the text in message_payload."""
    body = (
        codec.cstr("")
        + bytes((5, 0))
        + codec.cstr("Shop")
        + bytes((1, 1))
        + codec.cstr(dest)
        + bytes((0, registered_delivery, 0))
        + codec.tlv(codec.TLV_MESSAGE_PAYLOAD, text)
    )
    return codec.pdu(codec.DATA_SM, 0, seq, body)


def submit_multi(seq: int, destinations: list[str], text: bytes) -> bytes:
    """A submit_multi (SMPP 3.4 §4.5.1) to SME addresses (dest_flag 1, international)."""
    dests = b"".join(bytes((1, 1, 1)) + codec.cstr(d) for d in destinations)
    tail = bytes((0, 0, 0)) + codec.cstr("") + codec.cstr("") + bytes((0, 0, 0, 0, len(text))) + text
    body = codec.cstr("") + bytes((5, 0)) + codec.cstr("Shop") + bytes((len(destinations),)) + dests + tail
    return codec.pdu(codec.SUBMIT_MULTI, 0, seq, body)


def read_multi_resp(body: bytes) -> tuple[str, list[tuple[int, int, str, int]]]:
    """message_id and the unsuccess_sme entries (ton, npi, address, error_status_code) of submit_multi_resp."""
    message_id, p = codec.read_cstr(body, 0, 65)
    count, p = body[p], p + 1
    failed = []
    for _ in range(count):
        ton, npi = body[p], body[p + 1]
        address, p = codec.read_cstr(body, p + 2, 21)
        failed.append((ton, npi, address.decode(), int.from_bytes(body[p : p + 4], "big")))
        p += 4
    return message_id.decode(), failed


async def answer(esme: RawEsme, command: int, seq: int) -> tuple[int, bytes]:
    """The resp to ``seq`` (checked to be of ``command``): its status and body."""
    command_id, status, got, body = await asyncio.wait_for(esme.pdu(), 10)
    assert (command_id, got) == (command | codec.RESPONSE_BIT, seq)
    return status, body


async def test_a_data_sm_is_queued_and_answered_with_our_message_id(served: Served) -> None:
    esme = await raw_esme(served.front.port, "acme", "secret")
    try:
        esme.send(data_sm(2, b"hello by data sm"))
        status, body = await answer(esme, codec.DATA_SM, 2)
    finally:
        esme.close()
    assert status == codec.ESME_ROK
    record = await served.runtime.message(codec.decode_message_id(body).lower())
    assert record is not None
    assert (record.message.to, record.message.text) == ("+77011234567", "hello by data sm")


async def test_a_submit_multi_becomes_a_message_per_destination_answered_once(served: Served) -> None:
    esme = await raw_esme(served.front.port, "acme", "secret")
    destinations = ["77011234567", "77021234567", "77051234567"]
    try:
        esme.send(submit_multi(3, destinations, b"to all three"))
        status, body = await answer(esme, codec.SUBMIT_MULTI, 3)
        esme.send(submit_sm(4, b"after"))  # the resp above was the only one: the next PDU is answered next
        assert (await answer(esme, codec.SUBMIT_SM, 4))[0] == codec.ESME_ROK
    finally:
        esme.close()
    assert status == codec.ESME_ROK
    first, failed = read_multi_resp(body)
    assert failed == []
    record = await served.runtime.message(first.lower())
    assert record is not None and record.message.to == "+77011234567"
    assert sum((await served.runtime.queue_depth()).values()) + await delivered(served) == 4


async def delivered(served: Served) -> int:
    counts = await served.runtime.store.counts()
    return sum(n for status, n in counts.items() if status is not DeliveryStatus.QUEUED)


async def test_a_submit_multi_lists_the_destinations_it_could_not_queue(served: Served) -> None:
    esme = await raw_esme(served.front.port, "acme", "secret")
    try:
        # the second is not a phone number: refused at the submission check, the others queued
        esme.send(submit_multi(5, ["77011234567", "12", "77021234567"], b"some of them"))
        status, body = await answer(esme, codec.SUBMIT_MULTI, 5)
        esme.send(submit_multi(6, ["12", "34"], b"none of them"))
        none_status, none_body = await answer(esme, codec.SUBMIT_MULTI, 6)
    finally:
        esme.close()
    assert status == codec.ESME_ROK
    first, failed = read_multi_resp(body)
    assert [(ton, npi, address) for ton, npi, address, _ in failed] == [(1, 1, "12")]
    bad_destination = COMMAND_STATUS[ErrorCode.INVALID_DESTINATION]
    assert failed[0][3] == bad_destination
    record = await served.runtime.message(first.lower())
    assert record is not None and record.message.to == "+77011234567"
    assert none_status == bad_destination and none_body == b""
    counts = await served.runtime.store.counts()
    assert sum(counts.values()) == 2


async def receipts_of(esme: RawEsme, wanted: int, quiet: float) -> list[tuple[str, int]]:
    """(receipted_message_id, message_state) of the receipts that come, answering each; stops once
    ``wanted`` came and nothing more did for ``quiet`` seconds."""
    got: list[tuple[str, int]] = []
    while True:
        try:
            command_id, _, seq, body = await asyncio.wait_for(esme.pdu(), quiet if len(got) >= wanted else 15)
        except TimeoutError:
            assert len(got) >= wanted, f"{len(got)} receipts of {wanted}"
            return got
        if command_id == codec.ENQUIRE_LINK:
            esme.send(codec.pdu(codec.ENQUIRE_LINK_RESP, 0, seq))
            continue
        assert command_id == codec.DELIVER_SM
        sm = codec.decode_sm(body)
        assert sm.is_receipt
        esme.send(codec.pdu(codec.DELIVER_SM_RESP, 0, seq, b"\x00"))
        receipted = sm.tlvs[codec.TLV_RECEIPTED_MESSAGE_ID].rstrip(b"\x00").decode()
        got.append((receipted, sm.tlvs[codec.TLV_MESSAGE_STATE][0]))


DELIVERED_STATE, REJECTED_STATE, ENROUTE_STATE = 2, 8, 1  # message_state (SMPP 3.4 §5.2.28)


@pytest.mark.parametrize(
    ("mask", "delivered_states", "rejected_states"),
    [
        (0x00, [], []),  # none asked for
        (0x01, [DELIVERED_STATE], [REJECTED_STATE]),  # the final outcome, success or failure
        (0x02, [], [REJECTED_STATE]),  # failures only
        (0x10, [ENROUTE_STATE], []),  # intermediate only
        (0x11, [ENROUTE_STATE, DELIVERED_STATE], [REJECTED_STATE]),  # intermediate and final
    ],
)
async def test_registered_delivery_decides_which_receipts_come_back(
    served: Served, mask: int, delivered_states: list[int], rejected_states: list[int]
) -> None:
    """One message delivered and one refused by the transport, both with ``mask``: the receipts that come
    back over the transceiver are those the mask asks for, and no others."""
    esme = await raw_esme(served.front.port, "acme", "secret", codec.BIND_TRANSCEIVER)
    try:
        esme.send(submit_sm(2, b"will arrive", registered_delivery=mask))
        ok, body = await answer(esme, codec.SUBMIT_SM, 2)
        delivered_id = codec.decode_message_id(body)
        esme.send(data_sm(3, b"will be refused", dest=REFUSED[1:], registered_delivery=mask))
        refused_ok, body = await answer(esme, codec.DATA_SM, 3)
        refused_id = codec.decode_message_id(body)
        assert ok == refused_ok == codec.ESME_ROK
        got = await receipts_of(esme, len(delivered_states) + len(rejected_states), quiet=1.0)
    finally:
        esme.close()
    assert sorted(state for mid, state in got if mid == delivered_id) == sorted(delivered_states)
    assert sorted(state for mid, state in got if mid == refused_id) == sorted(rejected_states)
    assert len(got) == len(delivered_states) + len(rejected_states)
    for mid, final in ((delivered_id, DeliveryStatus.DELIVERED), (refused_id, DeliveryStatus.REJECTED)):
        record = await served.runtime.message(mid.lower())
        assert record is not None and record.status is final
