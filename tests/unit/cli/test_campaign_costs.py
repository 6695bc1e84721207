"""``campaign status`` shows a campaign's expected price and actual cost per currency; ``campaign export``
has both per recipient."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Run

from msgbridge.core.message import Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import CampaignRecord, OutboxEntry
from msgbridge.store.sqlite import SqliteStore

LINK = "https://api.example"


async def seed(db: Path) -> None:
    """Four recipients: prices 18,000 KZT (two), 20,000 EUR, none; costs 31,500 RUB and 0.0215 EUR."""
    async with SqliteStore(db) as store:
        await store.save_campaign(CampaignRecord("spring", "Hi", None, "smsc", 0.0, {}))
        prices = [(18_000, "KZT"), (18_000, "KZT"), (20_000, "EUR"), None]
        ids = await store.enqueue(
            [
                OutboxEntry(
                    Message(to=f"+7701000000{i}", text="Hi", campaign="spring"), f"spring:{i}", i + 2, p
                )
                for i, p in enumerate(prices)
            ]
        )
        await store.claim(10)
        await store.record_results(
            [
                SendResult(ids[0], DeliveryStatus.SUBMITTED, "n0", cost=(31_500, "RUB")),
                SendResult(ids[1], DeliveryStatus.SUBMITTED, "n1"),
                SendResult(ids[2], DeliveryStatus.SUBMITTED, "n2", cost=(21_500, "EUR")),
            ],
            link=LINK,
        )


def test_campaign_status_totals_price_and_cost_per_currency(
    tmp_path: Path, msgbridge: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    asyncio.run(seed(db))
    monkeypatch.setenv("COLUMNS", "200")
    r = msgbridge("--store", str(db), "campaign", "status", "spring")
    assert r.code == 0, r.output
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in r.out.splitlines()
        if line.startswith("│") and line.split("│")[1].strip() in ("EUR", "KZT", "RUB")
    ]
    assert rows == [
        ["EUR", "0.02", "1", "0.0215", "1"],
        ["KZT", "0.036", "2", "-", "0"],
        ["RUB", "-", "0", "0.0315", "1"],
    ]
    costs = msgbridge("--store", str(db), "campaign", "status", "spring", "--json").json()["costs"]
    assert costs == [
        {"currency": "EUR", "price": "0.02", "price_micros": 20_000, "priced": 1, "cost": "0.0215", "cost_micros": 21_500, "costed": 1},
        {"currency": "KZT", "price": "0.036", "price_micros": 36_000, "priced": 2, "cost": None, "cost_micros": None, "costed": 0},
        {"currency": "RUB", "price": None, "price_micros": None, "priced": 0, "cost": "0.0315", "cost_micros": 31_500, "costed": 1},
    ]  # fmt: skip


def test_export_has_price_and_cost_columns(tmp_path: Path, msgbridge: Callable[..., Run]) -> None:
    db = tmp_path / "s.db"
    asyncio.run(seed(db))
    r = msgbridge("--store", str(db), "campaign", "export", "spring")
    assert r.code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [(x["price"], x["price_currency"], x["cost"], x["cost_currency"]) for x in rows] == [
        ("0.018", "KZT", "0.0315", "RUB"),
        ("0.018", "KZT", "", ""),
        ("0.02", "EUR", "0.0215", "EUR"),
        ("", "", "", ""),
    ]


def test_a_campaign_without_prices_shows_no_cost_table(tmp_path: Path, msgbridge: Callable[..., Run]) -> None:
    async def plain(db: Path) -> None:
        async with SqliteStore(db) as store:
            await store.save_campaign(CampaignRecord("plain", "Hi", None, "smsc", 0.0, {}))
            await store.enqueue(
                [OutboxEntry(Message(to="+77010000001", text="Hi", campaign="plain"), "plain:1")]
            )

    db = tmp_path / "p.db"
    asyncio.run(plain(db))
    r = msgbridge("--store", str(db), "campaign", "status", "plain")
    assert r.code == 0 and "price and cost" not in r.out
    assert msgbridge("--store", str(db), "campaign", "status", "plain", "--json").json()["costs"] == []
