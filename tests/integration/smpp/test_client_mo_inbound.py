"""MO messages from the simulator, single and concatenated, reassembled by the client."""

from __future__ import annotations

import pytest
from smpp_helpers import eventually, messages, smpp_url, take_inbound, take_receipts

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.status import DeliveryStatus
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.smpp import codec

LONG_GSM = "Reply from the field: " + "all good here, thanks {for} the € update; " * 6
LONG_UCS2 = "Ответ: всё хорошо 😀 " * 8


@pytest.mark.parametrize("concat", ["udh8", "udh16", "sar", "payload"])
@pytest.mark.parametrize("text", [LONG_GSM, LONG_UCS2], ids=["gsm", "ucs2"])
@pytest.mark.parametrize("order", ["forward", "shuffle"])
@pytest.mark.parametrize("raw_split", [False, True])
async def test_long_mo_is_reassembled(
    smsc: SmscSimulator, concat: str, text: str, order: str, raw_split: bool
) -> None:
    t = open_transport(smpp_url(smsc, mo="always"))
    assert isinstance(t, SmppTransport)
    async with t:
        await t.open()
        statuses = await smsc.send_mo(
            system_id="u",
            source="+77011234567",
            destination="1234",
            text=text,
            concat=concat,
            order=order,
            raw_split=raw_split,
        )
        [msg] = await take_inbound(t, 1)
    assert set(statuses) == {0}
    assert msg.text == text
    assert (msg.source, msg.destination, msg.link) == ("+77011234567", "1234", t.link)
    assert msg.parts == (1 if concat == "payload" else len(statuses))


async def test_short_mo_and_two_senders(smsc: SmscSimulator) -> None:
    t = open_transport(smpp_url(smsc, mo="always"))
    assert isinstance(t, SmppTransport)
    async with t:
        await t.open()
        await smsc.send_mo(system_id="u", source="+77010000001", destination="1234", text="hi")
        await smsc.send_mo(
            system_id="u", source="+77010000002", destination="1234", text=LONG_GSM, concat="udh8"
        )
        await smsc.send_mo(
            system_id="u", source="+77010000003", destination="1234", text=LONG_GSM, concat="udh8"
        )
        got = await take_inbound(t, 3)
    assert sorted((m.source, m.text) for m in got) == [
        ("+77010000001", "hi"),
        ("+77010000002", LONG_GSM),
        ("+77010000003", LONG_GSM),
    ]


def data_sm(seq: int, source: str, dest: str, esm: int, tlvs: bytes, dc: int = 0) -> bytes:
    body = b"\x00" + bytes((1, 1)) + source.encode() + b"\x00" + bytes((0, 0)) + dest.encode() + b"\x00"
    return codec.pdu(codec.DATA_SM, 0, seq, body + bytes((esm, 0, dc)) + tlvs)


async def test_data_sm_receipts_and_mo_are_handled(smsc: SmscSimulator) -> None:
    t = open_transport(smpp_url(smsc, mo="always"))
    assert isinstance(t, SmppTransport)
    async with t:
        [sent] = await t.send(messages(1))
        assert sent.native_id is not None
        receipt_tlvs = codec.tlv(
            codec.TLV_RECEIPTED_MESSAGE_ID, sent.native_id.encode() + b"\x00"
        ) + codec.tlv_u8(codec.TLV_MESSAGE_STATE, 5)
        smsc.inject(data_sm(501, "77011234567", "Test", codec.ESM_DELIVERY_RECEIPT, receipt_tlvs))
        smsc.inject(
            data_sm(
                502,
                "77011234567",
                "1234",
                0,
                codec.tlv(codec.TLV_MESSAGE_PAYLOAD, "Hi 😀".encode("utf-16-be")),
                dc=8,
            )
        )
        receipts = await take_receipts(t, 2)  # the simulator's own receipt and ours, in either order
        [mo] = await take_inbound(t, 1)
    ours = [r for r in receipts if r.status is DeliveryStatus.UNDELIVERABLE]
    assert len(ours) == 1 and ours[0].message_id == sent.message_id
    assert (mo.source, mo.text) == ("+77011234567", "Hi 😀")


async def test_mo_waits_at_the_smsc_until_someone_reads_inbound(smsc: SmscSimulator) -> None:
    smsc.redeliver_delay_ms = 50
    t = open_transport(smpp_url(smsc))  # default mo=listen
    assert isinstance(t, SmppTransport)
    async with t:
        await t.open()
        await smsc.send_mo(system_id="u", source="+77011234567", destination="1234", text="early", wait=False)
        # not acknowledged while nothing reads inbound(): the SMSC keeps it and tries again
        await eventually(lambda: smsc.stats.redelivered >= 2, what="the SMSC redelivering a deferred MO")
        assert t.stats()["mo_deferred"] >= 2
        assert t.stats()["mo_parts"] == 0
        [msg] = await take_inbound(t, 1)  # reading now: the SMSC's redelivery is taken
    assert msg.text == "early"
    assert t.stats()["mo_parts"] == 1
