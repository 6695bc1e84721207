"""Stores written before schema versions open, are migrated, and read as the code that wrote them read them.

The fixtures are databases written by that code (``fixtures/v1_*.sql``, see
their first lines); what is asserted here about them is what it returned for
them. Each backend's is opened with today's code, then used on.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from msgbridge.core import records
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store import StoreError
from msgbridge.store.schema import VERSION
from msgbridge.store.sql import SqlStore
from msgbridge.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"
LINK = "smpp://smsc.example:2775"

# message id -> (status, attempts, native_id, native_ids, segments, last error, history (status, note))
EXPECTED: dict[str, tuple[Any, ...]] = {
    "m0": (S.DELIVERED, 1, "n0", (), 1, None, [(S.QUEUED, "enqueued"), (S.SUBMITTED, "result"), (S.DELIVERED, "receipt DELIVRD")]),
    "m1": (S.ACCEPTED, 1, "n1b", ("n1a", "n1b"), 2, None, [(S.QUEUED, "enqueued"), (S.SUBMITTED, "result"), (S.ACCEPTED, "receipt DELIVRD")]),
    "m2": (S.QUEUED, 1, None, (), 1, ErrorInfo(code=ErrorCode.THROTTLED, native_code=88, native_message="slow down", retry_after=1.5),
           [(S.QUEUED, "enqueued"), (S.QUEUED, "requeued: THROTTLED [88]: slow down")]),
    "m3": (S.MAYBE_SUBMITTED, 1, None, (), 1, None, [(S.QUEUED, "enqueued"), (S.MAYBE_SUBMITTED, "from history")]),
    "m4": (S.MAYBE_SUBMITTED, 1, None, (), 1, None, [(S.QUEUED, "enqueued")]),
    "m5": (S.QUEUED, 0, None, (), 1, None, [(S.QUEUED, "enqueued")]),
}  # fmt: skip


async def sql(store: SqlStore, statement: str) -> list[tuple[Any, ...]]:
    """A statement on the store's own connection, as both backends spell it."""
    return [tuple(r) for r in await store._reader().fetch(statement)]


@asynccontextmanager
async def loaded(version: int, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A store of schema ``version``, loaded from its backend's fixture (``request.param``), not opened yet."""
    if request.param == "sqlite":
        path = tmp_path / f"v{version}.db"
        with sqlite3.connect(path) as db:
            db.executescript((FIXTURES / f"v{version}_sqlite.sql").read_text())
        db.close()
        yield SqliteStore(path)
        return
    import asyncpg  # type: ignore[import-untyped]

    from msgbridge.store.postgres import PostgresStore

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"v{version}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path = "{schema}"')
        await conn.execute((FIXTURES / f"v{version}_postgres_schema.sql").read_text())
        await conn.execute((FIXTURES / f"v{version}_postgres.sql").read_text())
        yield PostgresStore(dsn, schema=schema)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A store of schema version 1, loaded from its backend's fixture, not opened yet."""
    async with loaded(1, request, tmp_path) as store:
        yield store


async def test_a_version_1_store_opens_with_its_data_intact(old_store: SqlStore) -> None:
    async with old_store as store:
        assert await sql(store, "SELECT version FROM schema_version") == [(VERSION,)]
        assert await store.counts("spring") == {
            S.ACCEPTED: 1,
            S.DELIVERED: 1,
            S.MAYBE_SUBMITTED: 2,
            S.QUEUED: 2,
        }
        for message_id, (
            status,
            attempts,
            native_id,
            native_ids,
            segments,
            error,
            history,
        ) in EXPECTED.items():
            rec = await store.get(message_id)
            assert rec is not None and rec.message.id == message_id
            assert (
                rec.status,
                rec.attempts,
                rec.native_id,
                rec.native_ids,
                rec.segments,
                rec.last_error,
            ) == (
                status,
                attempts,
                native_id,
                native_ids,
                segments,
                error,
            )
            assert [(h[1], h[2]) for h in rec.history] == history
            assert rec.history[0][0] == rec.created_at
        long = await store.get("m1")
        assert long is not None and long.message.text == "long " * 60 and long.link == LINK
        campaign = await store.get_campaign("spring")
        assert campaign is not None
        assert (campaign.template, campaign.sender, campaign.transport, campaign.options) == (
            "Hi {name}",
            "ACME",
            "smpp://u:***@h:1",
            {"tps": "5"},
        )
        [inbound] = await store.list_inbound(5)
        assert (inbound.id, inbound.text, inbound.raw) == ("i1", "STOP", {"k": 1})
        assert sorted(r.message.id for r in await store.in_doubt(10)) == ["m3", "m4"]
        assert await store.pending_native_ids(LINK, 10) == ["n1b"]
        found = await store.find_by_reference("ref1")
        assert found is not None and found.message.id == "m1"
        assert await sql(store, "SELECT id, csv_row FROM messages ORDER BY id") == [
            (f"m{i}", i + 2) for i in range(6)
        ]


async def parked_receipt_matches_m4(store: SqlStore) -> None:
    """m4 was left in doubt with a receipt parked for n4: its result naming n4 matches that receipt."""
    await store.record_results([SendResult(message_id="m4", status=S.SUBMITTED, native_id="n4")], link=LINK)
    m4 = await store.get("m4")
    assert m4 is not None and m4.status is S.DELIVERED
    assert [(h[1], h[2]) for h in m4.history][-2:] == [
        (S.SUBMITTED, "result"),
        (S.DELIVERED, "receipt DELIVRD"),
    ]


async def test_a_version_1_store_goes_on_where_it_stopped(old_store: SqlStore) -> None:
    """The receipt it parked matches the result that names it; its queue is claimed; its parts merge."""
    async with old_store as store:
        await parked_receipt_matches_m4(store)
        assert sorted(r.message.id for r in await store.claim(10, campaign="spring")) == ["m2", "m5"]
        from msgbridge.core.message import DeliveryReceipt

        await store.record_receipts([DeliveryReceipt(native_id="n1b", status=S.DELIVERED, link=LINK)])
        m1 = await store.get("m1")
        assert m1 is not None and m1.status is S.DELIVERED


async def test_opening_again_changes_nothing(old_store: SqlStore) -> None:
    async with old_store as store:
        tables = await sql(store, "SELECT COUNT(*) FROM messages")
    async with old_store as store:
        assert await sql(store, "SELECT version FROM schema_version") == [(VERSION,)]
        assert await sql(store, "SELECT COUNT(*) FROM messages") == tables
        m3 = await store.get("m3")
        assert m3 is not None and [h[2] for h in m3.history] == ["enqueued", "from history"]  # folded once


async def test_the_old_history_table_is_gone_after_the_move(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:
        db.executescript((FIXTURES / "v1_sqlite.sql").read_text())
    db.close()
    async with SqliteStore(path):
        pass
    with sqlite3.connect(path) as db:
        names = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {r[1] for r in db.execute("PRAGMA table_info(messages)")}
    db.close()
    assert "history" not in names and {"words", "schema_version", "owners"} <= names
    assert "bodies" not in names  # version 3 keeps a message's body on its row
    assert "csv_row" in columns and "row" not in columns


async def test_a_newer_schema_is_refused_not_written(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    async with SqliteStore(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        await SqliteStore(path).open()


# -- version 2 -> 3 -----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
async def v2_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SqlStore, dict[str, Any]]]:
    """A store of schema version 2 from its backend's fixture (not opened yet), and what that code read from it."""
    expected = json.loads((FIXTURES / f"v2_{request.param}_expected.json").read_text())
    async with loaded(2, request, tmp_path) as store:
        yield store, expected


async def test_a_version_2_store_reads_back_as_that_code_read_it(
    v2_store: tuple[SqlStore, dict[str, Any]],
) -> None:
    old, expected = v2_store
    async with old as store:
        assert await sql(store, "SELECT version FROM schema_version") == [(VERSION,)]
        for message_id, want in expected["messages"].items():
            rec = await store.get(message_id)
            assert rec is not None
            assert json.loads(rec.message.model_dump_json()) == want["message"]
            assert (rec.status.value, rec.attempts, rec.native_id, list(rec.native_ids), rec.link, rec.segments) == (
                want["status"], want["attempts"], want["native_id"], want["native_ids"], want["link"], want["segments"]
            )  # fmt: skip
            error = records.dump(rec.last_error) if rec.last_error else None
            assert error == want["last_error"]
            assert (rec.created_at, rec.updated_at) == (want["created_at"], want["updated_at"])
            assert [[s.value, note] for _, s, note in rec.history] == [h[1:] for h in want["history"]]
            # Kept to the microsecond since version 3.
            assert all(abs(h[0] - w[0]) < 1e-6 for h, w in zip(rec.history, want["history"], strict=True))
        assert {s.value: n for s, n in (await store.counts("spring")).items()} == expected["counts"]
        assert sorted(r.message.id for r in await store.in_doubt(10)) == expected["in_doubt"]
        assert await store.pending_native_ids(LINK, 10) == expected["pending"]
        # The campaign's texts are kept as what filled its template in, and the e-mail's fields as extras.
        assert await sql(store, "SELECT text FROM messages WHERE template_id IS NOT NULL ORDER BY id") == [
            ("Ann",), ("Cem",), ("Dan",), ("Eve",), ("Fay",)
        ]  # fmt: skip


async def test_a_version_2_store_goes_on_where_it_stopped(v2_store: tuple[SqlStore, dict[str, Any]]) -> None:
    """Its keys still say what was queued, its parked receipt matches, its queue and retries are claimed."""
    from msgbridge.core.message import DeliveryReceipt, Message
    from msgbridge.store.base import OutboxEntry

    old, expected = v2_store
    async with old as store:
        again = [
            OutboxEntry(Message(to=m["message"]["to"], text="x", campaign=m["message"]["campaign"]), key)
            for m, key in zip(
                expected["messages"].values(),
                [f"spring:+7701000000{i}" for i in range(6)] + ["smtp:<abc@example.com>", "ref:R7"],
                strict=True,
            )
        ]
        assert await store.enqueue(again) == list(expected["messages"])
        assert await sql(store, "SELECT COUNT(*) FROM messages") == [(8,)]
        await parked_receipt_matches_m4(store)
        assert [r.message.id for r in await store.claim(10, campaign="spring")] == ["m5"]
        assert [r.message.id for r in await store.claim(10, campaign="spring", now=3e9)] == ["m2"]
        await store.record_receipts([DeliveryReceipt(native_id="n1b", status=S.DELIVERED, link=LINK)])
        m1 = await store.get("m1")
        assert m1 is not None and m1.status is S.DELIVERED
        await store.record_receipts(
            [DeliveryReceipt(native_id="e6", status=S.DELIVERED, link="smtp://mx:25")]
        )
        m6 = await store.get("m6")
        assert m6 is not None and m6.status is S.DELIVERED
