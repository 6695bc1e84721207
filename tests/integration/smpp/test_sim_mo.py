"""Mobile-originated messages from the simulator: single, UDH 8/16-bit, SAR, message_payload, raw splits."""

from __future__ import annotations

import asyncio

import pytest

from msgbridge.core.encoding import decode_gsm7
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.smpp import codec

LONG_GSM = "The quick brown fox jumps over the lazy dog. " * 5  # 225 septets: two parts
LONG_UCS2 = "Привет, мир! " * 8  # 104 UTF-16 units: two parts


async def receive_mo(
    smsc: SmscSimulator, esme, n: int, status: int = 0, **kwargs: object
) -> tuple[list[int], list[codec.ShortMessage]]:
    """Run send_mo while answering each part; return send_mo's statuses and the parts in arrival order."""

    async def answer() -> list[codec.ShortMessage]:
        frames = await esme.wait_for(lambda f: f[0] == codec.DELIVER_SM, n)
        for _, _, seq, _ in frames:
            esme.send(codec.DELIVER_SM_RESP, b"\x00", seq=seq, status=status)
        return [codec.decode_sm(f[3]) for f in frames]

    answering = asyncio.create_task(answer())
    statuses = await smsc.send_mo(system_id="u", **kwargs)  # type: ignore[arg-type]
    return statuses, await answering


def decode_parts(parts: list[codec.ShortMessage]) -> str:
    raw = b""
    for part in parts:
        data = part.payload
        if part.esm_class & codec.ESM_UDHI:
            _, data = codec.split_udh(data)
        raw += data
    coding = parts[0].data_coding
    return raw.decode("utf-16-be") if coding == codec.DC_UCS2 else decode_gsm7(raw)


async def test_single_mo(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    statuses, (part,) = await receive_mo(
        smsc, esme, 1, source="+77011234567", destination="1234", text="hi @ you"
    )
    assert statuses == [0]
    assert (part.esm_class, part.data_coding) == (0, 0)
    assert (part.source_addr, part.source_addr_ton, part.source_addr_npi) == ("77011234567", 1, 1)
    assert (part.destination_addr, part.dest_addr_ton) == ("1234", 3)
    assert part.short_message == b"hi \x00 you"
    assert smsc.stats.mo_sent == 1


@pytest.mark.parametrize(
    ("concat", "udh_head"),
    [("udh8", bytes((0x05, 0x00, 0x03))), ("udh16", bytes((0x06, 0x08, 0x04)))],
)
async def test_udh_concatenation(smsc: SmscSimulator, raw_esme, concat: str, udh_head: bytes) -> None:
    esme = await raw_esme()
    await esme.bind()
    statuses, parts = await receive_mo(
        smsc, esme, 2, source="+77011234567", destination="1234", text=LONG_GSM, concat=concat
    )
    assert statuses == [0, 0]
    infos = []
    for part in parts:
        assert part.esm_class == codec.ESM_UDHI
        assert part.short_message.startswith(udh_head)
        info, _ = codec.split_udh(part.short_message)
        infos.append(info)
    assert [(i.total, i.seq) for i in infos if i] == [(2, 1), (2, 2)]
    assert infos[0] and infos[1] and infos[0].ref == infos[1].ref
    assert decode_parts(parts) == LONG_GSM
    per_part = 153 if concat == "udh8" else 152
    assert len(codec.split_udh(parts[0].short_message)[1]) == per_part


async def test_sar_concatenation_ucs2(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    _, parts = await receive_mo(
        smsc, esme, 2, source="+77011234567", destination="1234", text=LONG_UCS2, concat="sar"
    )
    assert all(p.esm_class == 0 and p.data_coding == codec.DC_UCS2 for p in parts)
    infos = [codec.sar_info(p.tlvs) for p in parts]
    assert [(i.total, i.seq) for i in infos if i] == [(2, 1), (2, 2)]
    assert len(parts[0].short_message) == 67 * 2
    assert decode_parts(parts) == LONG_UCS2


async def test_message_payload(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    _, (part,) = await receive_mo(
        smsc, esme, 1, source="+77011234567", destination="1234", text=LONG_GSM, concat="payload"
    )
    assert part.short_message == b"" and decode_gsm7(part.tlvs[codec.TLV_MESSAGE_PAYLOAD]) == LONG_GSM


async def test_raw_split_cuts_an_escape_pair_and_joining_first_restores_it(
    smsc: SmscSimulator, raw_esme
) -> None:
    text = "a" * 152 + "€" + "b" * 20  # the euro sign's ESC is octet 153: the end of part one
    esme = await raw_esme()
    await esme.bind()
    _, parts = await receive_mo(
        smsc, esme, 2, source="+77011234567", destination="1234", text=text, concat="udh8", raw_split=True
    )
    first = codec.split_udh(parts[0].short_message)[1]
    assert first.endswith(b"\x1b") and len(first) == 153
    assert decode_parts(parts) == text


async def test_reverse_order(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    _, parts = await receive_mo(
        smsc,
        esme,
        2,
        source="+77011234567",
        destination="1234",
        text=LONG_GSM,
        concat="udh8",
        order="reverse",
    )
    seqs = [info.seq for info, _ in (codec.split_udh(p.short_message) for p in parts) if info]
    assert seqs == [2, 1]


async def test_refused_mo_reports_the_status(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    statuses, _ = await receive_mo(
        smsc, esme, 1, status=codec.ESME_RX_P_APPN, source="+77011234567", destination="1234", text="no"
    )
    assert statuses == [codec.ESME_RX_P_APPN]


async def test_mo_waits_for_a_receiver(smsc: SmscSimulator, raw_esme) -> None:
    assert (
        await smsc.send_mo(system_id="u", source="+77011234567", destination="1234", text="later", wait=False)
        == []
    )
    esme = await raw_esme()
    await esme.bind(command_id=codec.BIND_RECEIVER)
    ((_, _, _, body),) = await esme.wait_for(lambda f: f[0] == codec.DELIVER_SM)
    assert codec.decode_sm(body).short_message == b"later"
    assert [f[0] for f in esme.arrived] == [codec.BIND_RECEIVER_RESP, codec.DELIVER_SM]


async def test_text_too_long_without_concat_is_refused(smsc: SmscSimulator) -> None:
    with pytest.raises(ValueError, match="concat"):
        await smsc.send_mo(system_id="u", source="1", destination="2", text="x" * 300)
