"""``campaign export``: one CSV row per recipient from a real store (SQLite and PostgreSQL), a page at a time."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from msgbridge.cli.export import write_export
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.base import CampaignRecord, OutboxEntry, Store
from msgbridge.store.sqlite import SqliteStore

LINK = "smpp://smsc.example:2775"


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        async with SqliteStore(tmp_path / "e.db") as s:
            yield s
        return
    import asyncpg  # type: ignore[import-untyped]

    from msgbridge.store.postgres import PostgresStore

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"e_{uuid.uuid4().hex[:12]}"
    async with PostgresStore(dsn, schema=schema) as s:
        yield s
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()


async def campaign(store: Store, name: str, n: int) -> list[str]:
    """``n`` recipients queued, sent and (every third one refused, every other delivered) answered."""
    await store.save_campaign(CampaignRecord(name, "Hi {name}", "ACME", "smpp://h:1", time.time(), {}))
    entries = [
        OutboxEntry(
            Message(to=f"+7701{i:07d}", text=f"Hi N{i}", sender="ACME", campaign=name),
            idempotency_key=f"{name}:+7701{i:07d}",
            row=i + 2,
        )
        for i in range(n)
    ]
    ids = []
    for i in range(0, n, 500):
        ids += await store.enqueue(entries[i : i + 500])
    while claimed := await store.claim(500, campaign=name):
        await store.mark_in_doubt([r.message.id for r in claimed])
        refused = ErrorInfo(
            code=ErrorCode.INVALID_DESTINATION, native_code=11, native_message="bad destination"
        )
        results = [
            SendResult(message_id=r.message.id, status=S.REJECTED, error=refused)
            if int(r.message.to[-7:]) % 3 == 0
            else SendResult(message_id=r.message.id, status=S.SUBMITTED, native_id=f"n{r.message.to[-7:]}")
            for r in claimed
        ]
        await store.record_results(results, link=LINK)
        await store.record_receipts(
            [
                DeliveryReceipt(native_id=r.native_id, status=S.DELIVERED, link=LINK)
                for r in results
                if r.native_id and int(r.native_id[1:]) % 2 == 0
            ]
        )
    return ids


async def exported(store: Store, name: str, *, page: int, status: S | None = None) -> list[dict[str, str]]:
    out = io.StringIO()
    written = await write_export(store, name, out, status=status, page=page)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == written
    return rows


async def test_every_recipient_is_one_row_in_queue_order_across_pages(store: Store) -> None:
    ids = await campaign(store, "spring", 25)
    await campaign(store, "other", 4)  # not exported with spring
    rows = await exported(store, "spring", page=7)
    assert [r["message_id"] for r in rows] == ids
    assert [r["csv_line"] for r in rows] == [str(i + 2) for i in range(25)]
    assert [r["phone"] for r in rows] == [f"+7701{i:07d}" for i in range(25)]
    for i, r in enumerate(rows):
        if i % 3 == 0:
            assert (r["status"], r["native_id"], r["error_code"], r["error_native_code"], r["error_text"]) == (
                "REJECTED", "", "INVALID_DESTINATION", "11", "bad destination"
            )  # fmt: skip
        else:
            assert (r["status"], r["native_id"], r["error_code"]) == (
                "DELIVERED" if i % 2 == 0 else "SUBMITTED", f"n{i:07d}", ""
            )  # fmt: skip
        assert r["segments"] == "1" and r["created_at"] <= r["updated_at"]
        assert r["created_at"].endswith("Z")


async def test_a_status_selects_those_recipients_only(store: Store) -> None:
    await campaign(store, "spring", 30)
    rows = await exported(store, "spring", page=4, status=S.REJECTED)
    assert [r["phone"] for r in rows] == [f"+7701{i:07d}" for i in range(0, 30, 3)]
    assert {r["status"] for r in rows} == {"REJECTED"}
    assert await exported(store, "nobody", page=4) == []


async def test_memory_does_not_grow_with_the_number_of_rows(store: Store) -> None:
    """Peak Python allocations while exporting 3,000 rows stay those of exporting 300: one page at a time."""
    await campaign(store, "small", 300)
    await campaign(store, "large", 3000)

    class Sink(io.TextIOBase):
        def write(self, s: str) -> int:
            return len(s)

    peaks = {}
    for name in ("small", "large", "small"):  # the first round also warms caches and statements
        tracemalloc.start()
        try:
            await write_export(store, name, Sink(), page=100)  # type: ignore[arg-type]
            peaks[name] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    # Everything the large campaign's rows took would be 10x the small one's; a page is the same.
    assert peaks["large"] < peaks["small"] * 1.5 + 64 * 1024, peaks
