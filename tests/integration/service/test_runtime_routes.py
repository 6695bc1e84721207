"""The runtime's routed lanes against the plain lanes that own their transports, at shutdown."""

from __future__ import annotations

from pathlib import Path

from runtime_helpers import until

from msgbridge.core.status import DeliveryStatus
from msgbridge.routing.config import Route, RoutingConfig
from msgbridge.service.contract import Submission
from msgbridge.service.runtime import Runtime
from msgbridge.store import open_store


async def test_drain_lets_a_routed_send_finish_before_its_transport_closes(tmp_path: Path) -> None:
    """The plain lane closes ``sms`` only once the ``auto`` lane's send through it is answered: closed
    earlier, the receipt of that send would have nowhere to go and the message would stay SUBMITTED."""
    path = str(tmp_path / "rt.db")
    rt = Runtime(
        store=path,
        transports={"sms": "memory://?latency_ms=300&dlr_delay_ms=0"},
        routing=RoutingConfig(routes=(Route("all", ("sms",)),)),
    )
    await rt.start()
    try:
        assert await rt.wait_ready()
        [accepted] = await rt.accept([Submission(to="+77011234567", text="in flight at the drain")])
        assert accepted.transport == "auto"

        async def in_flight() -> bool:
            record = await rt.message(accepted.id)
            return record is not None and record.status is DeliveryStatus.MAYBE_SUBMITTED

        await until(in_flight, what="the routed send under way")
    finally:
        await rt.drain(5.0)
    store = open_store(path)
    await store.open()
    try:
        record = await store.get(accepted.id)
    finally:
        await store.close()
    assert record is not None and record.status is DeliveryStatus.DELIVERED
    assert rt.health()[0].sent == {DeliveryStatus.SUBMITTED: 1}  # counted on the transport that carried it
