"""Our own smpp:// client binds to the front over a real socket; what it submits is in the outbox."""

from __future__ import annotations

import asyncio
import socket
import struct

from conftest import Front

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.smppfront.submit import Part
from msgbridge.smpp import codec


async def test_submit_sm_is_queued_and_answered_with_our_message_id(front: Front) -> None:
    t = open_transport(front.url(mode="tx"))
    await t.open()
    try:
        results = await t.send(
            [Message(to="+77011234567", sender="Shop", text=f"hello {i}") for i in range(5)]
        )
    finally:
        await t.aclose()
    assert all(r.status is DeliveryStatus.SUBMITTED for r in results), results
    for i, r in enumerate(results):
        assert r.native_id is not None, r
        record = await front.runtime.message(r.native_id.lower())
        assert record is not None and record.message.text == f"hello {i}"
        assert record.message.to == "+77011234567" and record.message.sender == "Shop"


async def test_a_long_udh_message_becomes_one_message_with_an_id_per_part(front: Front) -> None:
    text = "x" * 400  # three GSM-7 segments of 153
    for long in ("udh8", "udh16", "sar", "payload"):
        t = open_transport(front.url(mode="tx", long=long))
        await t.open()
        try:
            [result] = await t.send([Message(to="+77011234567", text=text + long)])
        finally:
            await t.aclose()
        assert result.status is DeliveryStatus.SUBMITTED, (long, result)
        assert result.native_id is not None
        mid = result.native_id.lower().split(".")[0]
        record = await front.runtime.message(mid)
        assert record is not None and record.message.text == text + long, long


async def test_bad_password_and_unknown_system_id_are_refused(front: Front) -> None:
    for user, password, status in (
        ("acme", "wrong", codec.ESME_RINVPASWD),
        ("nobody", "x", codec.ESME_RINVSYSID),
    ):
        assert await raw_bind(front, user, password) == status


async def raw_bind(front: Front, user: str, password: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", front.front.port)
    writer.write(codec.pdu(codec.BIND_TRANSMITTER, 0, 1, codec.encode_bind(codec.Bind(user, password))))
    header = await reader.readexactly(16)
    length, command_id, status, seq = struct.unpack(">IIII", header)
    await reader.readexactly(length - 16)
    writer.close()
    assert command_id == codec.BIND_TRANSMITTER_RESP and seq == 1
    return status


async def test_garbage_gets_generic_nack_and_the_front_survives(front: Front) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", front.front.port)
    writer.write(codec.pdu(0x00000777, 0, 9))  # an unknown command
    _length, command_id, status, seq = struct.unpack(">IIII", await reader.readexactly(16))
    assert (command_id, status, seq) == (codec.GENERIC_NACK, codec.ESME_RINVCMDID, 9)
    writer.write(struct.pack(">IIII", 5, 1, 0, 1))  # a command_length below 16: the stream is lost
    _length, command_id, status, _seq = struct.unpack(">IIII", await reader.readexactly(16))
    assert (command_id, status) == (codec.GENERIC_NACK, codec.ESME_RINVCMDLEN)
    assert await reader.read() == b""
    writer.close()
    assert await raw_bind(front, "acme", "secret") == codec.ESME_ROK


async def test_above_the_tps_cap_submit_sm_is_throttled(front: Front) -> None:
    sock = socket.create_connection(("127.0.0.1", front.front.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(codec.pdu(codec.BIND_TRANSMITTER, 0, 1, codec.encode_bind(codec.Bind("slow", "secret"))))
    length, command_id, status, _ = struct.unpack(">IIII", await reader.readexactly(16))
    await reader.readexactly(length - 16)
    assert status == codec.ESME_ROK
    body = codec.encode_sm(
        codec.ShortMessage(source_addr="Shop", destination_addr="77011234567", short_message=b"hi")
    )
    writer.write(b"".join(codec.pdu(codec.SUBMIT_SM, 0, seq, body) for seq in range(2, 12)))
    statuses = {}
    while len(statuses) < 10:
        length, command_id, status, seq = struct.unpack(">IIII", await reader.readexactly(16))
        await reader.readexactly(length - 16)
        assert command_id == codec.SUBMIT_SM_RESP
        statuses[seq] = status
    ok = [s for s in statuses.values() if s == codec.ESME_ROK]
    assert 1 <= len(ok) <= 5 and codec.ESME_RTHROTTLED in statuses.values()
    assert set(statuses.values()) <= {codec.ESME_ROK, codec.ESME_RTHROTTLED}
    throttled = front.front.health().throttled["slow"]
    assert throttled["tps"] >= 1 and sum(throttled.values()) == 10 - len(ok)
    writer.close()


async def test_a_resent_submit_sm_is_queued_once_and_answered_with_the_same_id(front: Front) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", front.front.port)
    writer.write(codec.pdu(codec.BIND_TRANSMITTER, 0, 1, codec.encode_bind(codec.Bind("acme", "secret"))))
    length, _, status, _ = struct.unpack(">IIII", await reader.readexactly(16))
    await reader.readexactly(length - 16)
    assert status == codec.ESME_ROK
    body = codec.encode_sm(
        codec.ShortMessage(source_addr="Shop", destination_addr="77011234567", short_message=b"once")
    )
    ids = []
    for _ in range(2):  # the same PDU, as an ESME resends it after a lost answer
        writer.write(codec.pdu(codec.SUBMIT_SM, 0, 7, body))
        length, command_id, status, seq = struct.unpack(">IIII", await reader.readexactly(16))
        assert (command_id, status, seq) == (codec.SUBMIT_SM_RESP, codec.ESME_ROK, 7)
        ids.append(codec.decode_message_id(await reader.readexactly(length - 16)))
    writer.close()
    assert ids[0] == ids[1]
    counts = await front.runtime.queue_depth()
    assert sum(counts.values()) == 1


def test_a_resend_in_the_next_bucket_is_found_in_recent_memory() -> None:
    from msgbridge.service.smppfront.submit import RESEND_WINDOW, Assembler, Recent

    [part] = decode_submit_sm(b"again")
    bucket_end = (10_000 + 1) * RESEND_WINDOW - 1
    first = Assembler().add(part, bucket_end)
    resend = Assembler().add(part, bucket_end + 2)
    assert first is not None and resend is not None and first.reference != resend.reference
    recent = Recent()
    recent.put(first.sequences[0], first.digest, "m1", bucket_end)
    assert recent.get(resend.sequences[0], resend.digest, bucket_end + 2) == "m1"
    assert recent.get(resend.sequences[0], resend.digest, bucket_end + RESEND_WINDOW + 1) is None


def decode_submit_sm(text: bytes) -> list[Part]:
    from msgbridge.service.smppfront.submit import decode_submit

    body = codec.encode_sm(
        codec.ShortMessage(source_addr="Shop", destination_addr="77011234567", short_message=text)
    )
    return decode_submit(codec.SUBMIT_SM, body, 3)


async def test_binds_per_account_are_capped(front: Front) -> None:
    from msgbridge.service.smppfront.accounts import create_account

    create_account(front.accounts, "one", password="secret", max_binds=1)
    front.front.accounts.path = front.accounts
    front.front.accounts.watch.checked = 0.0  # read the file again now, as a running front does within a second
    reader, writer = await asyncio.open_connection("127.0.0.1", front.front.port)
    writer.write(codec.pdu(codec.BIND_TRANSCEIVER, 0, 1, codec.encode_bind(codec.Bind("one", "secret"))))
    length, _, status, _ = struct.unpack(">IIII", await reader.readexactly(16))
    await reader.readexactly(length - 16)
    assert status == codec.ESME_ROK
    assert await raw_bind(front, "one", "secret") == codec.ESME_RBINDFAIL
    assert front.front.health().binds == {"one": {"trx": 1}}
    writer.close()


async def test_above_the_window_submit_sm_is_throttled_not_stalled(front: Front) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", front.front.port)
    writer.write(codec.pdu(codec.BIND_TRANSMITTER, 0, 1, codec.encode_bind(codec.Bind("acme", "secret"))))
    length, _, status, _ = struct.unpack(">IIII", await reader.readexactly(16))
    await reader.readexactly(length - 16)
    body = codec.encode_sm(
        codec.ShortMessage(source_addr="Shop", destination_addr="77011234567", short_message=b"w")
    )
    n = 60  # the account's window is 20: one read of 60 PDUs leaves 40 above it
    writer.write(b"".join(codec.pdu(codec.SUBMIT_SM, 0, seq, body) for seq in range(2, 2 + n)))
    statuses = []
    for _ in range(n):
        length, command_id, status, _seq = struct.unpack(">IIII", await reader.readexactly(16))
        await reader.readexactly(length - 16)
        assert command_id == codec.SUBMIT_SM_RESP
        statuses.append(status)
    writer.close()
    assert set(statuses) <= {codec.ESME_ROK, codec.ESME_RTHROTTLED}
    assert 20 <= statuses.count(codec.ESME_ROK) < n and codec.ESME_RTHROTTLED in statuses
    health = front.front.health()
    assert health.throttled["acme"] == {"window": statuses.count(codec.ESME_RTHROTTLED)}
    assert health.submitted["acme"] == statuses.count(codec.ESME_ROK)
