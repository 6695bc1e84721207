"""The dispatcher over a routed transport: failover without a message sent twice, in doubt stays in doubt,
TEMPORARY_FAILURE requeued by the dispatcher before it moves on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from msgbridge.adapters.base import Transport, open_transport, polled_parts
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.core.message import Message, SendResult
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.core.url import TransportURL
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.routing.config import Route, RoutingConfig
from msgbridge.routing.transport import RoutedTransport
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

FAST = Backoff(base=0.001, cap=0.01, jitter=False)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "d.db") as s:
        yield s


async def fill(store: SqliteStore, n: int) -> list[str]:
    entries = []
    for i in range(n):
        phone = f"+7701{i:07d}"
        msg = Message(to=phone, text="hello", campaign="c", reference=f"c:{phone}")
        entries.append(OutboxEntry(message=msg, idempotency_key=f"c:{phone}", row=i + 2))
    return await store.enqueue(entries)


def memory(name: str, options: str = "") -> MemoryTransport:
    t = open_transport(f"memory://{name}?dlr=no&{options}")
    assert isinstance(t, MemoryTransport)
    return t


def routed(route: Route, **children: Transport) -> RoutedTransport:
    return RoutedTransport(children, RoutingConfig(routes=(route,)))


async def test_a_dead_primary_sends_everything_through_the_secondary_once(store: SqliteStore) -> None:
    await fill(store, 120)
    a, b = memory("a", "down_times=1000"), memory("b", "max_batch=50")
    async with routed(Route("r", ("a", "b")), a=a, b=b) as t:
        stats = await Dispatcher(store, t, backoff=FAST).run("c")
    assert stats.submitted == 120 and stats.failed == 0
    assert await store.counts("c") == {S.SUBMITTED: 120}
    assert a.accepted == [] and len(b.accepted) == len({m.id for m in b.accepted}) == 120


async def test_a_timeout_on_the_primary_stays_in_doubt(store: SqliteStore) -> None:
    await fill(store, 10)
    a, b = memory("a", "lost_every=1"), memory("b")
    async with routed(Route("r", ("a", "b")), a=a, b=b) as t:
        stats = await Dispatcher(store, t, backoff=FAST).run("c")
    assert stats.in_doubt == 10 and b.sent == []
    assert await store.counts("c") == {S.MAYBE_SUBMITTED: 10}


async def test_temporary_failures_are_requeued_then_moved_on(store: SqliteStore) -> None:
    await fill(store, 10)
    a, b = memory("a", "fail_every=1"), memory("b")
    async with routed(Route("r", ("a", "b"), temporary_retries=1), a=a, b=b) as t:
        stats = await Dispatcher(store, t, backoff=FAST, max_attempts=5).run("c")
    assert await store.counts("c") == {S.SUBMITTED: 10}
    assert stats.retried == 10 and len(a.sent) == 20 and len(b.accepted) == 10


class Peek(Transport):
    """Reads each message's stored status at the moment it is handed over."""

    scheme = "peek"

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(TransportURL.parse("peek://p"))
        self.store = store
        self.seen: list[S] = []

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        for m in messages:
            rec = await self.store.get(m.id)
            assert rec is not None
            self.seen.append(rec.status)
        return [SendResult(m.id, S.SUBMITTED, native_id=m.id) for m in messages]


async def test_every_message_is_in_doubt_before_the_failover_sends_it(store: SqliteStore) -> None:
    await fill(store, 5)
    peek = Peek(store)
    async with routed(Route("r", ("a", "p")), a=memory("a", "down_times=1000"), p=peek) as t:
        await Dispatcher(store, t, backoff=FAST).run("c")
    assert peek.seen == [S.MAYBE_SUBMITTED] * 5


def test_the_polled_parts_are_the_children_that_poll() -> None:
    polled = open_transport("memory://p?poll=yes")
    t = routed(Route("r", ("a", "p", "push")), a=memory("a"), p=polled, push=open_transport("memory://push"))
    assert polled_parts(t) == [polled]
    assert polled_parts(polled) == [polled] and polled_parts(memory("x")) == []


async def test_bad_credentials_everywhere_stop_the_run_and_leave_the_messages_queued(
    store: SqliteStore,
) -> None:
    from msgbridge.core.errors import AuthError

    await fill(store, 5)
    bad_a = memory("a")
    bad_b = memory("b")

    async def refuse(messages: Sequence[Message]) -> list[SendResult]:
        raise AuthError("login refused")

    bad_a.send = refuse  # type: ignore[method-assign]
    bad_b.send = refuse  # type: ignore[method-assign]
    async with routed(Route("r", ("a", "b")), a=bad_a, b=bad_b) as t:
        with pytest.raises(AuthError):
            await Dispatcher(store, t, backoff=FAST).run("c")
    assert await store.counts("c") == {S.QUEUED: 5}
