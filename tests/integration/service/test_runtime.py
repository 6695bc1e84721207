"""The runtime against the SMSC simulator over real sockets: accept, receipts, restarts, drain, events."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from runtime_helpers import USERS, sim_url, until

from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.contract import Event, InvalidSubmission, Submission
from msgbridge.service.runtime import NotAccepting, Runtime
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.sqlite import SqliteStore


@pytest.fixture
async def sim() -> AsyncIterator[SmscSimulator]:
    simulator = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=3)
    async with simulator.serve("127.0.0.1", 0):
        yield simulator


def runtime(db: Path, sim: SmscSimulator, **options: object) -> Runtime:
    return Runtime(store=str(db), transports={"sms": sim_url(sim, **options)})


async def status_of(rt: Runtime, mid: str) -> DeliveryStatus | None:
    rec = await rt.message(mid)
    return rec.status if rec is not None else None


async def test_accepted_message_is_delivered_through_receipts(sim: SmscSimulator, tmp_path: Path) -> None:
    async with runtime(tmp_path / "rt.db", sim) as rt:
        assert await rt.wait_ready()
        [acc] = await rt.accept([Submission(to="+77011234567", text="hello", sender="Shop")])
        assert acc.status is DeliveryStatus.QUEUED and acc.transport == "sms" and not acc.duplicate
        rec = await rt.message(acc.id)
        assert rec is not None and rec.status in (
            DeliveryStatus.QUEUED,
            DeliveryStatus.SUBMITTED,
            DeliveryStatus.DELIVERED,
        )

        async def delivered() -> bool:
            return await status_of(rt, acc.id) is DeliveryStatus.DELIVERED

        await until(delivered, what="DELIVERED")
        [health] = rt.health()
        assert health.name == "sms" and health.scheme == "smpp" and health.up
        assert health.binds_up == health.binds == 1
        assert health.sent.get(DeliveryStatus.SUBMITTED) == 1
        assert health.receipts_matched == 1
        assert (
            health.submit_latency.total >= 1
            and health.submit_latency.counts[-1] <= health.submit_latency.total
        )
    assert [s.destination for s in sim.submitted] == ["77011234567"]


async def test_a_receipt_after_a_restart_finds_its_message(sim: SmscSimulator, tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    # The receipt comes after this runtime has closed (it takes well under a second to send and close):
    # the SMSC keeps it for the next bind, which is the restarted runtime's.
    sim.dlr_delay_ms = 4000
    async with runtime(db, sim) as rt:
        [acc] = await rt.accept([Submission(to="+77011234567", text="late receipt")])

        async def submitted() -> bool:
            return await status_of(rt, acc.id) is DeliveryStatus.SUBMITTED

        await until(submitted, what="SUBMITTED")
    assert sim.stats.receipts_sent == 0
    async with runtime(db, sim) as again:

        async def delivered() -> bool:
            return await status_of(again, acc.id) is DeliveryStatus.DELIVERED

        await until(delivered, what="the late receipt matched after the restart")
        [health] = again.health()
        assert health.receipts_matched == 1
    assert len(sim.submitted) == 1


async def test_drain_with_messages_in_flight_loses_nothing_and_sends_nothing_twice(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    db = tmp_path / "rt.db"
    sim.latency_ms = 5  # answers take a while, so the drain finds requests in flight
    n = 1500
    rt = runtime(db, sim, window=10)
    await rt.start()
    accepted = await rt.accept([Submission(to=f"+7701{i:07d}", text=f"m{i}") for i in range(n)])
    ids = [a.id for a in accepted]
    assert len(set(ids)) == n

    async def some_sent() -> bool:
        return len(sim.accepted) >= 50

    await until(some_sent, what="some messages sent")
    await rt.drain(0.5)
    with pytest.raises(NotAccepting):
        await rt.accept([Submission(to="+77011234567", text="too late")])
    sent_before = Counter(s.short_message for s in sim.submitted)
    assert max(sent_before.values()) == 1
    assert len(sent_before) < n  # the drain did stop claiming
    async with SqliteStore(db) as store:
        left = await store.counts()
        claimed = await store.held_elsewhere()
    # Every message is queued again (never written), answered, or in doubt; nothing is lost or held.
    assert sum(left.values()) == n and claimed == 0
    assert set(left) <= {
        DeliveryStatus.QUEUED,
        DeliveryStatus.SUBMITTED,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.MAYBE_SUBMITTED,
    }
    answered = left.get(DeliveryStatus.SUBMITTED, 0) + left.get(DeliveryStatus.DELIVERED, 0)
    assert answered <= len(sent_before) <= answered + left.get(DeliveryStatus.MAYBE_SUBMITTED, 0)

    async with runtime(db, sim, window=10) as again:
        counts: dict[DeliveryStatus, int] = {}

        async def settled() -> bool:
            nonlocal counts
            counts = dict(await again.queue_depth())
            return (
                counts.get(DeliveryStatus.QUEUED, 0) == 0
                and sum(counts.values()) == n
                and (counts.get(DeliveryStatus.SUBMITTED, 0) == 0)
            )

        await until(settled, seconds=60, what="everything sent after the restart")
    assert set(counts) <= {DeliveryStatus.DELIVERED, DeliveryStatus.MAYBE_SUBMITTED}
    sent = Counter(s.short_message for s in sim.submitted)
    assert max(sent.values()) == 1  # none twice, across the drain and the restart
    # Everything not left in doubt was sent exactly once; what is in doubt was sent at most once.
    assert n - counts.get(DeliveryStatus.MAYBE_SUBMITTED, 0) <= len(sent) <= n


async def test_a_repeated_reference_returns_the_first_message(sim: SmscSimulator, tmp_path: Path) -> None:
    async with runtime(tmp_path / "rt.db", sim) as rt:
        [first] = await rt.accept(
            [Submission(to="+77011234567", text="once", reference="order-1")], scope="k1"
        )

        async def delivered() -> bool:
            return await status_of(rt, first.id) is DeliveryStatus.DELIVERED

        await until(delivered, what="DELIVERED")
        [again] = await rt.accept(
            [Submission(to="+77011234567", text="once", reference="order-1")], scope="k1"
        )
        assert again.id == first.id and again.duplicate and again.status is DeliveryStatus.DELIVERED
        # Another scope (API key) has its own references.
        [other] = await rt.accept(
            [Submission(to="+77011234567", text="once", reference="order-1")], scope="k2"
        )
        assert other.id != first.id and not other.duplicate

        async def other_sent() -> bool:
            return await status_of(rt, other.id) is DeliveryStatus.DELIVERED

        await until(other_sent, what="the other scope's message")
        # Twice in one batch: one message, the second entry names the first.
        twice = [Submission(to="+77011234567", text="twice", reference="order-2")] * 2
        [one, two] = await rt.accept(twice, scope="k1")
        assert two.id == one.id and two.duplicate and not one.duplicate

        async def third_sent() -> bool:
            return await status_of(rt, one.id) is DeliveryStatus.DELIVERED

        await until(third_sent, what="the batch's one message")
    assert len(sim.submitted) == 3


async def test_an_invalid_batch_names_each_problem_and_queues_nothing(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with runtime(tmp_path / "rt.db", sim) as rt:
        batch = [
            Submission(to="+77011234567", text="fine"),
            Submission(to="not a phone", text="x"),
            Submission(to="+77011234567", text="   "),
            Submission(to="+77011234567", text="x", sender="a sender far too long"),
            Submission(to="+77011234567", text="x", transport="nope"),
            Submission(to="+77011234567", text="x", callback_url="ftp://example.org/x"),
        ]
        with pytest.raises(InvalidSubmission) as info:
            await rt.accept(batch)
        found = {(e.index, e.field, e.code) for e in info.value.errors}
        assert found == {
            (1, "to", ErrorCode.INVALID_DESTINATION),
            (2, "text", ErrorCode.INVALID_ARGUMENT),
            (3, "sender", ErrorCode.INVALID_SENDER),
            (4, "transport", ErrorCode.INVALID_ARGUMENT),
            (5, "callback_url", ErrorCode.INVALID_ARGUMENT),
        }
        assert await rt.queue_depth() == {}


async def test_events_report_status_changes_and_inbound_messages(sim: SmscSimulator, tmp_path: Path) -> None:
    async with runtime(tmp_path / "rt.db", sim) as rt:
        assert await rt.wait_ready()
        stream = rt.events()
        [acc] = await rt.accept([Submission(to="+77011234567", text="watch me")])
        seen: list[Event] = []
        async for event in stream:
            seen.append(event)
            if event.status is DeliveryStatus.DELIVERED:
                break
        assert [(e.type, e.message_id, e.status) for e in seen] == [
            ("message.status", acc.id, DeliveryStatus.SUBMITTED),
            ("message.status", acc.id, DeliveryStatus.DELIVERED),
        ]
        await sim.send_mo(system_id="u", source="77019998877", destination="7000", text="STOP")
        event = await anext(stream)
        assert event.type == "message.inbound" and event.inbound is not None
        assert (event.inbound.source, event.inbound.text) == ("+77019998877", "STOP")
        [stored] = await rt.store.list_inbound()
        assert stored.id == event.inbound.id
        await stream.aclose()


async def test_events_report_receipts_a_polled_transport_was_asked_for(tmp_path: Path) -> None:
    # memory://?poll=yes pushes no receipt: its statuses come from the poller, which must announce them too.
    transports = {"polled": "memory://?poll=yes&dlr_delay_ms=20"}
    async with Runtime(store=str(tmp_path / "rt.db"), transports=transports) as rt:
        assert await rt.wait_ready()
        stream = rt.events()
        [acc] = await rt.accept([Submission(to="+77011234567", text="poll me")])
        seen: list[Event] = []
        async for event in stream:
            seen.append(event)
            if event.status is not None and event.status.is_final:
                break
        assert [(e.message_id, e.status) for e in seen] == [
            (acc.id, DeliveryStatus.SUBMITTED),
            (acc.id, DeliveryStatus.DELIVERED),
        ]
        await stream.aclose()


async def test_a_peer_down_at_start_is_retried_until_it_is_up(tmp_path: Path) -> None:
    sim = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=4)
    async with sim.serve("127.0.0.1", 0):
        port = sim.port
    # Nothing listens on ``port`` now: the runtime starts anyway, not ready, and accepts into the outbox.
    rt = Runtime(store=str(tmp_path / "rt.db"), transports={"sms": f"smpp://u:p@127.0.0.1:{port}"})
    await rt.start()
    try:
        assert not rt.ready()
        [acc] = await rt.accept([Submission(to="+77011234567", text="queued while down")])

        async def failing() -> bool:
            return rt.health()[0].last_error is not None

        await until(failing, what="the failed open reported")
        [health] = rt.health()
        assert (
            not health.up
            and health.last_error is not None
            and health.last_error.code is ErrorCode.NETWORK_ERROR
        )
        back = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=5)
        async with back.serve("127.0.0.1", port):
            assert await rt.wait_ready(30)

            async def delivered() -> bool:
                return await status_of(rt, acc.id) is DeliveryStatus.DELIVERED

            await until(delivered, seconds=30, what="sent once the peer is up")
            await rt.drain(2.0)
    finally:
        await rt.drain(0.0)


async def test_refused_credentials_keep_it_unready_and_say_why(sim: SmscSimulator, tmp_path: Path) -> None:
    rt = Runtime(store=str(tmp_path / "rt.db"), transports={"sms": f"smpp://u:wrong@127.0.0.1:{sim.port}"})
    await rt.start()
    try:

        async def refused() -> bool:
            error = rt.health()[0].last_error
            return error is not None and error.code is ErrorCode.AUTH_FAILED

        await until(refused, what="the refused bind reported")
        assert not rt.ready() and not await rt.wait_ready(0.2)
        [acc] = await rt.accept([Submission(to="+77011234567", text="kept")])  # queued all the same
    finally:
        await rt.drain(1.0)
    assert sim.submitted == []
    async with runtime(tmp_path / "rt.db", sim) as fixed:

        async def sent() -> bool:
            return await status_of(fixed, acc.id) is DeliveryStatus.DELIVERED

        await until(sent, what="sent once the credentials are right")
