"""A campaign's expected prices come from a hook (``RunRequest.price``, ``prepare_campaign(price=)``): each
message is queued with what it returns for the message and its segments, whoever built the rows."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Campaign, Message, Recipient
from msgbridge.dispatch.campaign import prepare_campaign
from msgbridge.dispatch.run import RunRequest, run_campaign
from msgbridge.store.base import CostTotal
from msgbridge.store.sqlite import SqliteStore

LONG = "long " * 40  # 2 segments with "Hi " in front


def per_segment(message: Message, segments: int) -> tuple[int, str] | None:
    """Kazakh numbers 18,000 micros a segment in KZT, others unpriced."""
    return (18_000 * segments, "KZT") if message.to.startswith("+7701") else None


def prices(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute(
            "SELECT m.key_rest, m.price, w.text FROM messages m "
            "LEFT JOIN words w ON w.id = m.price_currency_id ORDER BY m.n"
        ).fetchall()


def test_prepare_campaign_queues_each_message_with_the_hooks_price(tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    recipients = (
        Recipient(phone="+77010000001", fields={"name": "Ann"}, row=2),
        Recipient(phone="+77010000002", fields={"name": LONG}, row=3),
        Recipient(phone="+4915112345678", fields={"name": "Bob"}, row=4),
    )

    async def go() -> list[CostTotal]:
        async with SqliteStore(tmp_path / "p.db") as store:
            campaign = Campaign(name="spring", template="Hi {name}", recipients=recipients)
            await prepare_campaign(
                store, campaign, price=lambda m, n: seen.append((m.to, n)) or per_segment(m, n)
            )
            return await store.cost_totals("spring")

    assert asyncio.run(go()) == [CostTotal("KZT", 54_000, 2, 0, 0)]
    assert seen == [("+77010000001", 1), ("+77010000002", 2), ("+4915112345678", 1)]
    assert prices(tmp_path / "p.db") == [
        ("+77010000001", 18_000, "KZT"),
        ("+77010000002", 36_000, "KZT"),
        ("+4915112345678", None, None),
    ]


@pytest.mark.parametrize("preparer", ["here", "child"])
def test_a_run_records_the_price_whoever_builds_the_rows(tmp_path: Path, preparer: str) -> None:
    csv_file = tmp_path / "r.csv"
    rows = [f"+7701{i:07d},{LONG if i % 3 == 0 else 'P'}" for i in range(2500)] + ["+4915112345678,Bob"]
    csv_file.write_text("phone,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    request = RunRequest(
        name="mixed",
        template="Hi {name}",
        csv_path=str(csv_file),
        transport_label="memory://",
        preparer=preparer,
        price=per_segment,
    )
    db = tmp_path / f"{preparer}.db"
    result = asyncio.run(run_campaign(str(db), open_transport("memory://"), request))
    assert result.report.queued == 2501
    want = [(f"+7701{i:07d}", 18_000 * (2 if i % 3 == 0 else 1), "KZT") for i in range(2500)]
    assert prices(db) == [*want, ("+4915112345678", None, None)]
