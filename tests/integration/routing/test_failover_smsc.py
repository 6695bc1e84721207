"""A failover route over two SMSC simulators, real sockets: the primary stopped in the middle of a campaign,
and a primary that never answers (TIMEOUT).

What each simulator accepted is counted by the tag each message's text carries, so "none sent twice" is
checked where it matters: at the SMSCs.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message, SendResult
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.routing.config import DEFAULT_FAILOVER, BreakerSettings, Route, RoutingConfig
from msgbridge.routing.transport import RoutedTransport
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

TAG = re.compile(rb"<(\d{5})>")
FAST = Backoff(base=0.01, cap=0.05, jitter=False)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "routing.db") as s:
        yield s


@pytest.fixture
async def sims() -> AsyncIterator[tuple[SmscSimulator, SmscSimulator]]:
    primary = SmscSimulator(users={"u": "p"}, dlr_delay_ms=10, seed=1)
    secondary = SmscSimulator(users={"u": "p"}, dlr_delay_ms=10, seed=2)
    async with primary.serve("127.0.0.1", 0), secondary.serve("127.0.0.1", 0):
        yield primary, secondary


async def fill(store: SqliteStore, n: int) -> dict[int, str]:
    """``n`` messages whose text names their index; returns index -> message id."""
    entries = []
    for i in range(n):
        phone = f"+7701{i:07d}"
        msg = Message(to=phone, sender="Test", text=f"<{i:05d}> hello", campaign="c", reference=f"c:{phone}")
        entries.append(OutboxEntry(message=msg, idempotency_key=f"c:{phone}", row=i + 2))
    ids = await store.enqueue(entries)
    return dict(enumerate(ids))


def held(sim: SmscSimulator) -> Counter[int]:
    return Counter(int(t) for r in sim.submitted for t in TAG.findall(r.short_message))


def spy(store: SqliteStore) -> dict[str, SendResult]:
    """Every result the dispatcher records, by message id (the last one wins)."""
    seen: dict[str, SendResult] = {}
    record = store.record_results

    async def recording(results: Sequence[SendResult], *, link: str) -> None:
        seen.update((r.message_id, r) for r in results)
        await record(results, link=link)

    store.record_results = recording  # type: ignore[method-assign]
    return seen


def url(sim: SmscSimulator, options: str) -> str:
    return f"smpp://u:p@127.0.0.1:{sim.port}?{options}"


async def test_primary_stopped_mid_campaign_the_rest_goes_through_the_secondary_once(
    store: SqliteStore, sims: tuple[SmscSimulator, SmscSimulator]
) -> None:
    primary, secondary = sims
    n = 600
    ids = await fill(store, n)
    results = spy(store)
    options = "window=10&timeout=2&bind_timeout=1&reconnect_wait=0.5&dlr=no"
    children = {
        "primary": open_transport(url(primary, options)),
        "secondary": open_transport(url(secondary, options)),
    }
    routing = RoutingConfig(
        routes=(Route("sms", ("primary", "secondary")),), breaker=BreakerSettings(failures=2, cooldown=60)
    )

    async def stop_primary() -> None:
        for _ in range(4000):  # at most 20 s
            if len(primary.submitted) >= 150:
                break
            await asyncio.sleep(0.005)
        await primary.stop()

    async with RoutedTransport(children, routing) as t:
        stopper = asyncio.create_task(stop_primary())
        stats = await Dispatcher(store, t, backoff=FAST, tps=1000, concurrency=2).run("c")
        await stopper
        circuits = {c.name: c for c in t.circuits()}

    at_primary, at_secondary = held(primary), held(secondary)
    assert len(at_primary) >= 150 and len(at_secondary) > 0
    assert max((at_primary + at_secondary).values()) == 1, "a message was accepted twice"
    counts = await store.counts("c")
    assert set(counts) <= {S.SUBMITTED, S.MAYBE_SUBMITTED}, counts
    for i, mid in ids.items():
        rec = await store.get(mid)
        assert rec is not None
        total = at_primary[i] + at_secondary[i]
        if rec.status is S.SUBMITTED:
            assert total == 1, f"message {i} SUBMITTED, held {total} times"
            assert results[mid].link == t.children["secondary" if at_secondary[i] else "primary"].link
        else:  # in flight at the primary when it stopped: in doubt, never moved on
            assert total <= 1 and results[mid].link == t.children["primary"].link
    moved = [r for r in results.values() if r.attempts]
    assert moved, "no message failed over with an attempt on the primary"
    for r in moved:
        (attempt,) = r.attempts
        assert attempt.transport == "primary" and attempt.link == t.children["primary"].link
        assert attempt.error is not None and attempt.error.code in DEFAULT_FAILOVER
        assert r.link == t.children["secondary"].link and r.status is S.SUBMITTED
    assert circuits["primary"].opened == 1 and stats.submitted == counts.get(S.SUBMITTED, 0)


async def test_a_timeout_on_the_primary_stays_maybe_submitted_and_is_not_failed_over(
    store: SqliteStore, sims: tuple[SmscSimulator, SmscSimulator]
) -> None:
    primary, secondary = sims
    primary.late_every, primary.hold_late = 1, True  # accepted, never answered
    ids = await fill(store, 20)
    options = "window=20&timeout=0.5&dlr=no"
    children = {
        "primary": open_transport(url(primary, options)),
        "secondary": open_transport(url(secondary, options)),
    }
    routing = RoutingConfig(routes=(Route("sms", ("primary", "secondary")),))
    async with RoutedTransport(children, routing) as t:
        stats = await Dispatcher(store, t, backoff=FAST).run("c")
    assert stats.in_doubt == 20
    assert await store.counts("c") == {S.MAYBE_SUBMITTED: 20}
    assert len(held(primary)) == 20 and secondary.submitted == []
    for mid in ids.values():
        rec = await store.get(mid)
        assert rec is not None and rec.last_error is not None and rec.last_error.code.value == "TIMEOUT"


async def test_the_primarys_circuit_opens_when_it_stops_and_closes_when_it_is_back(
    sims: tuple[SmscSimulator, SmscSimulator],
) -> None:
    from msgbridge.core.breaker import CircuitState

    primary, secondary = sims
    port = primary.port
    now = [1000.0]
    options = "window=10&timeout=2&bind_timeout=1&reconnect_wait=0.3&dlr=no"
    children = {
        "primary": open_transport(url(primary, options)),
        "secondary": open_transport(url(secondary, options)),
    }
    routing = RoutingConfig(
        routes=(Route("sms", ("primary", "secondary")),), breaker=BreakerSettings(failures=1, cooldown=60)
    )

    def batch(n: int) -> list[Message]:
        return [Message(to="+77011234567", sender="Test", text=f"<{i:05d}>") for i in range(n)]

    async with RoutedTransport(children, routing, clock=lambda: now[0]) as t:
        links = {name: child.link for name, child in t.children.items()}
        assert {r.link for r in await t.send(batch(5))} == {links["primary"]}
        await primary.stop()
        child = t.children["primary"]
        for _ in range(2000):  # the client sees the unbind (a submit written before it is in doubt)
            if not child.health().up:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.01)
        moved = await t.send(batch(5))
        assert {r.link for r in moved} == {links["secondary"]}
        assert all([a.transport for a in r.attempts] == ["primary"] for r in moved)
        assert t.circuits()[0].state is CircuitState.OPEN
        skipped = await t.send(batch(5))  # open: not even tried
        assert {r.link for r in skipped} == {links["secondary"]} and all(not r.attempts for r in skipped)
        async with primary.serve("127.0.0.1", port):
            for _ in range(2000):  # the client binds again on its own (at most 20 s)
                if child.health().up:  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.01)
            now[0] += 61  # past the cool-down: the next call is the probe
            assert t.circuits()[0].state is CircuitState.HALF_OPEN
            back = await t.send(batch(5))
            assert {r.link for r in back} == {links["primary"]} and all(r.status is S.SUBMITTED for r in back)
            info = t.circuits()[0]
            assert (info.state, info.failures, info.opened) == (CircuitState.CLOSED, 0, 1)
    assert len(secondary.submitted) == 10


async def test_receipts_through_a_route_are_acknowledged_to_each_smsc_only_once_stored(
    sims: tuple[SmscSimulator, SmscSimulator],
) -> None:
    from msgbridge.adapters.base import AcknowledgesReceipts
    from msgbridge.routing.config import Strategy

    primary, secondary = sims
    options = "window=10&timeout=2"
    children = {
        "primary": open_transport(url(primary, options)),
        "secondary": open_transport(url(secondary, options)),
    }
    route = Route("sms", ("primary", "secondary"), strategy=Strategy.WEIGHTED, weights=(1, 1))
    async with RoutedTransport(children, RoutingConfig(routes=(route,))) as t:
        assert isinstance(t, AcknowledgesReceipts)
        t.hold_receipt_acks()
        sent = await t.send([Message(to="+77011234567", sender="Test", text=f"<{i:05d}>") for i in range(20)])
        assert {r.link for r in sent} == {c.link for c in t.children.values()}
        got = []
        async for receipt in t.receipts():
            got.append(receipt)
            if len(got) == 20:
                break
        await asyncio.sleep(0.1)  # time for an answer that should not come
        assert primary.stats.deliver_sm_resp == secondary.stats.deliver_sm_resp == 0
        t.receipts_stored(got)
        for _ in range(2000):
            if primary.stats.deliver_sm_resp + secondary.stats.deliver_sm_resp == 20:
                break
            await asyncio.sleep(0.01)
        assert primary.stats.deliver_sm_resp == len(held(primary))
        assert secondary.stats.deliver_sm_resp == len(held(secondary))
        assert primary.stats.deliver_sm_resp + secondary.stats.deliver_sm_resp == 20
