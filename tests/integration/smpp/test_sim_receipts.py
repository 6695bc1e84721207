"""Receipts from the simulator: every outcome, every id spelling, modes, ordering and redelivery."""

from __future__ import annotations

import re

import pytest

from msgbridge.simulators.smsc import OUTCOMES, SmscSimulator
from msgbridge.smpp import codec

NUMBER = 0x1A2B3C  # = 1715004; the simulator's first message number in these tests


def is_deliver(frame: tuple[int, int, int, bytes]) -> bool:
    return frame[0] == codec.DELIVER_SM


def text_field(receipt: codec.ShortMessage, name: str) -> str:
    match = re.search(rf"{name}:(\S+)", receipt.short_message.decode("ascii"))
    assert match is not None, receipt.short_message
    return match.group(1)


async def one_receipt(
    esme, destination: str = "77011234567", registered_delivery: int = 1, text: bytes = b"hello"
) -> tuple[str, codec.ShortMessage]:
    seq = esme.submit(destination=destination, registered_delivery=registered_delivery, text=text)
    message_id = codec.decode_message_id((await esme.response(seq))[3])
    ((_, _, dseq, body),) = await esme.wait_for(is_deliver)
    esme.send(codec.DELIVER_SM_RESP, b"\x00", seq=dseq)
    return message_id, codec.decode_sm(body)


# (id_format, receipt_id_format, receipt_id_style) -> (submit_sm_resp id, receipt id); written out by hand
ID_CASES = [
    ("hex", "same", "plain", "1A2B3C", "1A2B3C"),
    ("dec", "same", "plain", "1715004", "1715004"),
    ("hex", "dec", "plain", "1A2B3C", "1715004"),
    ("dec", "hex", "plain", "1715004", "1A2B3C"),
    ("hex", "same", "leading_zeros", "1A2B3C", "000000000000001A2B3C"),
    ("dec", "same", "leading_zeros", "1715004", "00000000000001715004"),
    ("hex", "dec", "leading_zeros", "1A2B3C", "00000000000001715004"),
    ("hex", "same", "lower", "1A2B3C", "1a2b3c"),
    ("dec", "hex", "lower", "1715004", "1a2b3c"),
    ("hex", "hex", "lower", "1A2B3C", "1a2b3c"),
    ("dec", "dec", "lower", "1715004", "1715004"),
]


@pytest.mark.parametrize(("id_format", "receipt_format", "style", "resp_id", "rid"), ID_CASES)
async def test_receipt_id_spellings(
    smsc: SmscSimulator, raw_esme, id_format: str, receipt_format: str, style: str, resp_id: str, rid: str
) -> None:
    smsc.next_number = NUMBER
    smsc.id_format = id_format
    smsc.receipt_id_format = receipt_format
    smsc.receipt_id_style = style
    esme = await raw_esme()
    await esme.bind()
    message_id, receipt = await one_receipt(esme)
    assert message_id == resp_id
    assert text_field(receipt, "id") == rid
    assert receipt.tlvs[codec.TLV_RECEIPTED_MESSAGE_ID] == rid.encode() + b"\x00"


# outcome -> (stat, message_state, err, network_error_code TLV, dlvrd); independent of the module's table
OUTCOME_CASES = {
    "enroute": ("ENROUTE", 1, "000", b"\x03\x00\x00", "000"),
    "delivered": ("DELIVRD", 2, "000", b"\x03\x00\x00", "001"),
    "expired": ("EXPIRED", 3, "027", b"\x03\x00\x1b", "000"),
    "deleted": ("DELETED", 4, "000", b"\x03\x00\x00", "000"),
    "undeliverable": ("UNDELIV", 5, "001", b"\x03\x00\x01", "000"),
    "accepted": ("ACCEPTD", 6, "000", b"\x03\x00\x00", "000"),
    "unknown": ("UNKNOWN", 7, "000", b"\x03\x00\x00", "000"),
    "rejected": ("REJECTD", 8, "013", b"\x03\x00\x0d", "000"),
}


def test_outcome_table_has_exactly_the_tested_rows() -> None:
    assert set(OUTCOMES) == set(OUTCOME_CASES)


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
async def test_every_outcome_row(smsc: SmscSimulator, raw_esme, outcome: str) -> None:
    stat, state, err, nec, dlvrd = OUTCOME_CASES[outcome]
    smsc.dlr_by_destination = {"77010000001": outcome}
    esme = await raw_esme()
    await esme.bind()
    _, receipt = await one_receipt(esme, destination="77010000001")
    assert receipt.esm_class == codec.ESM_DELIVERY_RECEIPT
    assert text_field(receipt, "stat") == stat
    assert text_field(receipt, "err") == err
    assert text_field(receipt, "dlvrd") == dlvrd
    assert receipt.tlvs[codec.TLV_MESSAGE_STATE] == bytes((state,))
    assert receipt.tlvs[codec.TLV_NETWORK_ERROR_CODE] == nec


async def test_receipt_mode_text_only(smsc: SmscSimulator, raw_esme) -> None:
    smsc.receipt_mode = "text"
    esme = await raw_esme()
    await esme.bind()
    message_id, receipt = await one_receipt(esme)
    assert receipt.tlvs == {}
    assert text_field(receipt, "id") == message_id


async def test_receipt_mode_tlv_only(smsc: SmscSimulator, raw_esme) -> None:
    smsc.receipt_mode = "tlv"
    esme = await raw_esme()
    await esme.bind()
    message_id, receipt = await one_receipt(esme)
    assert receipt.short_message == b""
    assert receipt.tlvs[codec.TLV_RECEIPTED_MESSAGE_ID] == message_id.encode() + b"\x00"
    assert receipt.tlvs[codec.TLV_MESSAGE_STATE] == b"\x02"


async def test_receipt_text_preview_is_first_20_safe_characters(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    _, receipt = await one_receipt(esme, text=b"Hello @ world, 0123456789 and more")
    # octet 0x40 is '@' in ASCII but '¡' in GSM-7: ambiguous, so shown as '.'
    assert receipt.short_message.decode("ascii").endswith("text:Hello . world, 01234")


async def test_receipt_before_resp(smsc: SmscSimulator, raw_esme) -> None:
    smsc.dlr_before_resp = True
    smsc.dlr_delay_ms = 10_000  # would never arrive in time if the delay applied
    esme = await raw_esme()
    await esme.bind()
    seq = esme.submit()
    resp = await esme.response(seq)
    commands = [f[0] for f in esme.arrived[1:]]
    assert commands == [codec.DELIVER_SM, codec.SUBMIT_SM_RESP]
    (deliver,) = await esme.wait_for(is_deliver)
    assert text_field(codec.decode_sm(deliver[3]), "id") == codec.decode_message_id(resp[3])


async def test_registered_delivery_2_reports_failures_only(smsc: SmscSimulator, raw_esme) -> None:
    smsc.dlr_by_destination = {"77010000001": "delivered", "77010000002": "undeliverable"}
    esme = await raw_esme()
    await esme.bind()
    await esme.response(esme.submit(destination="77010000001", registered_delivery=2))
    _, receipt = await one_receipt(esme, destination="77010000002", registered_delivery=2)
    assert receipt.source_addr == "77010000002"
    await esme.response(esme.send(codec.ENQUIRE_LINK))
    assert smsc.stats.receipts_sent == 1


async def test_dlr_mix_proportions_and_seed(smsc: SmscSimulator, raw_esme) -> None:
    smsc.dlr_mix = {"delivered": 0.9, "undeliverable": 0.1}
    smsc.dlr_delay_ms = 0
    esme = await raw_esme()
    await esme.bind()
    seqs = [esme.submit(destination=f"77010{i:06d}") for i in range(400)]
    for seq in seqs:
        await esme.response(seq)
    delivers = await esme.wait_for(is_deliver, 400)
    stats = [text_field(codec.decode_sm(f[3]), "stat") for f in delivers]
    assert set(stats) == {"DELIVRD", "UNDELIV"}
    assert 10 <= stats.count("UNDELIV") <= 80  # expectation 40, sd ~6


async def test_same_seed_same_outcomes() -> None:
    a = SmscSimulator(dlr_mix={"delivered": 1, "expired": 1, "rejected": 1}, seed=3)
    b = SmscSimulator(dlr_mix={"delivered": 1, "expired": 1, "rejected": 1}, seed=3)
    pick_a, pick_b = a._outcome_picker(), b._outcome_picker()
    draws = [pick_a(b"x") for _ in range(50)]
    assert draws == [pick_b(b"x") for _ in range(50)]
    assert set(draws) == {"delivered", "expired", "rejected"}


async def test_refused_receipt_is_redelivered(smsc: SmscSimulator, raw_esme) -> None:
    smsc.redeliver_delay_ms = 10
    esme = await raw_esme()
    await esme.bind()
    await esme.response(esme.submit())
    ((_, _, dseq, body),) = await esme.wait_for(is_deliver)
    esme.send(codec.DELIVER_SM_RESP, b"\x00", seq=dseq, status=codec.ESME_RX_T_APPN)  # "cannot store now"
    ((_, _, dseq2, body2),) = await esme.wait_for(is_deliver)
    assert body2 == body and dseq2 != dseq
    esme.send(codec.DELIVER_SM_RESP, b"\x00", seq=dseq2)
    await esme.response(esme.send(codec.ENQUIRE_LINK))
    assert (smsc.stats.redelivered, smsc.stats.deliver_sm_resp) == (1, 1)


async def test_permanently_refused_receipt_is_not_redelivered(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    await esme.response(esme.submit())
    ((_, _, dseq, _),) = await esme.wait_for(is_deliver)
    esme.send(codec.DELIVER_SM_RESP, b"\x00", seq=dseq, status=codec.ESME_RX_P_APPN)
    await esme.response(esme.send(codec.ENQUIRE_LINK))
    assert (smsc.stats.redelivered, smsc.stats.deliver_sm_refused) == (0, 1)


async def test_unanswered_receipt_goes_to_the_next_bind(smsc: SmscSimulator, raw_esme) -> None:
    first = await raw_esme()
    await first.bind()
    await first.response(first.submit())
    ((_, _, _, body),) = await first.wait_for(is_deliver)
    await first.close()  # never answered
    second = await raw_esme()
    await second.bind()
    ((_, _, _, again),) = await second.wait_for(is_deliver)
    assert again == body
    assert smsc.stats.redelivered == 1


@pytest.mark.parametrize("latency_ms", [0, 30])
async def test_receipts_wait_for_a_receiver_bind(smsc: SmscSimulator, raw_esme, latency_ms: int) -> None:
    smsc.latency_ms = latency_ms
    tx = await raw_esme()
    await tx.bind(command_id=codec.BIND_TRANSMITTER)
    message_id = codec.decode_message_id((await tx.response(tx.submit()))[3])
    rx = await raw_esme()
    await rx.bind(command_id=codec.BIND_RECEIVER)
    ((_, _, _, body),) = await rx.wait_for(is_deliver)
    assert text_field(codec.decode_sm(body), "id") == message_id
    assert rx.arrived[0][0] == codec.BIND_RECEIVER_RESP  # what waited goes out after the bind answer
    assert not any(is_deliver(f) for f in tx.arrived)


async def test_query_sm_reports_the_receipt_state(smsc: SmscSimulator, raw_esme) -> None:
    smsc.dlr_by_destination = {"77010000009": "expired"}
    esme = await raw_esme()
    await esme.bind()
    message_id, _ = await one_receipt(esme, destination="77010000009")
    seq = esme.send(codec.QUERY_SM, codec.cstr(message_id) + b"\x00\x00\x00")
    command_id, status, _, body = await esme.response(seq)
    assert (command_id, status) == (codec.QUERY_SM_RESP, 0)
    qid, p = codec.read_cstr(body, 0)
    final_date, p = codec.read_cstr(body, p)
    assert qid.decode() == message_id and len(final_date) == 16
    assert body[p] == 3  # EXPIRED
    seq = esme.send(codec.QUERY_SM, codec.cstr("NOPE") + b"\x00\x00\x00")
    assert (await esme.response(seq))[1] == 0x67


async def test_unanswered_receipt_is_resent_after_the_deliver_timeout(smsc: SmscSimulator, raw_esme) -> None:
    smsc.deliver_timeout_ms = 50
    esme = await raw_esme()
    await esme.bind()
    await esme.response(esme.submit())
    ((_, _, first_seq, body),) = await esme.wait_for(is_deliver)  # not answered
    ((_, _, second_seq, again),) = await esme.wait_for(is_deliver)
    assert again == body and second_seq != first_seq
    esme.send(codec.DELIVER_SM_RESP, b"\x00", seq=second_seq)
    esme.send(codec.DELIVER_SM_RESP, b"\x00", seq=first_seq)  # a late answer to the first copy is ignored
    await esme.response(esme.send(codec.ENQUIRE_LINK))
    assert smsc.stats.redelivered >= 1 and smsc.stats.deliver_sm_resp == 1


async def test_simulator_sends_enquire_link_when_asked(smsc: SmscSimulator, raw_esme) -> None:
    smsc.enquire_link_ms = 50
    esme = await raw_esme()
    await esme.bind()
    ((_, _, seq, _),) = await esme.wait_for(lambda f: f[0] == codec.ENQUIRE_LINK)
    esme.send(codec.ENQUIRE_LINK_RESP, seq=seq)
    await esme.response(esme.send(codec.ENQUIRE_LINK))
    assert smsc.stats.enquire_link_sent >= 1 and smsc.stats.enquire_link_resp == 1


async def test_intermediate_notification_comes_before_the_final_receipt(
    smsc: SmscSimulator, raw_esme
) -> None:
    esme = await raw_esme()
    await esme.bind()
    message_id = codec.decode_message_id((await esme.response(esme.submit(registered_delivery=0x11)))[3])
    delivers = await esme.wait_for(is_deliver, 2)
    receipts = [codec.decode_sm(f[3]) for f in delivers]
    assert [text_field(r, "stat") for r in receipts] == ["ACCEPTD", "DELIVRD"]
    assert [r.tlvs[codec.TLV_MESSAGE_STATE] for r in receipts] == [b"\x06", b"\x02"]
    assert {text_field(r, "id") for r in receipts} == {message_id}
