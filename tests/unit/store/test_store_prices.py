"""Schema 6: a message's expected price (queued with it) and actual cost (from its send result), the
campaign's totals per currency, and a version-5 store (``fixtures/v5_*.sql``) migrated to it."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_store import entries, receipt
from test_store import store as store  # the fixture: both backends

from msgbridge.core.message import DeliveryReceipt, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.base import CostTotal, OutboxEntry, Store
from msgbridge.store.schema import VERSION
from msgbridge.store.sql import SqlStore
from msgbridge.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"
LINK = "smpp://smsc.example:2775"


def priced(n: int, campaign: str = "c1", start: int = 0) -> list[OutboxEntry]:
    """``entries`` with prices: every third one none, the others 20,000 or 15,000 micros in EUR or KZT."""
    out = []
    for i, e in enumerate(entries(n, campaign, start)):
        price = None if i % 3 == 0 else (20_000 * (i % 2 + 1), "EUR" if i % 2 else "KZT")
        out.append(OutboxEntry(e.message, e.idempotency_key, e.row, price))
    return out


async def columns(store: Store, ids: list[str]) -> list[tuple[Any, ...]]:
    assert isinstance(store, SqlStore)
    rows = await store._reader().fetch_in(
        "SELECT m.id, m.price, p.text, m.cost, c.text FROM messages m LEFT JOIN words p ON p.id = m.price_currency_id "
        "LEFT JOIN words c ON c.id = m.cost_currency_id WHERE m.id {in} ORDER BY m.n",
        ids,
    )
    return [tuple(r) for r in rows]


async def test_the_price_is_written_with_the_message(store: Store) -> None:
    # More than one batch of the PostgreSQL COPY, and one entry again (idempotent: its first price stays).
    batch = priced(1200)
    ids = await store.enqueue(batch)
    again = await store.enqueue([OutboxEntry(batch[1].message, batch[1].idempotency_key, None, (1, "USD"))])
    assert again == [ids[1]]
    got = await columns(store, ids)
    assert got[:4] == [
        (ids[0], None, None, None, None),
        (ids[1], 40_000, "EUR", None, None),
        (ids[2], 20_000, "KZT", None, None),
        (ids[3], None, None, None, None),
    ]
    assert [(p, c) for _, p, c, _, _ in got] == [(None, None) if e.price is None else e.price for e in batch]


async def test_batches_with_and_without_prices_follow_each_other(store: Store) -> None:
    """Each writes its own columns (PostgreSQL: each through its own COPY table, on whatever connection)."""
    for start in range(0, 60, 10):
        batch = priced(10, start=start) if start % 20 else entries(10, start=start)
        await store.enqueue(batch)
    totals = await store.cost_totals("c1")
    # priced(10): 6 of 10 priced (every third none), 3 EUR 40,000 and 3 KZT 20,000; three such batches.
    assert totals == [CostTotal("EUR", 360_000, 9, 0, 0), CostTotal("KZT", 180_000, 9, 0, 0)]


async def test_a_results_cost_is_recorded_and_the_campaign_totals_it(store: Store) -> None:
    ids = await store.enqueue(priced(6))
    await store.claim(10)
    await store.record_results(
        [
            SendResult(ids[0], S.SUBMITTED, "n0", cost=(31_500, "RUB")),
            SendResult(ids[1], S.SUBMITTED, "n1", cost=(35_000, "EUR")),
            SendResult(ids[2], S.SUBMITTED, "n2"),  # the provider said nothing
            SendResult(ids[3], S.SUBMITTED, "n3", cost=(40_000, "EUR")),
            SendResult(ids[4], S.SUBMITTED, "n4", cost=(0, "KZT")),  # free: a cost, of 0
        ],
        link=LINK,
    )
    got = await columns(store, ids)
    assert [(c, cur) for _, _, _, c, cur in got] == [
        (31_500, "RUB"), (35_000, "EUR"), (None, None), (40_000, "EUR"), (0, "KZT"), (None, None)
    ]  # fmt: skip
    # A receipt changes no cost; a later result without one keeps it, one with one replaces it.
    await store.record_receipts([receipt("n1", S.DELIVERED, link=LINK)])
    await store.record_results([SendResult(ids[1], S.SUBMITTED, "n1")], link=LINK)
    await store.record_results([SendResult(ids[3], S.SUBMITTED, "n3", cost=(41_000, "EUR"))], link=LINK)
    # Prices (priced(6)): 1 EUR 40,000; 2 KZT 20,000; 4 KZT 20,000; 5 EUR 40,000.
    assert await store.cost_totals("c1") == [
        CostTotal("EUR", price=80_000, priced=2, cost=76_000, costed=2),
        CostTotal("KZT", price=40_000, priced=2, cost=0, costed=1),
        CostTotal("RUB", price=0, priced=0, cost=31_500, costed=1),
    ]
    assert await store.cost_totals("other") == []
    await store.enqueue(entries(2, campaign="c2"))
    assert await store.cost_totals("c2") == []


async def test_export_has_the_price_and_the_cost(store: Store) -> None:
    ids = await store.enqueue(priced(3))
    await store.claim(10)
    await store.record_results([SendResult(ids[1], S.SUBMITTED, "n1", cost=(12_345, "EUR"))], link=LINK)
    page = await store.export_page("c1")
    assert [(r.price, r.cost) for r in page] == [
        (None, None),
        ((40_000, "EUR"), (12_345, "EUR")),
        ((20_000, "KZT"), None),
    ]


# -- schema 5 -> 6 --------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
async def v5_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A store of schema version 5 loaded from its backend's fixture, not opened yet."""
    if request.param == "sqlite":
        path = tmp_path / "v5.db"
        with sqlite3.connect(path) as db:
            db.executescript((FIXTURES / "v5_sqlite.sql").read_text())
        db.close()
        yield SqliteStore(path)
        return
    import asyncpg  # type: ignore[import-untyped]

    from msgbridge.store.postgres import PostgresStore

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"v5_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path = "{schema}"')
        await conn.execute((FIXTURES / "v5_postgres_schema.sql").read_text())
        await conn.execute((FIXTURES / "v5_postgres.sql").read_text())
        yield PostgresStore(dsn, schema=schema)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def test_a_version_5_store_gets_prices_and_goes_on(v5_store: SqlStore) -> None:
    async with v5_store as store:
        assert VERSION == 6
        assert [tuple(r) for r in await store._reader().fetch("SELECT version FROM schema_version")] == [(6,)]
        # What it held reads as it did, and has no price or cost (none was known).
        m1, m2 = await store.get("m1"), await store.get("m2")
        assert m1 is not None and (m1.status, m1.message.text, m1.link) == (S.DELIVERED, "Hi Bob", LINK)
        assert m2 is not None and (m2.status, m2.native_ids, m2.segments) == (S.ACCEPTED, ("n2a", "n2b"), 2)
        assert m2.message.text == "Hi " + "long " * 40
        assert await columns(store, ["m0", "m1", "m2"]) == [
            (m, None, None, None, None) for m in ("m0", "m1", "m2")
        ]
        assert await store.cost_totals("spring") == []
        # Its last part's receipt completes m2; its queue is claimed, sent with a cost, and totalled.
        await store.record_receipts([DeliveryReceipt("n2b", S.DELIVERED, "DELIVRD", link=LINK)])
        m2 = await store.get("m2")
        assert m2 is not None and m2.status is S.DELIVERED
        [m0] = await store.claim(10, campaign="spring")
        assert m0.message.text == "Hi Ann"
        await store.record_results([SendResult("m0", S.SUBMITTED, "n0", cost=(15_000, "EUR"))], link=LINK)
        new = priced(3, campaign="spring", start=10)
        await store.enqueue(new)
        assert await store.cost_totals("spring") == [
            CostTotal("EUR", 40_000, 1, 15_000, 1),
            CostTotal("KZT", 20_000, 1, 0, 0),
        ]
        assert [m.id for _, m in await store.inbound_page(None, 10)] == ["i1"]
    async with v5_store as store:  # opened again: migrated once
        assert await store.cost_totals("spring") == [
            CostTotal("EUR", 40_000, 1, 15_000, 1),
            CostTotal("KZT", 20_000, 1, 0, 0),
        ]


async def test_a_receipts_cost_is_recorded_where_the_provider_reports_it_with_the_status(
    store: Store,
) -> None:
    ids = await store.enqueue(entries(3))
    await store.claim(10)
    await store.record_results([SendResult(i, S.SUBMITTED, f"n{k}") for k, i in enumerate(ids)], link=LINK)
    await store.record_receipts(
        [
            DeliveryReceipt("n0", S.ACCEPTED, "sent", link=LINK, cost=(20_000, "EUR")),
            DeliveryReceipt("n1", S.DELIVERED, "delivered", link=LINK),
            DeliveryReceipt("unknown", S.DELIVERED, "delivered", link=LINK, cost=(1, "EUR")),  # parked
        ]
    )
    # A later receipt without one keeps it.
    await store.record_receipts([DeliveryReceipt("n0", S.DELIVERED, "delivered", link=LINK)])
    assert [(c, cur) for _, _, _, c, cur in await columns(store, ids)] == [
        (20_000, "EUR"),
        (None, None),
        (None, None),
    ]
    assert await store.cost_totals("c1") == [CostTotal("EUR", 0, 0, 20_000, 1)]
