"""PostgreSQL wake-ups: a store draining the outbox is told when another process queued something.

The waits below are bounded so a broken notification fails the test instead of hanging it; where a
wake-up must *not* come, the test asks for one with a short bound and expects none, which can only fail
if one does come.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg  # type: ignore[import-untyped]
import pytest

from msgbridge.core.message import Message
from msgbridge.store.base import OutboxEntry, Wakeups
from msgbridge.store.postgres import PostgresStore

WAIT = 10.0  # the most a wake-up that must come may take (a loaded machine)
QUIET = 0.5  # how long one that must not come is waited for


def entries(n: int, campaign: str = "c1", start: int = 0) -> list[OutboxEntry]:
    return [
        OutboxEntry(Message(to=f"+7701{i:07d}", text="hi", campaign=campaign), f"{campaign}:{i}")
        for i in range(start, start + n)
    ]


@pytest.fixture
async def stores(pg_dsn: str) -> AsyncIterator[Callable[[str], PostgresStore]]:
    """Makes stores on a schema of the test's own: ``stores("a")`` is what one process of schema a opens."""
    made: list[str] = []
    tag = uuid.uuid4().hex[:10]

    def make(name: str) -> PostgresStore:
        made.append(f"w{name}_{tag}")
        return PostgresStore(pg_dsn, schema=f"w{name}_{tag}")

    yield make
    conn = await asyncpg.connect(pg_dsn)
    try:
        for schema in set(made):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def woken(wakes: Wakeups, within: float = WAIT) -> bool:
    try:
        await asyncio.wait_for(anext(wakes), within)
    except TimeoutError:
        return False
    return True


async def test_a_queueing_elsewhere_wakes_the_watcher_once_per_burst(
    stores: Callable[[str], PostgresStore],
) -> None:
    async with stores("a") as drainer, stores("a") as api:
        async with drainer.watch() as wakes:
            assert await woken(wakes)  # listening: look at what was there before
            await api.enqueue(entries(3))
            assert await woken(wakes)
            for i in range(5):  # five commits before the watcher looks again: one wake-up
                await api.enqueue(entries(1, start=10 + i))
            assert await woken(wakes)
            assert not await woken(wakes, QUIET)  # a bounded wait cut short loses nothing: still listening
            await api.enqueue(entries(1, start=20))
            assert await woken(wakes)
            # Only what is new wakes: the same keys again queue nothing.
            await api.enqueue(entries(3))
            assert not await woken(wakes, QUIET)


async def test_given_back_and_due_retries_wake_later_retries_do_not(
    stores: Callable[[str], PostgresStore],
) -> None:
    async with stores("a") as drainer, stores("a") as other:
        await other.enqueue(entries(4))
        claimed = [r.message.id for r in await other.claim(4)]
        async with drainer.watch() as wakes:
            assert await woken(wakes)
            await other.requeue(claimed[:1], not_before=4e9, error=None)
            assert not await woken(wakes, QUIET)
            await other.requeue(claimed[1:2], not_before=0.0, error=None)
            assert await woken(wakes)
            await other.release(claimed[2:])
            assert await woken(wakes)
            await other.release(claimed[2:])  # nothing of it is claimed any more: nothing given back
            assert not await woken(wakes, QUIET)


async def test_another_schema_does_not_wake(stores: Callable[[str], PostgresStore]) -> None:
    async with stores("a") as drainer, stores("b") as elsewhere, stores("a") as api:
        async with drainer.watch() as wakes:
            assert await woken(wakes)
            await elsewhere.enqueue(entries(2))
            assert not await woken(wakes, QUIET)
            await api.enqueue(entries(1))
            assert await woken(wakes)


async def test_closing_the_store_ends_the_watch(stores: Callable[[str], PostgresStore]) -> None:
    store = stores("a")
    await store.open()
    seen = 0
    listening = asyncio.Event()

    async def drain() -> None:
        nonlocal seen
        async for _ in store.watch():
            seen += 1
            listening.set()

    task = asyncio.create_task(drain())
    await asyncio.wait_for(listening.wait(), WAIT)
    await store.close()
    await asyncio.wait_for(task, WAIT)
    assert seen == 1


async def test_a_dropped_listener_listens_again_and_wakes(
    stores: Callable[[str], PostgresStore], pg_dsn: str
) -> None:
    """Notifications sent while the connection was down are lost: the watcher wakes once it listens again."""
    async with stores("a") as drainer, stores("a") as api:
        async with drainer.watch() as wakes:
            assert await woken(wakes)
            admin = await asyncpg.connect(pg_dsn)
            try:
                killed = await admin.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            assert killed
            assert await woken(wakes)  # listening again
            await api.enqueue(entries(1))
            assert await woken(wakes)


async def test_watch_needs_an_open_store(stores: Callable[[str], PostgresStore]) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        stores("a").watch()


async def listening_backends(dsn: str) -> int:
    admin = await asyncpg.connect(dsn)
    try:
        return int(
            await admin.fetchval(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await admin.close()


async def test_a_watch_whose_task_was_cancelled_is_closed_with_the_store(
    stores: Callable[[str], PostgresStore], pg_dsn: str
) -> None:
    """A lane's watching task is cancelled at shutdown, never closing its iterator: the store's close does."""
    before = await listening_backends(pg_dsn)
    store = stores("a")
    await store.open()
    listening = asyncio.Event()

    async def drain() -> None:
        async for _ in store.watch():
            listening.set()

    task = asyncio.create_task(drain())
    await asyncio.wait_for(listening.wait(), WAIT)
    assert await listening_backends(pg_dsn) == before + 1
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await store.close()
    deadline = time.monotonic() + WAIT  # a backend leaves pg_stat_activity a moment after its client closed
    while await listening_backends(pg_dsn) != before:
        assert time.monotonic() < deadline, "the listening connection outlived its store"
        await asyncio.sleep(0.05)
