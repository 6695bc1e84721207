"""Events in the store: written in the transaction of the change they report, paged by a cursor that follows
commit order, claimed one per (message, target) in order, leased, retried, replayed. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.base import EventOutcome, OutboxEntry, Store, StoredEvent, StoreError
from msgbridge.store.sql import SqlStore
from msgbridge.store.sqlite import SqliteStore

LINK = "smpp://smsc.example:2775"
HOOK = CallbackTarget("https://app.example/hook")
OTHER = CallbackTarget(
    "https://other.example/dlr?id=%i&s=%d", format="kannel", mask=3, method="GET", key="shop"
)


async def drop_schema(dsn: str, schema: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def message(i: int, target: CallbackTarget | None = HOOK, campaign: str | None = None) -> Message:
    metadata = {"callback": target.dumps()} if target is not None else {}
    return Message(
        id=f"m{i:03d}",
        to=f"+7701{i:07d}",
        text=f"hi {i}",
        reference=f"ref{i}",
        campaign=campaign,
        metadata=metadata,
    )


async def queued(store: Store, *messages: Message) -> list[str]:
    return await store.enqueue([OutboxEntry(m, f"k:{m.id}") for m in messages])


async def sent(store: Store, ids: list[str], status: S = S.SUBMITTED) -> None:
    """Claimed, marked in doubt and answered, as the dispatcher does."""
    claimed = await store.claim(len(ids), ids=ids)
    await store.mark_in_doubt([r.message.id for r in claimed])
    await store.record_results(
        [SendResult(message_id=i, status=status, native_id=f"n-{i}") for i in ids], link=LINK
    )


async def everything(store: Store) -> list[StoredEvent]:
    return await store.events_page(None, 10_000)


def shape(events: list[StoredEvent]) -> list[tuple[str | None, S | None]]:
    return [(e.message_id, e.status) for e in events]


# -- what writes an event -------------------------------------------------------------------


async def test_results_and_receipts_of_messages_with_a_target_are_events(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        await queued(store, message(1, campaign="spring"), message(2, target=None))
        await sent(store, ["m001", "m002"])
        await store.record_receipts(
            [
                DeliveryReceipt("n-m001", S.DELIVERED, "DELIVRD", link=LINK),
                DeliveryReceipt("n-m002", S.DELIVERED, "DELIVRD", link=LINK),
            ]
        )
        await store.record_receipts(
            [DeliveryReceipt("n-m001", S.DELIVERED, "DELIVRD", link=LINK)]
        )  # no change
        events = await everything(store)
        assert shape(events) == [("m001", S.SUBMITTED), ("m001", S.DELIVERED)]
        submitted, delivered = events
        assert submitted.n < delivered.n
        assert submitted.id.startswith("evt_") and len(submitted.id) == 30 and submitted.id != delivered.id
        assert (submitted.type, submitted.reference, submitted.campaign, submitted.to) == (
            "message.status", "ref1", "spring", "+77010000001",
        )  # fmt: skip
        assert (submitted.native_status, submitted.error, submitted.segments) == (None, None, 1)
        assert delivered.native_status == "DELIVRD"
        assert submitted.target == HOOK and submitted.state == "pending" and submitted.attempts == 0
        assert submitted.next_at == submitted.occurred_at
        assert delivered.occurred_at >= submitted.occurred_at
        # The message keeps its target where it came from, and what else its metadata held.
        record = await store.get("m001")
        assert record is not None and record.message.metadata == {"callback": HOOK.dumps()}


async def test_a_failure_an_outcome_in_doubt_and_a_cancel_are_events_the_mark_before_a_write_is_not(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        await queued(store, *(message(i, campaign="c") for i in range(1, 5)))
        claimed = await store.claim(3, ids=["m001", "m002", "m003"])
        await store.mark_in_doubt(["m001", "m002"])
        assert len(claimed) == 3
        assert await everything(store) == []  # bookkeeping before a write: nobody sees it as a change
        refused = ErrorInfo(code=ErrorCode.INVALID_DESTINATION, native_code=11, native_message="bad dest")
        await store.record_results(
            [
                SendResult(message_id="m001", status=S.REJECTED, error=refused),
                SendResult(message_id="m002", status=S.MAYBE_SUBMITTED),
            ],
            link=LINK,
        )
        await store.release(["m003"])
        assert await store.cancel("c") == 2  # m003 (claimed, never written, given back) and m004
        events = await everything(store)
        assert shape(events) == [
            ("m001", S.REJECTED), ("m002", S.MAYBE_SUBMITTED), ("m003", S.CANCELED), ("m004", S.CANCELED),
        ]  # fmt: skip
        assert events[0].error == ErrorInfo(
            code=ErrorCode.INVALID_DESTINATION, native_code=11, native_message="bad dest"
        )
        # The message left in doubt is settled later: that is its next event.
        await store.record_results(
            [SendResult(message_id="m002", status=S.SUBMITTED, native_id="x")], link=LINK
        )
        assert shape(await store.events_page(events[-1].n, 10)) == [("m002", S.SUBMITTED)]


async def test_a_parked_receipt_matched_later_is_an_event_after_the_result(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        await queued(store, message(1))
        assert (
            await store.record_receipts([DeliveryReceipt("n-m001", S.DELIVERED, "DELIVRD", link=LINK)]) == 0
        )
        assert await everything(store) == []
        await sent(store, ["m001"])
        assert shape(await everything(store)) == [("m001", S.SUBMITTED), ("m001", S.DELIVERED)]


async def test_every_change_is_recorded_when_asked_without_anything_to_deliver(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        store.record_all_events = True
        await queued(store, message(1, target=None), message(2))
        await sent(store, ["m001", "m002"])
        await store.add_inbound(
            [InboundMessage(id="i1", source="+1", destination="ACME", text="YES", link=LINK)]
        )
        events = await everything(store)
        assert [(e.message_id, e.type, e.target, e.state) for e in events] == [
            ("m001", "message.status", None, None),
            ("m002", "message.status", HOOK, "pending"),
            ("i1", "message.inbound", None, None),
        ]
        claimed = await store.claim_events(10, now=events[-1].occurred_at + 1, lease=30)
        assert [e.n for e in claimed] == [events[1].n]  # only what has somewhere to go


async def test_inbound_messages_are_events_for_the_inbound_target_once_each(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        mo = InboundMessage(
            id="i1", source="+77010000009", destination="ACME", text="STOP", link=LINK, raw={"k": 1}
        )
        await store.add_inbound([mo])  # no inbound target: no event
        store.inbound_target = OTHER
        await store.add_inbound(
            [mo, InboundMessage(id="i2", source="+2", destination="ACME", text="A", link=LINK)]
        )
        await store.add_inbound(
            [InboundMessage(id="i2", source="+2", destination="ACME", text="again", link=LINK)]
        )
        [event] = await everything(store)
        assert (event.type, event.message_id, event.target, event.state) == (
            "message.inbound",
            "i2",
            OTHER,
            "pending",
        )
        assert event.inbound is not None and event.inbound.text == "A" and event.status is None
        assert event.reference is None and event.to is None and event.segments is None


# -- all or nothing ----------------------------------------------------------------------------------


async def fail_on(store: SqlStore, table: str, when: str) -> None:
    """A trigger refusing every ``when`` (INSERT/UPDATE) of ``table``: the transaction doing it must fail whole."""
    if isinstance(store, SqliteStore):
        store.db.execute(
            f"CREATE TRIGGER boom BEFORE {when} ON {table} BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
        return
    c = store._reader()
    await c.execute(
        "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$ LANGUAGE plpgsql"
    )
    await c.execute(f"CREATE TRIGGER boom BEFORE {when} ON {table} FOR EACH ROW EXECUTE FUNCTION boom()")


async def test_a_status_change_whose_event_cannot_be_written_is_not_made(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        await queued(store, message(1, campaign="c"), message(2, campaign="c"))
        await sent(store, ["m001"])
        await fail_on(store, "events", "INSERT")
        with pytest.raises(StoreError, match="boom"):
            await store.record_receipts([DeliveryReceipt("n-m001", S.DELIVERED, "DELIVRD", link=LINK)])
        with pytest.raises(StoreError, match="boom"):
            await store.cancel("c")
        with pytest.raises(StoreError, match="boom"):
            await sent(store, ["m002"])
        assert [await status(store, i) for i in ("m001", "m002")] == [S.SUBMITTED, S.MAYBE_SUBMITTED]
        assert shape(await everything(store)) == [("m001", S.SUBMITTED)]


async def test_an_event_whose_change_fails_after_it_is_not_kept(stores: Callable[[], SqlStore]) -> None:
    async with stores() as store:
        await queued(store, message(1))
        await store.record_receipts([DeliveryReceipt("n-m001", S.DELIVERED, "DELIVRD", link=LINK)])  # parked
        # Matching the parked receipt is the last write of recording the result, after both events.
        await fail_on(store, "receipts", "UPDATE")
        with pytest.raises(StoreError, match="boom"):
            await sent(store, ["m001"])
        assert await status(store, "m001") is S.MAYBE_SUBMITTED
        assert await everything(store) == []


async def status(store: Store, message_id: str) -> S:
    record = await store.get(message_id)
    assert record is not None
    return record.status


# -- reading by cursor ---------------------------------------------------------------------------------


async def test_pages_by_cursor_by_message_and_since(stores: Callable[[], SqlStore]) -> None:
    async with stores() as store:
        await queued(store, *(message(i) for i in range(10)))
        ids = [f"m{i:03d}" for i in range(10)]
        await sent(store, ids)
        await store.record_receipts([DeliveryReceipt(f"n-{i}", S.DELIVERED, link=LINK) for i in ids[:4]])
        whole = await everything(store)
        assert len(whole) == 14
        pages, after = [], None
        while page := await store.events_page(after, 3):
            pages.append(page)
            after = page[-1].n
        assert [e for p in pages for e in p] == whole and [len(p) for p in pages] == [3, 3, 3, 3, 2]
        assert shape(await store.events_page(None, 10, message_id="m002")) == [
            ("m002", S.SUBMITTED),
            ("m002", S.DELIVERED),
        ]
        later = whole[10].occurred_at
        assert await store.events_page(None, 100, since=later) == whole[10:]
        assert await store.events_page(whole[11].n, 100, since=later) == whole[12:]


async def test_the_cursor_follows_commit_order_under_concurrent_writers(
    stores: Callable[[], SqlStore],
) -> None:
    """A reader paging while two stores record results never finds an event behind its cursor later."""
    async with stores() as a, stores() as b, stores() as reader:
        batches = [[message(i * 10 + j) for j in range(10)] for i in range(12)]
        for batch in batches:
            await queued(a, *batch)
        seen: list[int] = []
        done = asyncio.Event()

        async def write(store: Store, mine: list[list[Message]]) -> None:
            for batch in mine:
                await sent(store, [m.id for m in batch])

        async def read() -> None:
            after = None
            while True:
                finished = done.is_set()
                page = await reader.events_page(after, 7)
                seen.extend(e.n for e in page)
                if page:
                    after = page[-1].n
                elif finished:
                    return
                await asyncio.sleep(0)

        reading = asyncio.create_task(read())
        await asyncio.gather(write(a, batches[::2]), write(b, batches[1::2]))
        done.set()
        await reading
        assert sorted(seen) == seen and len(seen) == 120
        assert seen == [e.n for e in await everything(reader)]


# -- the delivery worker's side ----------------------------------------------------------------------


async def test_a_claim_takes_the_earliest_pending_event_of_each_message_and_target(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        await queued(store, message(1), message(2, target=OTHER), message(3, target=None))
        await sent(store, ["m001", "m002", "m003"])
        await store.record_receipts([DeliveryReceipt(f"n-m00{i}", S.DELIVERED, link=LINK) for i in (1, 2, 3)])
        now = (await everything(store))[-1].occurred_at + 1
        first = await store.claim_events(10, now=now, lease=30)
        assert shape(first) == [("m001", S.SUBMITTED), ("m002", S.SUBMITTED)]
        assert [e.target for e in first] == [HOOK, OTHER]
        assert all(e.next_at == now + 30 for e in first)
        # Leased: nothing more for these messages, not even their next event, until the outcome.
        assert await store.claim_events(10, now=now + 1, lease=30) == []
        m1, m2 = first
        await store.events_done(
            [
                EventOutcome(m1.n, "delivered", None, None),
                EventOutcome(m2.n, "pending", now + 60, "HTTP 500: " + "x" * 5000),
            ]
        )
        second = await store.claim_events(10, now=now + 2, lease=30)
        assert shape(second) == [("m001", S.DELIVERED)]  # m002's DELIVERED waits behind its SUBMITTED retry
        [retry] = await store.events_page(m2.n - 1, 1)
        assert (retry.state, retry.attempts, retry.next_at) == ("pending", 1, now + 60)
        assert (
            retry.last_error is not None
            and retry.last_error.startswith("HTTP 500: xxx")
            and len(retry.last_error) <= 1100
        )
        await store.events_done([EventOutcome(second[0].n, "skipped", None, None)])
        later = await store.claim_events(10, now=now + 61, lease=30)
        assert shape(later) == [("m002", S.SUBMITTED)] and later[0].attempts == 1
        await store.events_done([EventOutcome(later[0].n, "failed", None, "gave up after 24 h")])
        assert shape(await store.claim_events(10, now=now + 62, lease=30)) == [("m002", S.DELIVERED)]
        states = {(e.message_id, e.status): (e.state, e.attempts) for e in await everything(store)}
        assert states == {
            ("m001", S.SUBMITTED): ("delivered", 1),
            ("m001", S.DELIVERED): ("skipped", 0),
            ("m002", S.SUBMITTED): ("failed", 2),
            ("m002", S.DELIVERED): ("pending", 0),
        }


async def test_outcomes_given_to_a_claim_are_recorded_before_it_claims(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        await queued(store, message(1), message(2))
        await sent(store, ["m001", "m002"])
        await store.record_receipts([DeliveryReceipt(f"n-m00{i}", S.DELIVERED, link=LINK) for i in (1, 2)])
        now = (await everything(store))[-1].occurred_at + 1
        m1, m2 = await store.claim_events(10, now=now, lease=30)
        # m001 delivered, m002 to be tried later: m001's next event comes in the very claim that records it.
        done = [
            EventOutcome(m1.n, "delivered", None, None),
            EventOutcome(m2.n, "pending", now + 60, "HTTP 500"),
        ]
        [m1_final] = await store.claim_events(10, now=now + 1, lease=30, done=done)
        assert (m1_final.message_id, m1_final.status) == ("m001", S.DELIVERED)
        # A claim of nothing still records what it is given.
        skipped = [EventOutcome(m1_final.n, "skipped", None, None)]
        assert await store.claim_events(0, now=now + 2, lease=30, done=skipped) == []
        states = {(e.message_id, e.status): (e.state, e.attempts) for e in await everything(store)}
        assert states == {
            ("m001", S.SUBMITTED): ("delivered", 1),
            ("m001", S.DELIVERED): ("skipped", 0),
            ("m002", S.SUBMITTED): ("pending", 1),
            ("m002", S.DELIVERED): ("pending", 0),
        }


async def test_a_lease_keeps_other_stores_off_until_it_runs_out(stores: Callable[[], SqlStore]) -> None:
    async with stores() as a, stores() as b:
        await queued(a, message(1), message(2))
        await sent(a, ["m001", "m002"])
        now = (await everything(a))[-1].occurred_at + 1
        mine = await a.claim_events(1, now=now, lease=10)
        theirs = await b.claim_events(10, now=now, lease=100)
        assert len(mine) == len(theirs) == 1 and mine[0].n != theirs[0].n
        assert await b.claim_events(10, now=now + 5, lease=10) == []
        # a went quiet: once its lease has run out, b takes the event, and a's late outcome is ignored.
        [taken] = await b.claim_events(10, now=now + 11, lease=10)
        assert taken.n == mine[0].n
        await a.events_done([EventOutcome(mine[0].n, "failed", None, "late")])
        await b.events_done([EventOutcome(taken.n, "delivered", None, None)])
        [event] = await a.events_page(taken.n - 1, 1)
        assert (event.state, event.last_error) == ("delivered", None)


async def test_replay_makes_delivered_events_pending_again_and_the_backlog_counts(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        assert await store.event_backlog() == type(await store.event_backlog())(0, 0, None)
        store.record_all_events = True
        await queued(store, message(1), message(2), message(3, target=None))
        await sent(store, ["m001", "m002", "m003"])
        events = await everything(store)
        now = events[-1].occurred_at + 1
        backlog = await store.event_backlog()
        assert (backlog.pending, backlog.failed, backlog.oldest_pending_at) == (2, 0, events[0].occurred_at)
        claimed = await store.claim_events(10, now=now, lease=30)
        await store.events_done(
            [
                EventOutcome(claimed[0].n, "delivered", None, None),
                EventOutcome(claimed[1].n, "failed", None, "no"),
            ]
        )
        assert (await store.event_backlog()).pending == 0 and (await store.event_backlog()).failed == 1
        assert await store.replay_events(since=events[0].occurred_at, message_id="m002") == 1
        assert await store.replay_events(since=now + 100) == 0
        assert await store.replay_events(since=0) == 2  # the one without a target has nothing to deliver
        again = await store.claim_events(10, now=now + 1e6, lease=30)
        assert shape(again) == [("m001", S.SUBMITTED), ("m002", S.SUBMITTED)] and {
            e.attempts for e in again
        } == {0}


# -- the cost where nobody asked for events --------------------------------------------------------


async def test_without_targets_no_statement_touches_the_events(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "quiet.db", checkpoint_interval=0) as store:
        await queued(store, *(message(i, target=None) for i in range(20)))
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        try:
            await sent(store, [f"m{i:03d}" for i in range(20)])
            await store.record_receipts(
                [DeliveryReceipt(f"n-m{i:03d}", S.DELIVERED, link=LINK) for i in range(20)]
            )
            await store.add_inbound(
                [InboundMessage(id="i1", source="+1", destination="A", text="x", link=LINK)]
            )
            assert await store.cancel("nothing") == 0
        finally:
            store.db.set_trace_callback(None)
        assert statements and not [s for s in statements if "events" in s]
        assert await everything(store) == []


# -- schema 4 -> 5 --------------------------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(params=["sqlite", "postgres"])
async def v4_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A store of schema version 4 loaded from its backend's fixture (``fixtures/v4_*.sql``), not opened yet."""
    if request.param == "sqlite":
        path = tmp_path / "v4.db"
        with sqlite3.connect(path) as db:
            db.executescript((FIXTURES / "v4_sqlite.sql").read_text())
        db.close()
        yield SqliteStore(path)
        return
    import asyncpg

    from msgbridge.store.postgres import PostgresStore

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"v4_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path = "{schema}"')
        await conn.execute((FIXTURES / "v4_postgres_schema.sql").read_text())
        await conn.execute((FIXTURES / "v4_postgres.sql").read_text())
        yield PostgresStore(dsn, schema=schema)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def test_a_version_4_store_gets_events_and_callback_targets(v4_store: SqlStore) -> None:
    async with v4_store as store:
        assert [tuple(r) for r in await store._reader().fetch("SELECT version FROM schema_version")] == [(6,)]
        assert await everything(store) == []  # nothing happened before is made up
        m1 = await store.get("m1")
        assert m1 is not None and m1.status is S.DELIVERED and m1.message.text == "Hi Bob"
        m2 = await store.get("m2")
        assert m2 is not None and m2.message.metadata == {"callback_url": "https://app.example/cb"}
        # The old rows go on: a receipt for m2 is recorded (no target: no event), a new message gets one.
        assert await store.record_receipts([DeliveryReceipt("n2", S.DELIVERED, link=LINK)]) == 1
        await queued(store, message(7))
        await sent(store, ["m007"])
        assert shape(await everything(store)) == [("m007", S.SUBMITTED)]
        assert await store.cancel("spring") == 1
        assert [m.id for _, m in await store.inbound_page(None, 10)] == ["i1"]
    async with v4_store as store:  # opened again: migrated once
        assert shape(await everything(store)) == [("m007", S.SUBMITTED)]
