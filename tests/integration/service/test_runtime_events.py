"""The runtime's side of stored events: what [events] sets on the store, targets of any format, and the
events the Gateway pages through (SMSC simulator over real sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from runtime_helpers import USERS, sim_url, until

from msgbridge.config import EventSettings
from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.service.contract import InvalidSubmission, Submission
from msgbridge.service.runtime import Runtime
from msgbridge.simulators.smsc import SmscSimulator

MO = "https://93.184.216.34/mo"
KANNEL = CallbackTarget("http://127.0.0.1:9/dlr?id=%i&s=%d", format="kannel", mask=31, method="GET")


@pytest.fixture
async def sim() -> AsyncIterator[SmscSimulator]:
    simulator = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=7)
    async with simulator.serve("127.0.0.1", 0):
        yield simulator


async def test_record_all_keeps_every_change_and_mo_goes_to_the_inbound_target(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    settings = EventSettings(record="all", inbound_url=MO, allow_private_callbacks=True)
    async with Runtime(store=str(tmp_path / "rt.db"), transports={"sms": sim_url(sim)}, events=settings) as rt:
        assert await rt.wait_ready()
        assert rt.store.record_all_events and rt.store.inbound_target == CallbackTarget(MO)
        plain, kannel = await rt.accept(
            [Submission(to="+77011234567", text="no target"), Submission(to="+77011234568", text="k", callback=KANNEL)]
        )
        record = await rt.message(kannel.id)
        assert record is not None and CallbackTarget.loads(record.message.metadata["callback"]) == KANNEL

        async def four() -> bool:
            return len([e for e in await rt.events_page(None, 100) if e.status is S.DELIVERED]) == 2

        await until(four, what="both messages delivered")
        await sim.send_mo(system_id="u", source="77019998877", destination="7000", text="STOP")

        async def inbound() -> bool:
            return any(e.type == "message.inbound" for e in await rt.events_page(None, 100))

        await until(inbound, what="the MO's event")
        events = await rt.events_page(None, 100)
        by_message = {(e.message_id, e.status): e.target for e in events if e.type == "message.status"}
        assert by_message == {
            (plain.id, S.SUBMITTED): None, (plain.id, S.DELIVERED): None,
            (kannel.id, S.SUBMITTED): KANNEL, (kannel.id, S.DELIVERED): KANNEL,
        }  # fmt: skip
        [mo] = [e for e in events if e.type == "message.inbound"]
        assert mo.target == CallbackTarget(MO) and mo.inbound is not None and mo.inbound.text == "STOP"
        backlog = await rt.event_backlog()
        assert (backlog.pending, backlog.failed) == (3, 0)  # nothing delivers them in this test
        assert [e.message_id for e in await rt.events_page(None, 100, message_id=plain.id)] == [plain.id, plain.id]


async def test_a_submission_names_one_target_and_a_private_one_only_when_allowed(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with Runtime(store=str(tmp_path / "rt.db"), transports={"sms": sim_url(sim)}) as rt:
        with pytest.raises(InvalidSubmission) as both:
            await rt.accept([Submission(to="+77011234567", text="x", callback_url=MO, callback=KANNEL)])
        assert [(e.field, e.code) for e in both.value.errors] == [("callback_url", ErrorCode.INVALID_ARGUMENT)]
        with pytest.raises(InvalidSubmission) as private:
            await rt.accept([Submission(to="+77011234567", text="x", callback=KANNEL)])
        assert "loopback" in private.value.errors[0].message
        with pytest.raises(InvalidSubmission) as unknown:
            await rt.accept([Submission(to="+77011234567", text="x", callback=CallbackTarget(MO, format="xml"))])
        assert "format" in unknown.value.errors[0].message
        assert await rt.events_page(None, 10) == [] and await rt.queue_depth() == {}
