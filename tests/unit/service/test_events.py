"""The in-process event fan-out: every subscriber gets every event, a slow one is dropped and told so."""

from __future__ import annotations

import pytest

from msgbridge.core.message import DeliveryReceipt, InboundMessage, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.events import EventHub, EventsLost


async def test_every_subscriber_gets_every_event_in_order() -> None:
    hub = EventHub()
    a, b = hub.subscribe(), hub.subscribe()
    hub.results([SendResult(message_id="m1", status=DeliveryStatus.SUBMITTED, native_id="n1")])
    hub.receipts(
        [
            DeliveryReceipt(native_id="n1", status=DeliveryStatus.DELIVERED, message_id="m1"),
            DeliveryReceipt(native_id="n9", status=DeliveryStatus.DELIVERED),  # names no message: no event
        ]
    )
    hub.inbound([InboundMessage(source="+77019998877", destination="7000", text="STOP")])
    hub.close()
    for sub in (a, b):
        got = [(e.type, e.message_id, e.status) async for e in sub]
        assert got == [
            ("message.status", "m1", DeliveryStatus.SUBMITTED),
            ("message.status", "m1", DeliveryStatus.DELIVERED),
            ("message.inbound", None, None),
        ]


async def test_a_subscriber_that_falls_behind_is_dropped_and_told() -> None:
    hub = EventHub()
    slow, fine = hub.subscribe(size=3), hub.subscribe()
    for i in range(5):
        hub.results([SendResult(message_id=f"m{i}", status=DeliveryStatus.SUBMITTED)])
    assert slow.dropped and not fine.dropped
    with pytest.raises(EventsLost):
        await anext(slow)
    with pytest.raises(EventsLost):
        slow.get_nowait()
    hub.close()
    assert [e.message_id async for e in fine] == [f"m{i}" for i in range(5)]


async def test_nothing_is_published_without_subscribers_and_a_closed_one_stops() -> None:
    hub = EventHub()
    hub.results([SendResult(message_id="m1", status=DeliveryStatus.SUBMITTED)])
    assert hub.published == 0
    sub = hub.subscribe()
    await sub.aclose()
    hub.results([SendResult(message_id="m2", status=DeliveryStatus.SUBMITTED)])
    assert sub.ended and [e async for e in sub] == []
    hub.close()
    late = hub.subscribe()
    assert late.ended
