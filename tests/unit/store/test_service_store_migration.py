"""Schema 3 -> 4: a store written at version 3 (``fixtures/v3_*.sql``) opens with its inbound messages
numbered oldest first, and goes on: new ones come after them, its queue is claimed and canceled."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from msgbridge.core.message import InboundMessage
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.schema import VERSION
from msgbridge.store.sql import SqlStore
from msgbridge.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(params=["sqlite", "postgres"])
async def v3_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A store of schema version 3 loaded from its backend's fixture, not opened yet."""
    if request.param == "sqlite":
        path = tmp_path / "v3.db"
        with sqlite3.connect(path) as db:
            db.executescript((FIXTURES / "v3_sqlite.sql").read_text())
        db.close()
        yield SqliteStore(path)
        return
    import asyncpg  # type: ignore[import-untyped]

    from msgbridge.store.postgres import PostgresStore

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"v3_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path = "{schema}"')
        await conn.execute((FIXTURES / "v3_postgres_schema.sql").read_text())
        await conn.execute((FIXTURES / "v3_postgres.sql").read_text())
        yield PostgresStore(dsn, schema=schema)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def rows(store: SqlStore, statement: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await store._reader().fetch(statement)]


async def test_a_version_3_store_numbers_its_inbox_oldest_first(v3_store: SqlStore) -> None:
    async with v3_store as store:
        assert VERSION == 6
        assert await rows(store, "SELECT version FROM schema_version") == [(VERSION,)]
        page = await store.inbound_page(None, 10)
        # Stored i1, i2, i3; i2 was received first, so it is first once numbered.
        assert [m.id for _, m in page] == ["i2", "i1", "i3"]
        by_id = {m.id: m for _, m in page}
        assert (by_id["i1"].text, by_id["i1"].raw, by_id["i1"].received_at) == (
            "STOP",
            {"k": 1},
            1764700200.0,
        )
        assert (by_id["i3"].parts, by_id["i3"].text) == (2, "long " * 40)
        assert [m.id for m in await store.list_inbound(10)] == ["i3", "i1", "i2"]  # as before: newest first
        # New ones come after, a duplicate id stays where it was.
        await store.add_inbound(
            [
                InboundMessage(
                    id="i4", source="+1", destination="ACME", text="new", link="l", received_at=1.0
                ),
                InboundMessage(
                    id="i1", source="+1", destination="ACME", text="again", link="l", received_at=2.0
                ),
            ]
        )
        after = await store.inbound_page(page[-1][0], 10)
        assert [m.id for _, m in after] == ["i4"]
        # The outbox went through untouched: its message is queued, and can be canceled.
        assert await store.counts("spring") == {S.QUEUED: 1}
        assert await store.cancel("spring") == 1
        m0 = await store.get("m0")
        assert m0 is not None and m0.status is S.CANCELED and m0.message.text == "Hi Ann"


async def test_a_version_3_store_opened_again_is_numbered_once(v3_store: SqlStore) -> None:
    async with v3_store as store:
        first = await store.inbound_page(None, 10)
    async with v3_store as store:
        assert await store.inbound_page(None, 10) == first
        assert await rows(store, "SELECT COUNT(*) FROM inbound") == [(3,)]
