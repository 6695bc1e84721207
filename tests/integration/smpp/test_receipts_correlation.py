"""DLR correlation over real sockets for every id spelling the simulator can produce."""

from __future__ import annotations

import pytest
from smpp_helpers import messages, smpp_url, take_receipts

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.status import DeliveryStatus, aggregate
from msgbridge.simulators.smsc import SmscSimulator

# (submit_sm_resp id format, receipt id format, receipt id style, our id_base option)
ID_CASES: list[tuple[str, str, str, str]] = [
    ("hex", "same", "plain", "auto"),
    ("dec", "same", "plain", "auto"),
    ("hex", "same", "leading_zeros", "auto"),
    ("dec", "same", "leading_zeros", "auto"),
    ("hex", "same", "lower", "auto"),
    ("hex", "dec", "plain", "auto"),
    ("dec", "hex", "plain", "auto"),
    ("hex", "dec", "leading_zeros", "auto"),
    ("dec", "hex", "lower", "auto"),
    ("hex", "dec", "plain", "resp_hex"),
    ("dec", "hex", "leading_zeros", "receipt_hex"),
    ("hex", "same", "lower", "same"),
    ("dec", "same", "leading_zeros", "same"),
]


@pytest.mark.parametrize(("id_format", "receipt_format", "style", "id_base"), ID_CASES)
@pytest.mark.parametrize("receipt_mode", ["text+tlv", "text", "tlv"])
async def test_every_id_spelling_is_matched(
    smsc: SmscSimulator, id_format: str, receipt_format: str, style: str, id_base: str, receipt_mode: str
) -> None:
    smsc.id_format = id_format
    smsc.receipt_id_format = receipt_format
    smsc.receipt_id_style = style
    smsc.receipt_mode = receipt_mode
    t = open_transport(smpp_url(smsc, window=10, id_base=id_base))
    assert isinstance(t, SmppTransport)
    async with t:
        results = await t.send(messages(12))
        receipts = await take_receipts(t, 12)
    by_native = {r.native_id: r.message_id for r in results}
    assert len(by_native) == 12
    for rc in receipts:
        assert rc.message_id is not None, rc
        assert by_native[rc.native_id] == rc.message_id
        assert rc.status is DeliveryStatus.DELIVERED
        assert rc.link == t.link
    assert {rc.message_id for rc in receipts} == {r.message_id for r in results}
    assert t.correlator.stats.unmatched == 0


async def test_receipt_before_submit_sm_resp(smsc: SmscSimulator) -> None:
    smsc.dlr_before_resp = True
    t = open_transport(smpp_url(smsc, window=10))
    assert isinstance(t, SmppTransport)
    async with t:
        results = await t.send(messages(10))
        receipts = await take_receipts(t, 10)
    assert t.correlator.stats.released == 10  # all of them waited for their resp
    assert {(rc.native_id, rc.message_id) for rc in receipts} == {
        (r.native_id, r.message_id) for r in results
    }


async def test_one_receipt_per_segment_and_the_message_status(smsc: SmscSimulator) -> None:
    smsc.dlr_mix = {"delivered": 0.6, "undeliverable": 0.4}
    long_text = "x" * 300  # two segments
    t = open_transport(smpp_url(smsc, window=20))
    assert isinstance(t, SmppTransport)
    async with t:
        results = await t.send(messages(20, text=long_text + "{i}"))
        receipts = await take_receipts(t, 40)
    per_message: dict[str, dict[int, DeliveryStatus]] = {}
    for rc in receipts:
        assert rc.message_id is not None and rc.raw is not None
        assert rc.raw["segments"] == 2
        per_message.setdefault(rc.message_id, {})[int(str(rc.raw["segment"]))] = rc.status
    assert set(per_message) == {r.message_id for r in results}
    outcomes = {aggregate(parts.values()) for parts in per_message.values()}
    # with this seed and mix all three outcomes occur; each message's is computed from its own segments
    assert outcomes == {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.PARTIALLY_DELIVERED,
        DeliveryStatus.UNDELIVERABLE,
    }
    for rc in receipts:
        if rc.status is DeliveryStatus.UNDELIVERABLE:
            assert rc.error is not None and "UNDELIV" in rc.error.native_message
