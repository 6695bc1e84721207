"""MO messages from the simulator, single and concatenated, reassembled by the client."""

from __future__ import annotations

import pytest
from smpp_helpers import smpp_url, take_inbound

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.simulators.smsc import SmscSimulator

LONG_GSM = "Reply from the field: " + "all good here, thanks {for} the € update; " * 6
LONG_UCS2 = "Ответ: всё хорошо 😀 " * 8


@pytest.mark.parametrize("concat", ["udh8", "udh16", "sar", "payload"])
@pytest.mark.parametrize("text", [LONG_GSM, LONG_UCS2], ids=["gsm", "ucs2"])
@pytest.mark.parametrize("order", ["forward", "shuffle"])
@pytest.mark.parametrize("raw_split", [False, True])
async def test_long_mo_is_reassembled(
    smsc: SmscSimulator, concat: str, text: str, order: str, raw_split: bool
) -> None:
    t = open_transport(smpp_url(smsc))
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
    t = open_transport(smpp_url(smsc))
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
