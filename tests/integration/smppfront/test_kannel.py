"""Kannel (bearerbox + smsbox, Debian's package) as the ESME: sendsms over HTTP in, receipt out to its dlr-url."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Iterator

import pytest
from front_peers import DlrReceiver, Target, dlr_receiver_fixture, target_fixture  # noqa: F401
from kannel_box import KannelBox, KannelNotFound, SmscLink, find_boxes

# Kannel's dlr-mask bits (user guide, "SMS Delivery Reports"): 1 delivery success, 2 delivery failure,
# 4 message buffered, 8 smsc submit, 16 smsc reject.
DELIVERED, BUFFERED, SMSC_SUBMIT = 1, 4, 8


@pytest.fixture
def kannel(target: Target) -> Iterator[KannelBox]:
    try:
        find_boxes()
    except KannelNotFound as exc:
        pytest.skip(str(exc))
    box = KannelBox.start(SmscLink(target.host, target.port, target.system_id, target.password))
    yield box
    box.stop()


async def test_kannel_sendsms_reaches_the_server_and_its_receipt_calls_dlr_url(
    target: Target, kannel: KannelBox, dlr_receiver: DlrReceiver
) -> None:
    await asyncio.to_thread(kannel.wait_online)
    # Kannel's escapes in the dlr-url (user guide, "Parameters (Escape Codes)"): %d the delivery report
    # value, %F the foreign (smsc-provided) message id, %p the sender (of the report: the phone), %A the SMSC's reply.
    dlr_url = f"http://127.0.0.1:{dlr_receiver.port}/dlr?ref=k1&type=%d&id=%F&to=%p&answer=%A"
    status, body = await asyncio.to_thread(
        kannel.sendsms, "77011234567", "hello from Kannel", **{"dlr-mask": "31", "dlr-url": dlr_url}
    )
    assert status == 202, body  # "Accepted for delivery": smsbox answers once bearerbox has the message
    calls = await asyncio.to_thread(
        dlr_receiver.wait, lambda c: any(x.get("type") == str(DELIVERED) for x in c), 20
    )
    assert target.submitted() == [b"hello from Kannel"], kannel.logs()
    by_type = {int(c["type"]): c for c in calls}
    assert DELIVERED in by_type, (calls, kannel.logs())
    assert set(by_type) <= {DELIVERED, BUFFERED, SMSC_SUBMIT}, calls  # intermediate states may come too
    final = by_type[DELIVERED]
    assert final["ref"] == "k1" and final["to"].lstrip("+") == "77011234567"
    # the id the server answered with: Kannel matched the receipt to its submit_sm_resp by it
    assert await target.knows([final["id"]]), final
    assert "stat:DELIVRD" in urllib.parse.unquote(final["answer"]), final
