"""``POST /v1/campaigns?dry_run=true``: the plan ``campaign plan --json`` prints, over the real server."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from api_helpers import Api, api
from click.testing import CliRunner

from msgbridge.cli.main import cli
from msgbridge.routing.config import read_routing
from msgbridge.simulators.smsc import SmscSimulator

PRICES = {
    "prices": {
        "sms": {"currency": "KZT", "7700": 9.5, "KZ": 11},
        "backup": {"currency": "EUR", "7": 0.025, "49": 0.075},
    }
}
CSV = (
    "phone,name\n+77011230001,Анна\n+77001230002,‘Bo’\n+491701234567,Jonas\nnot-a-phone,X\n+77011230001,Again\n"
)


def cli_plan(tmp_path: Path) -> dict[str, object]:
    """The same rows through ``campaign plan --json`` with the same price table."""
    (tmp_path / "people.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "msgbridge.toml").write_text(
        '[transports]\nbackup = "memory://"\n\n[prices.backup]\ncurrency = "EUR"\n"7" = 0.025\n"49" = 0.075\n',
        encoding="utf-8",
    )
    got = CliRunner().invoke(
        cli,
        ["--config", str(tmp_path / "msgbridge.toml"), "campaign", "plan", "--csv", str(tmp_path / "people.csv"),
         "--template", "Hi {name}", "--via", "backup", "--name", "promo", "--json"],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    plan: dict[str, object] = json.loads(got.stdout)
    return plan


async def dry_run(a: Api, body: dict[str, str]) -> dict[str, Any]:
    """The plan the API answers for ``body`` with ``CSV`` uploaded (200, nothing queued)."""
    r = await a.client.post(
        "/v1/campaigns?dry_run=true", headers=a.auth(), data=body,
        files={"file": ("people.csv", CSV.encode(), "text/csv")},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    plan: dict[str, Any] = r.json()
    return plan


async def test_dry_run_answers_the_plan_and_queues_nothing(sim: SmscSimulator, tmp_path: Path) -> None:
    routing = read_routing(PRICES, base=tmp_path, transports=["sms", "backup"])
    async with api(tmp_path, sim, routing=routing) as a:
        body = {"name": "promo", "template": "Hi {name}", "transport": "backup"}
        plan = await dry_run(a, body)
        assert (plan["rows"], plan["messages"], plan["skipped_total"], plan["repeated_total"]) == (5, 3, 1, 1)
        assert plan["skipped"][0]["line"] == 5 and plan["repeated"] == [
            {"line": 6, "first_line": 2, "phone": "+77011230001"}
        ]
        assert plan["price"] == ["0.125 EUR"]  # 2 segments at 0.025 on +7, 1 at 0.075 on +49
        assert [g["group"] for g in plan["forcing_groups"]] == ["CYRILLIC", "‘", "’"]
        expected = cli_plan(tmp_path)
        for got in (plan, expected):
            got.pop("prepare_seconds")
        assert plan == expected  # the API's plan is the command's
        assert await a.runtime.campaign("promo") is None  # nothing queued: the name is still free
        sms = await a.client.post(
            "/v1/campaigns?dry_run=true", headers=a.auth(),
            json={"name": "promo", "template": "Hi {name}", "transport": "sms",
                  "recipients": [{"phone": "+77011230001", "fields": {"name": "A"}},
                                 {"phone": "+77001230002", "fields": {"name": "B"}}]},
        )  # fmt: skip
        assert sms.status_code == 200, sms.text
        assert sms.json()["price_micros"] == {"KZT": 20_500_000}
        started = await a.client.post(
            "/v1/campaigns", headers=a.auth(), data=body, files={"file": ("people.csv", CSV.encode(), "text/csv")}
        )
        assert started.status_code == 202, started.text
        view = (await a.client.get("/v1/campaigns/promo", headers=a.auth())).json()
        assert [c["price_micros"] for c in view["costs"]] == [125_000]  # what the plan said, recorded


async def test_a_routed_lane_is_planned_by_its_routes(sim: SmscSimulator, tmp_path: Path) -> None:
    config = {
        "routes": [
            {"name": "KZ", "countries": ["KZ"], "transports": ["sms"]},
            {"name": "rest", "transports": ["backup"]},
        ],
        **PRICES,
    }
    routing = read_routing(config, base=tmp_path, transports=["sms", "backup"])
    async with api(tmp_path, sim, routing=routing) as a:
        for transport, routes in ((None, {"KZ", "rest"}), ("route:kz", {"KZ"})):
            body = {"name": "promo", "template": "Hi {name}", **({"transport": transport} if transport else {})}
            plan = await dry_run(a, body)
            assert {g["route"] for g in plan["groups"]} == routes, plan["groups"]
        assert plan["price_micros"] == {"KZT": 20_500_000}  # route:kz: all three on sms, the +49 unpriced
        assert plan["unpriced"] == 1


async def test_a_message_posted_alone_records_its_expected_price(sim: SmscSimulator, tmp_path: Path) -> None:
    routing = read_routing(PRICES, base=tmp_path, transports=["sms", "backup"])
    async with api(tmp_path, sim, routing=routing) as a:
        r = await a.client.post(
            "/v1/messages", headers=a.auth(),
            json={"messages": [{"to": "+77001230002", "text": "Привет", "transport": "sms"},
                               {"to": "+491701234567", "text": "x" * 200, "transport": "backup"},
                               {"to": "+12025550143", "text": "unpriced", "transport": "backup"}]},
        )  # fmt: skip
        assert r.status_code == 202, r.text
        ids = [m["id"] for m in r.json()["messages"]]
        shown = [(await a.client.get(f"/v1/messages/{i}", headers=a.auth())).json()["price"] for i in ids]
        assert shown == [
            {"amount": "9.50", "micros": 9_500_000, "currency": "KZT"},
            {"amount": "0.15", "micros": 150_000, "currency": "EUR"},
            None,
        ]
    with sqlite3.connect(tmp_path / "api.db") as c:
        got = dict(
            c.execute(
                "SELECT m.id, m.price || ' ' || cur.text FROM messages m "
                "LEFT JOIN words cur ON cur.id = m.price_currency_id"
            ).fetchall()
        )
    # 9.5 KZT a segment on 7700; two segments of 153 GSM-7 characters at 0.075 EUR on 49; none for +1
    assert [got[i] for i in ids] == ["9500000 KZT", "150000 EUR", None]
