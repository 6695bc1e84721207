"""PostgreSQL claims belong to a live store: a worker joining a running campaign settles only what a dead one left."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.store.base import DoubtCounts, MessageRecord, OutboxEntry
from msgbridge.store.postgres import PostgresStore
from msgbridge.store.schema import VERSION

LINK = "memory://local"


def entries(n: int, campaign: str = "c1") -> list[OutboxEntry]:
    out = []
    for i in range(n):
        phone = f"+7701{i:07d}"
        msg = Message(to=phone, text=f"hi {i}", campaign=campaign, reference=f"{campaign}:{phone}")
        out.append(OutboxEntry(message=msg, idempotency_key=f"{campaign}:{phone}"))
    return out


@pytest.fixture
async def schema(pg_dsn: str) -> AsyncIterator[str]:
    name = f"c_{uuid.uuid4().hex[:12]}"
    yield name
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def stores(pg_dsn: str, schema: str) -> Callable[[], PostgresStore]:
    """Makes stores on one schema: each is what one worker process opens."""
    return lambda: PostgresStore(pg_dsn, schema=schema)


def ids_of(records: Sequence[MessageRecord]) -> set[str]:
    return {r.message.id for r in records}


async def test_in_doubt_leaves_out_what_a_live_store_has_in_flight(
    stores: Callable[[], PostgresStore],
) -> None:
    async with stores() as b:
        a = stores()
        await a.open()
        await a.enqueue(entries(6))
        claimed = await a.claim(4)
        await a.mark_in_doubt(list(ids_of(claimed)))  # their requests are being written
        assert a.token != b.token and a.token > 0
        assert await b.in_doubt(10) == []  # a is alive: its claims are in flight, not left behind
        assert ids_of(await a.in_doubt(10)) == ids_of(claimed)  # a's own are a's to see
        assert (await b.counts()).get(S.MAYBE_SUBMITTED) == 4  # still counted as in doubt
        await a.close()  # the session ends, as when a worker dies: its lock goes with it
        assert ids_of(await b.in_doubt(10)) == ids_of(claimed)


async def test_answered_claims_are_anyones_to_settle(stores: Callable[[], PostgresStore]) -> None:
    async with stores() as a, stores() as b:
        await a.enqueue(entries(3))
        lost, sent, retry = sorted(ids_of(await a.claim(3)))
        timeout = ErrorInfo(code=ErrorCode.TIMEOUT, native_message="no answer")
        await a.record_results(
            [
                SendResult(message_id=lost, status=S.MAYBE_SUBMITTED, error=timeout),
                SendResult(message_id=sent, status=S.SUBMITTED, native_id="n1"),
            ],
            link=LINK,
        )
        await a.requeue([retry], not_before=0, error=None)
        # The timed-out one was answered (with "unknown"): any worker may settle it by lookup now.
        assert ids_of(await b.in_doubt(10)) == {lost}
        again = await b.claim(10)
        assert ids_of(again) == {retry}
        assert ids_of(await a.in_doubt(10)) == {lost}


async def test_a_worker_joining_late_does_not_resend_what_another_is_sending(
    stores: Callable[[], PostgresStore], tmp_path: Path
) -> None:
    journal = tmp_path / "late.jsonl"
    async with stores() as late:
        busy = stores()
        await busy.open()
        ids = await late.enqueue(entries(20))
        in_flight = ids_of(await busy.claim(5))  # claimed, request written, not answered yet
        await busy.mark_in_doubt(list(in_flight))
        async with open_transport(f"memory://?journal={journal}&dlr=no") as t:
            stats = await Dispatcher(late, t).send_pending("c1")
            sent = {m.id for m in t.accepted}
        assert stats.settled_unsent == 0 and stats.settled_sent == 0
        assert sent == set(ids) - in_flight
        assert (await late.counts("c1")) == {S.SUBMITTED: 15, S.MAYBE_SUBMITTED: 5}
        # The busy worker dies without an answer: the next run finds its claims and, as the peer
        # never saw them, sends them.
        await busy.close()
        async with open_transport(f"memory://?journal={journal}&dlr=no") as t:
            stats = await Dispatcher(late, t).send_pending("c1")
            assert {m.id for m in t.accepted} == in_flight
        assert stats.settled_unsent == 5
        assert (await late.counts("c1")) == {S.SUBMITTED: 20}


async def test_a_table_from_before_claim_owners_gets_the_column(pg_dsn: str, schema: str) -> None:
    v1 = (Path(__file__).parent / "fixtures" / "v1_postgres_schema.sql").read_text()
    old = v1.replace(",\n    claimed_by INTEGER\n", "\n")
    assert old != v1
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path = "{schema}"')
        await conn.execute(old)
    finally:
        await conn.close()
    async with PostgresStore(pg_dsn, schema=schema) as store:
        await store.enqueue(entries(2))
        assert len(await store.claim(2)) == 2
        owners = await store.pool.fetch("SELECT DISTINCT claimed_by FROM messages")
        assert [r["claimed_by"] for r in owners] == [store.token]


async def test_claimed_but_never_written_is_neither_taken_nor_in_doubt(
    stores: Callable[[], PostgresStore], tmp_path: Path
) -> None:
    journal = tmp_path / "owned.jsonl"
    async with stores() as late:
        busy = stores()
        await busy.open()
        ids = await late.enqueue(entries(20))
        owned = ids_of(await busy.claim(5))  # claimed, nothing written yet
        async with open_transport(f"memory://?journal={journal}&dlr=no") as t:
            stats = await Dispatcher(late, t).send_pending("c1")
            assert {m.id for m in t.accepted} == set(ids) - owned
        assert await late.counts("c1") == {S.SUBMITTED: 15, S.QUEUED: 5}
        assert await late.doubt_counts("c1") == DoubtCounts(left=0, held=0)
        await busy.close()  # dies before writing: its claims are plain queued messages for the next run
        async with open_transport(f"memory://?journal={journal}&dlr=no") as t:
            stats = await Dispatcher(late, t).send_pending("c1")
            assert {m.id for m in t.accepted} == owned
        assert stats.settled_unsent == 0 and stats.settled_sent == 0
        assert await late.counts("c1") == {S.SUBMITTED: 20}


async def test_doubt_counts_tell_a_live_owner_from_a_gone_one(stores: Callable[[], PostgresStore]) -> None:
    async with stores() as b:
        a = stores()
        await a.open()
        ids = await a.enqueue(entries(6))
        claimed = sorted(ids_of(await a.claim(4)))
        assert await b.held_elsewhere() == 4 and await a.held_elsewhere() == 0
        await a.mark_in_doubt(claimed[:3])
        assert await b.held_elsewhere() == 1  # the fourth is claimed, not yet written
        assert await b.doubt_counts() == DoubtCounts(left=0, held=3)
        # a live owner's claims are not b's to resend, written (in doubt) or not
        assert ids_of(await b.claim(10, include_maybe=True)) == set(ids) - set(claimed)
        assert await a.doubt_counts() == DoubtCounts(left=3, held=0)  # its own: to settle by itself
        await a.close()
        assert await b.doubt_counts() == DoubtCounts(left=3, held=0)


async def test_stores_opening_one_new_database_at_once_make_its_tables_once(pg_dsn: str) -> None:
    """Workers started together: one creates the tables, the others wait for it and find them made."""
    admin = await asyncpg.connect(pg_dsn)
    try:
        for _ in range(5):  # the race is a narrow one: a few rounds
            database = f"open_{uuid.uuid4().hex[:10]}"
            await admin.execute(f'CREATE DATABASE "{database}"')
            try:
                stores = [PostgresStore(pg_dsn.rsplit("/", 1)[0] + f"/{database}") for _ in range(6)]
                try:
                    await asyncio.gather(*(s.open() for s in stores))
                    assert await stores[0].pool.fetch("SELECT version FROM schema_version") == [(VERSION,)]
                finally:
                    await asyncio.gather(*(s.close() for s in stores))
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()
