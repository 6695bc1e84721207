"""The simulator's session rules over a real socket: bind, submit, receipts, enquire_link, unbind, nacks."""

from __future__ import annotations

import re

import pytest

from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.smpp import codec

RECEIPT_RE = re.compile(
    r"^id:(\w+) sub:001 dlvrd:00[01] submit date:\d{10} done date:\d{10} stat:(\w{7}) err:(\d{3}) text:(.*)$"
)


def is_deliver(frame: tuple[int, int, int, bytes]) -> bool:
    return frame[0] == codec.DELIVER_SM


async def test_bind_transceiver_ok_and_carries_interface_version(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    seq = esme.send(codec.BIND_TRANSCEIVER, codec.encode_bind(codec.Bind("u", "p")))
    command_id, status, _, body = await esme.response(seq)
    assert (command_id, status) == (codec.BIND_TRANSCEIVER_RESP, 0)
    system_id, tlvs = codec.decode_bind_resp(body)
    assert system_id == smsc.system_id
    assert tlvs[codec.TLV_SC_INTERFACE_VERSION] == b"\x34"
    assert smsc.stats.binds == 1


@pytest.mark.parametrize(
    ("system_id", "password", "expected"),
    [("u", "wrong", 0x0E), ("nobody", "p", 0x0F), ("u2", "p", 0x0E), ("u2", "p2", 0x00)],
)
async def test_bind_checks_credentials(
    smsc: SmscSimulator, raw_esme, system_id: str, password: str, expected: int
) -> None:
    esme = await raw_esme()
    assert await esme.bind(system_id, password) == expected


async def test_second_bind_on_a_bound_session_is_refused(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    assert await esme.bind() == 0
    assert await esme.bind() == codec.ESME_RALYBND


async def test_max_binds_refuses_extra_connections(smsc: SmscSimulator, raw_esme) -> None:
    smsc.max_binds = 1
    first, second = await raw_esme(), await raw_esme()
    assert await first.bind() == 0
    assert await second.bind() == codec.ESME_RBINDFAIL


@pytest.mark.parametrize("bind_command", [None, codec.BIND_RECEIVER])
async def test_submit_needs_a_transmitting_bind(
    smsc: SmscSimulator, raw_esme, bind_command: int | None
) -> None:
    esme = await raw_esme()
    if bind_command is not None:
        assert await esme.bind(command_id=bind_command) == 0
    seq = esme.submit()
    assert (await esme.response(seq))[:2] == (codec.SUBMIT_SM_RESP, codec.ESME_RINVBNDSTS)
    assert smsc.submitted == []


@pytest.mark.parametrize(("id_format", "pattern"), [("hex", r"^[0-9A-F]+$"), ("dec", r"^[0-9]+$")])
async def test_submit_gets_unique_ids_in_the_chosen_format(
    smsc: SmscSimulator, raw_esme, id_format: str, pattern: str
) -> None:
    smsc.id_format = id_format
    esme = await raw_esme()
    await esme.bind()
    seqs = [
        esme.submit(destination=f"7701000{i:04d}", text=f"m{i}".encode(), registered_delivery=0)
        for i in range(50)
    ]
    ids = []
    for seq in seqs:
        command_id, status, _, body = await esme.response(seq)
        assert (command_id, status) == (codec.SUBMIT_SM_RESP, 0)
        ids.append(codec.decode_message_id(body))
    assert len(set(ids)) == 50
    assert all(re.match(pattern, i) for i in ids)
    recorded = smsc.submitted
    assert [r.message_id for r in recorded] == ids
    assert [r.destination for r in recorded] == [f"7701000{i:04d}" for i in range(50)]
    assert recorded[7].short_message == b"m7"
    assert recorded[7].system_id == "u"
    assert smsc.stats.submit_sm_ok == 50


async def test_receipt_is_text_and_tlvs_and_is_acknowledged(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    seq = esme.submit(text=b"hello world")
    message_id = codec.decode_message_id((await esme.response(seq))[3])
    ((_, _, dseq, body),) = await esme.wait_for(is_deliver)
    receipt = codec.decode_sm(body)
    assert receipt.is_receipt
    assert receipt.source_addr == "77011234567" and receipt.destination_addr == "Test"
    match = RECEIPT_RE.match(receipt.short_message.decode("ascii"))
    assert match is not None, receipt.short_message
    assert match.groups() == (message_id, "DELIVRD", "000", "hello world")
    assert receipt.tlvs[codec.TLV_RECEIPTED_MESSAGE_ID] == message_id.encode() + b"\x00"
    assert receipt.tlvs[codec.TLV_MESSAGE_STATE] == b"\x02"
    assert receipt.tlvs[codec.TLV_NETWORK_ERROR_CODE] == b"\x03\x00\x00"
    esme.send(codec.DELIVER_SM_RESP, b"\x00", seq=dseq)
    await esme.response(esme.send(codec.ENQUIRE_LINK))  # the ack was read before this answer
    assert smsc.stats.receipts_sent == 1
    assert smsc.stats.deliver_sm_resp == 1


async def test_no_receipt_unless_requested(smsc: SmscSimulator, raw_esme) -> None:
    smsc.dlr_delay_ms = 0
    esme = await raw_esme()
    await esme.bind()
    await esme.response(esme.submit(registered_delivery=0))
    seq = esme.send(codec.ENQUIRE_LINK)  # a round trip after the receipt would have been due
    await esme.response(seq)
    await esme.response(esme.send(codec.ENQUIRE_LINK))
    assert not any(is_deliver(f) for f in esme.inbox)
    assert smsc.stats.receipts_sent == 0


async def test_enquire_link_is_answered_with_the_same_sequence(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    seq = esme.send(codec.ENQUIRE_LINK, seq=4242)
    assert (await esme.response(seq))[:3] == (codec.ENQUIRE_LINK_RESP, 0, 4242)
    assert smsc.stats.enquire_link == 1


async def test_unbind_answers_then_closes(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    seq = esme.send(codec.UNBIND)
    assert (await esme.response(seq))[:2] == (codec.UNBIND_RESP, 0)
    assert await esme.eof()
    assert smsc.stats.unbinds == 1


async def test_unknown_command_gets_generic_nack(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    seq = esme.send(0x000000F7, b"abc")
    assert (await esme.response(seq))[:3] == (codec.GENERIC_NACK, codec.ESME_RINVCMDID, seq)
    # the session survives
    assert (await esme.response(esme.send(codec.ENQUIRE_LINK)))[0] == codec.ENQUIRE_LINK_RESP
    assert smsc.stats.unknown_commands == 1


@pytest.mark.parametrize("length", [8, 15, codec.MAX_PDU_LENGTH + 1, 0xFFFFFFFF])
async def test_bad_command_length_gets_nack_with_sequence_zero_and_close(
    smsc: SmscSimulator, raw_esme, length: int
) -> None:
    esme = await raw_esme()
    esme.send_raw(codec.HEADER.pack(length, codec.ENQUIRE_LINK, 0, 9))
    (frame,) = await esme.wait_for(lambda f: f[0] == codec.GENERIC_NACK)
    assert frame[1:3] == (codec.ESME_RINVCMDLEN, 0)
    assert await esme.eof()


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00\x01\x01", b"\x00\x01\x0177011" + b"x" * 70],
    ids=["empty", "truncated", "unterminated"],
)
async def test_undecodable_submit_is_refused_and_session_survives(
    smsc: SmscSimulator, raw_esme, body: bytes
) -> None:
    esme = await raw_esme()
    await esme.bind()
    seq = esme.send(codec.SUBMIT_SM, body)
    command_id, status, _, _ = await esme.response(seq)
    assert command_id == codec.SUBMIT_SM_RESP and status != 0
    assert (await esme.response(esme.submit()))[1] == 0
    assert len(smsc.submitted) == 1


async def test_unsupported_known_command_answers_its_resp_with_rinvcmdid(
    smsc: SmscSimulator, raw_esme
) -> None:
    esme = await raw_esme()
    await esme.bind()
    seq = esme.send(codec.CANCEL_SM, b"\x00")
    assert (await esme.response(seq))[:2] == (codec.CANCEL_SM | codec.RESPONSE_BIT, codec.ESME_RINVCMDID)
