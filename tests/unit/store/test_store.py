"""The store contract, run against SQLite and PostgreSQL (the ``pg_dsn`` fixture: a throwaway server or MSGBRIDGE_TEST_POSTGRES)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.store import StoreError, open_store
from msgbridge.store.base import CampaignRecord, DoubtCounts, OutboxEntry, Store
from msgbridge.store.sqlite import SqliteStore

LINK = "memory://:"


def make_store(kind: str, tmp_path: Path, schema: str, dsn: str | None) -> Store:
    if kind == "sqlite":
        return SqliteStore(tmp_path / "t.db")
    from msgbridge.store.postgres import PostgresStore

    assert dsn is not None
    return PostgresStore(dsn, schema=schema)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    # Asked for only here, so a SQLite-only selection (-k sqlite) starts no server.
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    s = make_store(request.param, tmp_path, schema, dsn)
    async with s:
        yield s
    if request.param == "postgres":
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


def reopen(store: Store, tmp_path: Path) -> Store:
    """A second store on the same data: what another process sees."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    from msgbridge.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    return PostgresStore(store.dsn, schema=store.schema)


def entries(n: int, campaign: str = "c1", start: int = 0) -> list[OutboxEntry]:
    out = []
    for i in range(start, start + n):
        phone = f"+7701{i:07d}"
        msg = Message(to=phone, text=f"hi {i}", campaign=campaign, reference=f"{campaign}:{phone}")
        out.append(OutboxEntry(message=msg, idempotency_key=f"{campaign}:{phone}", row=i + 2))
    return out


def ok(message_id: str, native: str, *segments: str) -> SendResult:
    return SendResult(
        message_id=message_id,
        status=S.SUBMITTED,
        native_id=native,
        native_ids=segments,
        segments=max(1, len(segments)),
    )


def receipt(native: str, status: S, link: str = LINK) -> DeliveryReceipt:
    return DeliveryReceipt(native_id=native, status=status, native_status=status.value[:7], link=link)


async def test_enqueue_is_idempotent_per_key(store: Store) -> None:
    first = await store.enqueue(entries(5))
    again = entries(7)  # same keys for 0..4, fresh message ids
    second = await store.enqueue(again)
    assert second[:5] == first
    assert second[5:] == [e.message.id for e in again[5:]]
    assert await store.counts("c1") == {S.QUEUED: 7}


async def test_duplicate_keys_inside_one_batch_keep_the_first(store: Store) -> None:
    batch = entries(2) + entries(1)
    ids = await store.enqueue(batch)
    assert ids == [batch[0].message.id, batch[1].message.id, batch[0].message.id]
    assert sum((await store.counts()).values()) == 2


async def test_claim_owns_without_doubt_and_the_mark_is_durable(store: Store, tmp_path: Path) -> None:
    await store.enqueue(entries(10))
    claimed = await store.claim(4, campaign="c1")
    assert len(claimed) == 4
    # owned, not in doubt: nothing was written yet
    assert all(r.status is S.QUEUED and r.attempts == 1 for r in claimed)
    async with reopen(store, tmp_path) as other:  # a second connection (another process)
        assert await other.counts("c1") == {S.QUEUED: 10}
        assert await other.held_elsewhere("c1") == 4  # claimed by a live run: in flight there, not unsent
        assert await other.held_elsewhere("c2") == 0
        assert len(await other.claim(100, campaign="c1")) == 6  # never what a live owner holds
        await other.release([])  # harmless
    await store.mark_in_doubt([r.message.id for r in claimed[:3]])
    async with reopen(store, tmp_path) as other:
        assert await other.counts("c1") == {S.QUEUED: 7, S.MAYBE_SUBMITTED: 3}
        assert await other.doubt_counts("c1") == DoubtCounts(left=0, held=3)
        assert await other.in_doubt(10) == []  # in flight in a live run, not left behind
    assert await store.doubt_counts("c1") == DoubtCounts(left=3, held=0)
    assert await store.held_elsewhere("c1") == 0  # its own claims are not another run's
    again = await store.claim(100, campaign="c1")
    assert {r.message.id for r in again}.isdisjoint({r.message.id for r in claimed})
    assert len(again) == 6
    assert await store.claim(100) == []


async def test_claim_filters_campaign_and_include_maybe(store: Store, tmp_path: Path) -> None:
    await store.enqueue(entries(3, "a") + entries(2, "b"))
    async with reopen(store, tmp_path) as gone:  # a run that wrote b's two and ended without answers
        await gone.mark_in_doubt([r.message.id for r in await gone.claim(10, campaign="b")])
    assert len(await store.claim(10, campaign="b")) == 0
    assert len(await store.claim(10, campaign="b", include_maybe=True)) == 2
    assert len(await store.claim(10)) == 3


async def test_release_gives_back_what_was_never_written(store: Store, tmp_path: Path) -> None:
    ids = await store.enqueue(entries(3))
    claimed = [r.message.id for r in await store.claim(3)]
    await store.mark_in_doubt(claimed[:1])
    await store.release(claimed)  # the one marked in doubt stays so
    assert await store.counts() == {S.QUEUED: 2, S.MAYBE_SUBMITTED: 1}
    async with reopen(store, tmp_path) as other:
        again = await other.claim(10)
    assert sorted(r.message.id for r in again) == sorted(set(ids) - {claimed[0]})
    assert all(r.attempts == 1 for r in again)  # the released claim's attempt was undone


async def test_origin_limits_what_is_claimed(store: Store) -> None:
    smtp = [
        OutboxEntry(message=Message(to=f"+7701000000{i}", text="mail"), idempotency_key=f"smtp:{i}")
        for i in range(2)
    ]
    ids = await store.enqueue(smtp + entries(3))
    assert await store.next_due(origin="smtp:") == pytest.approx(0.0)
    got = await store.claim(10, origin="smtp:")
    assert sorted(r.message.id for r in got) == sorted(ids[:2])
    assert await store.next_due(origin="smtp:") is None  # what is left is not the gateway's
    assert await store.next_due() == pytest.approx(0.0)


async def test_results_then_receipts(store: Store) -> None:
    ids = await store.enqueue(entries(3))
    await store.claim(3)
    await store.record_results(
        [
            ok(ids[0], "n0"),
            ok(ids[1], "n1"),
            SendResult(
                message_id=ids[2],
                status=S.REJECTED,
                error=ErrorInfo(
                    code=ErrorCode.INVALID_DESTINATION, native_code=11, native_message="bad number"
                ),
            ),
        ],
        link=LINK,
    )
    assert await store.counts() == {S.SUBMITTED: 2, S.REJECTED: 1}
    assert sorted(await store.pending_native_ids(LINK, 10)) == ["n0", "n1"]
    matched = await store.record_receipts([receipt("n0", S.DELIVERED), receipt("n1", S.ACCEPTED)])
    assert matched == 2
    rec = await store.get(ids[0])
    assert rec is not None and rec.status is S.DELIVERED and rec.native_id == "n0" and rec.link == LINK
    assert [h[1] for h in rec.history] == [S.QUEUED, S.SUBMITTED, S.DELIVERED]
    assert rec.history[-1][2] == "receipt DELIVER"
    failed = await store.get(ids[2])
    assert failed is not None and failed.last_error is not None
    assert failed.last_error.code is ErrorCode.INVALID_DESTINATION and failed.last_error.native_code == 11
    assert failed.last_error.native_message == "bad number"
    assert await store.pending_native_ids(LINK, 10) == ["n1"]


async def test_get_many_reads_what_get_reads_in_one_call(store: Store) -> None:
    ids = await store.enqueue(entries(3))
    await store.claim(3)
    await store.record_results([ok(ids[0], "n0"), ok(ids[1], "n1")], link=LINK)
    await store.record_receipts([receipt("n0", S.DELIVERED)])
    many = await store.get_many([ids[2], ids[0], "no-such-id", ids[0], ids[1]])
    assert sorted(many) == sorted(ids)  # the unknown id left out, the repeated one read once
    for message_id in ids:
        assert many[message_id] == await store.get(message_id)
    assert await store.get_many([]) == {}


async def test_final_status_never_regresses(store: Store) -> None:
    ids = await store.enqueue(entries(1))
    await store.claim(1)
    await store.record_results([ok(ids[0], "n0")], link=LINK)
    await store.record_receipts([receipt("n0", S.UNDELIVERABLE)])
    await store.record_receipts([receipt("n0", S.ACCEPTED), receipt("n0", S.DELIVERED)])
    rec = await store.get(ids[0])
    assert rec is not None and rec.status is S.UNDELIVERABLE


async def test_receipt_before_result_is_parked_then_matched(store: Store) -> None:
    ids = await store.enqueue(entries(2))
    await store.claim(2)
    assert (
        await store.record_receipts(
            [receipt("early", S.DELIVERED), receipt("other-link", S.EXPIRED, "smpp://x:1")]
        )
        == 0
    )
    await store.record_results([ok(ids[0], "early"), ok(ids[1], "other-link")], link=LINK)
    first, second = await store.get(ids[0]), await store.get(ids[1])
    assert first is not None and first.status is S.DELIVERED
    # a receipt names its link: the same native id on another link is someone else's message
    assert second is not None and second.status is S.SUBMITTED
    # still parked: a later result on its own link matches it
    third = (await store.enqueue(entries(1, start=7)))[0]
    await store.claim(1)
    await store.record_results([ok(third, "other-link")], link="smpp://x:1")
    rec = await store.get(third)
    assert rec is not None and rec.status is S.EXPIRED


async def test_receipt_without_link_matches_any_link(store: Store) -> None:
    ids = await store.enqueue(entries(1))
    await store.claim(1)
    await store.record_results([ok(ids[0], "n0")], link=LINK)
    assert await store.record_receipts([receipt("n0", S.DELIVERED, link="")]) == 1


async def test_segments_aggregate(store: Store) -> None:
    ids = await store.enqueue(entries(2))
    await store.claim(2)
    await store.record_results([ok(ids[0], "s3", "s1", "s2", "s3"), ok(ids[1], "t2", "t1", "t2")], link=LINK)
    rec = await store.get(ids[0])
    assert rec is not None and rec.native_ids == ("s1", "s2", "s3") and rec.segments == 3
    await store.record_receipts([receipt("s1", S.DELIVERED)])
    rec = await store.get(ids[0])
    assert rec is not None and rec.status is S.ACCEPTED  # one part delivered, the rest on its way
    await store.record_receipts([receipt("s2", S.DELIVERED), receipt("s3", S.DELIVERED)])
    rec = await store.get(ids[0])
    assert rec is not None and rec.status is S.DELIVERED
    await store.record_receipts([receipt("t1", S.DELIVERED), receipt("t2", S.EXPIRED)])
    rec = await store.get(ids[1])
    assert rec is not None and rec.status is S.PARTIALLY_DELIVERED
    await store.record_receipts([receipt("t2", S.DELIVERED)])  # EXPIRED is final for the segment
    rec = await store.get(ids[1])
    assert rec is not None and rec.status is S.PARTIALLY_DELIVERED


async def test_receipt_by_message_id_hint(store: Store) -> None:
    ids = await store.enqueue(entries(1))
    await store.claim(1)
    r = DeliveryReceipt(native_id="unknown-native", status=S.DELIVERED, message_id=ids[0], link=LINK)
    assert await store.record_receipts([r]) == 1
    rec = await store.get(ids[0])
    assert rec is not None and rec.status is S.DELIVERED


async def test_requeue_and_next_due(store: Store) -> None:
    ids = await store.enqueue(entries(3))
    await store.claim(3)
    later = time.time() + 100
    err = ErrorInfo(code=ErrorCode.THROTTLED, native_code="0x58", native_message="throttled", retry_after=5)
    await store.requeue(ids[:2], not_before=later, error=err)
    assert await store.next_due(campaign="c1") == pytest.approx(later)
    assert await store.claim(10) == []
    due = await store.claim(10, now=later + 1)
    assert sorted(r.message.id for r in due) == sorted(ids[:2])
    assert all(r.attempts == 2 and r.last_error == err for r in due)
    assert await store.next_due() is None


async def test_requeue_leaves_submitted_alone(store: Store) -> None:
    ids = await store.enqueue(entries(1))
    await store.claim(1)
    await store.record_results([ok(ids[0], "n0")], link=LINK)
    await store.requeue(ids, not_before=0, error=None)
    rec = await store.get(ids[0])
    assert rec is not None and rec.status is S.SUBMITTED


async def test_in_doubt_and_find_by_reference(store: Store) -> None:
    batch = entries(3)
    ids = await store.enqueue(batch)
    await store.mark_in_doubt([r.message.id for r in await store.claim(2)])
    doubt = await store.in_doubt(10, campaign="c1")
    assert len(doubt) == 2 and all(r.status is S.MAYBE_SUBMITTED for r in doubt)
    assert await store.in_doubt(10, campaign="other") == []
    rec = await store.find_by_reference(batch[2].message.reference or "")
    assert rec is not None and rec.message.id == ids[2] and rec.message == batch[2].message
    assert await store.find_by_reference("nope") is None


async def test_campaign_record_round_trip(store: Store) -> None:
    rec = CampaignRecord(
        name="c1",
        template="Hi {name}",
        sender="ACME",
        transport="memory://",
        created_at=1.0,
        options={"tps": "5"},
    )
    await store.save_campaign(rec)
    await store.save_campaign(
        CampaignRecord(**{**rec.__dict__, "template": "Hello {name}", "created_at": 9.0})
    )
    got = await store.get_campaign("c1")
    assert (
        got is not None
        and got.template == "Hello {name}"
        and got.created_at == 1.0
        and got.options == {"tps": "5"}
    )
    assert await store.get_campaign("missing") is None


async def test_inbound_round_trip(store: Store) -> None:
    msgs = [
        InboundMessage(source="+77010000001", destination="ACME", text=f"m{i}", received_at=i, raw={"k": i})
        for i in range(3)
    ]
    await store.add_inbound(msgs)
    await store.add_inbound(msgs[:1])  # same id again: ignored
    got = await store.list_inbound(10)
    assert [m.text for m in got] == ["m2", "m1", "m0"]
    assert got[0].raw == {"k": 2}


async def test_open_store_dsn_forms(tmp_path: Path) -> None:
    a = open_store(str(tmp_path / "a.db"))
    b = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    assert isinstance(a, SqliteStore) and a.path == str(tmp_path / "a.db")
    assert isinstance(b, SqliteStore) and b.path == str(tmp_path / "b.db")


async def test_closed_store_says_so(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "x.db")
    with pytest.raises(RuntimeError, match="not open"):
        await s.counts()


async def test_driver_errors_come_out_as_store_errors(tmp_path: Path) -> None:
    """A caller catches one type whatever the backend: the driver's words kept, and which file."""
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"not a database \(.*junk\.db\)") as info:
        await SqliteStore(tmp_path / "junk.db").open()
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)
    with pytest.raises(StoreError, match="unable to open"):
        await SqliteStore(tmp_path).open()  # a directory


async def test_postgres_errors_come_out_as_store_errors(store: Store) -> None:
    from msgbridge.store.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        pytest.skip("PostgreSQL only")
    async with store.pool.acquire() as conn:
        await conn.execute("DROP TABLE messages CASCADE")
    with pytest.raises(StoreError, match="messages"):
        await store.counts()


async def test_claim_by_ids_takes_only_those(store: Store) -> None:
    ids = await store.enqueue(entries(5))
    got = await store.claim(10, ids=[ids[1], ids[3]])
    assert sorted(r.message.id for r in got) == sorted([ids[1], ids[3]])
    assert await store.claim(10, ids=[]) == []
    assert await store.claim(10, ids=[ids[1]]) == []  # already ours
    assert await store.counts() == {S.QUEUED: 5}


async def test_another_process_claims_the_same_messages(store: Store, tmp_path: Path) -> None:
    batch = entries(3)
    await store.enqueue(batch)
    async with reopen(store, tmp_path) as other:  # nothing cached: bodies are read back
        got = await other.claim(10)
    assert [r.message for r in got] == sorted((e.message for e in batch), key=lambda m: m.id)


async def test_two_workers_never_claim_the_same_message(store: Store, tmp_path: Path) -> None:
    await store.enqueue(entries(300))
    async with reopen(store, tmp_path) as other:
        got: list[list[str]] = [[], []]

        async def drain(s: Store, out: list[str]) -> None:
            while batch := await s.claim(25):
                out.extend(r.message.id for r in batch)

        await asyncio.gather(drain(store, got[0]), drain(other, got[1]))
    assert len(got[0]) + len(got[1]) == 300
    assert set(got[0]).isdisjoint(got[1])


async def test_a_campaign_end_to_end_through_the_dispatcher(store: Store) -> None:
    await store.enqueue(entries(120))
    async with open_transport("memory://?dlr_delay_ms=1&max_batch=50&segment_ids=yes") as t:
        stats = await Dispatcher(store, t).run("c1", wait_receipts=10)
    assert stats.submitted == 120
    assert await store.counts("c1") == {S.DELIVERED: 120}
