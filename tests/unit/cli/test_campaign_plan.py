"""``campaign plan`` and ``campaign run --dry-run``: the printed plan, and the plan against the real run."""

from __future__ import annotations

import csv
import json
import os
import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from msgbridge.cli.main import cli
from msgbridge.core.errors import ConfigError
from msgbridge.core.money import amount

CONFIG = """
[transports]
kz_smsc = "memory://kz"
intl = "memory://intl"
backup = "memory://backup"

[[routes]]
name = "kz"
countries = ["KZ"]
transports = ["kz_smsc", "intl"]

[[routes]]
name = "world"
transports = ["intl", "backup"]
strategy = "cheapest"

[prices.kz_smsc]
currency = "KZT"
"7700" = 9.5
"KZ" = 11

[prices.intl]
currency = "EUR"
"7" = 0.03
"49" = 0.075

[prices.backup]
currency = "EUR"
"7" = 0.025
"GB" = 0.04
"""
NOTES = ["your parcel is ready", "your parcel is ‘ready’", "посылка готова", "x" * 150, "посылка " * 10]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("MSGBRIDGE_")]:
        monkeypatch.delenv(key)
    (tmp_path / "msgbridge.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", "msgbridge.toml", "--store", "sqlite:///store.db", *args])


def small_csv(path: Path) -> Path:
    path.write_text(
        "phone,name,note\n"
        "+77011234567,Анна,hi\n"
        "+77001234567,Bob,‘ok’\n"
        "+491701234567,Zoe,hi\n"
        "nope,Bad,hi\n",
        encoding="utf-8",
    )
    return path


def test_plan_prints_groups_encodings_and_the_saving(home: Path) -> None:
    got = invoke(
        "campaign", "plan", "--csv", str(small_csv(home / "r.csv")), "--template", "Hi {name}: {note}",
        "--transliterate",
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    out = got.output
    for row in (
        ("kz", "kz_smsc", "KZ", "2", "2", "20.50 KZT"),
        ("world", "intl", "DE", "1", "1", "0.075 EUR"),
        ("total", "3", "3", "0.075 EUR + 20.50 KZT"),
    ):
        assert any(all(cell in line for cell in row) for line in out.splitlines()), (row, out)
    assert "via auto" in out
    assert "rows 4: 3 messages (3 segments), 1 skipped." in out
    assert "skipped line 5: invalid phone number 'nope'" in out
    assert "encodings: GSM-7 1 message, 1 segment; UCS-2 2 messages, 2 segments." in out
    assert "‘ (U+2018 LEFT SINGLE QUOTATION MARK) in 1 row forces UCS-2 (with other such characters in every one): " in out
    assert "transliterated: 2 rows change, 2 of them to GSM-7; 3 segments would be 3 (0 fewer)." in out
    assert "nothing was sent or queued" in out
    assert not (home / "store.db").exists()


def test_dry_run_prints_the_plan(home: Path) -> None:
    path = str(small_csv(home / "r.csv"))
    args = ("--csv", path, "--template", "Hi {name}: {note}", "--via", "auto", "--transliterate", "--json")
    plan = invoke("campaign", "plan", *args)
    dry = invoke("campaign", "run", "--dry-run", *args)
    assert plan.exit_code == dry.exit_code == 0, plan.output + dry.output
    planned, dried = json.loads(plan.stdout), json.loads(dry.stdout)
    for got in (planned, dried):
        got.pop("prepare_seconds")
    assert planned == dried
    assert planned["messages"] == 3 and planned["price"] == ["0.075 EUR", "20.50 KZT"]
    assert not (home / "store.db").exists()


@pytest.mark.parametrize("command", [("campaign", "plan"), ("campaign", "run", "--dry-run")])
def test_strict_shows_the_plan_then_refuses_a_bad_row_as_the_run_would(
    home: Path, command: tuple[str, ...]
) -> None:
    path = str(small_csv(home / "r.csv"))
    args = ("--csv", path, "--template", "Hi {name}: {note}", "--via", "auto")
    # main() prints a ConfigError as one line and exits 2; the group itself raises it
    got = invoke(*command, *args, "--strict")
    assert isinstance(got.exception, ConfigError), got.output
    assert "rows 4: 3 messages (3 segments), 1 skipped." in got.output  # the plan first
    assert "--strict: campaign 'r' would not start: line 5: invalid phone number 'nope'" in str(got.exception)
    assert not (home / "store.db").exists()
    as_json = invoke(*command, *args, "--strict", "--json")
    assert isinstance(as_json.exception, ConfigError) and json.loads(as_json.stdout)["skipped_total"] == 1
    (home / "good.csv").write_text("phone,name,note\n+77011234567,A,hi\n", encoding="utf-8")
    good = invoke(*command, "--csv", "good.csv", "--template", "Hi {name}", "--via", "auto", "--strict")
    assert good.exit_code == 0, good.output


def test_plan_refuses_an_unknown_route(home: Path) -> None:
    got = invoke("campaign", "plan", "--csv", str(small_csv(home / "r.csv")), "--template", "x", "--via", "route:no")
    # main() prints a ConfigError as one line and exits 2; the group itself raises it
    assert isinstance(got.exception, ConfigError) and "unknown route 'no'" in str(got.exception)


def mixed_csv(path: Path, rows: int) -> Path:
    """KZ, RU, DE and GB numbers (a few invalid, a few repeated next to their first and a few more than a chunk
    after it), texts of every kind."""
    rng = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["phone", "name", "note"])
        last = "+77010000000"
        written: list[str] = []
        for i in range(rows):
            phone = rng.choice(
                [f"+7701{i:07d}", f"+7700{i:07d}", f"+7916{i:07d}", f"+49151{i:08d}", f"+447400{i:06d}", "+4912"]
            )
            if rng.random() < 0.01:
                phone = last  # a repeat within the chunk
            elif i >= 1500 and i % 250 == 0:
                phone = written[i - 1400]  # the number of 1,400 lines up: more than a chunk apart
            last = phone
            written.append(phone)
            out.writerow([phone, rng.choice(["Анна", "Bob", "Zoë"]), rng.choice(NOTES)])
    return path


def stored(db: Path) -> dict[int, tuple[int, str, str, str]]:
    """csv line -> (segments, link, expected price, its currency) of every message the run recorded."""
    with sqlite3.connect(db) as c:
        got = c.execute(
            "SELECT m.csv_row, m.segments, w.text, m.price, cur.text FROM messages m "
            "LEFT JOIN words w ON w.id = m.link_id LEFT JOIN words cur ON cur.id = m.price_currency_id"
        ).fetchall()
    return {
        int(line): (int(segments), str(link), amount(price) if price is not None else "", currency or "")
        for line, segments, link, price, currency in got
    }


def test_the_plan_is_what_the_run_records(home: Path) -> None:
    path = str(mixed_csv(home / "mixed.csv", 2500))
    args = ("--csv", path, "--template", "Hi {name}: {note}", "--via", "auto", "--name", "mixed")
    plan = invoke("campaign", "plan", *args, "--json", "--recipients-csv", "planned.csv")
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    run = invoke("campaign", "run", *args, "--json")
    assert run.exit_code == 1, run.output  # some rows are bad
    ran = json.loads(run.stdout)
    assert ran["queued"] == planned["messages"] and ran["segments"] == planned["segments"]
    assert ran["skipped_total"] == planned["skipped_total"] > 0
    assert ran["repeated_total"] == planned["repeated_total"] > 0
    assert ran["skipped"] == planned["skipped"]
    with open(home / "planned.csv", encoding="utf-8", newline="") as f:
        per_message = {int(r["line"]): r for r in csv.DictReader(f)}
    links = {"kz_smsc": "memory://kz", "intl": "memory://intl", "backup": "memory://backup"}
    recorded = stored(home / "store.db")
    assert {
        line: (int(r["segments"]), links[r["transport"]], r["price"], r["currency"]) for line, r in per_message.items()
    } == recorded
    assert len({link for _, link, _, _ in recorded.values()}) == 3  # every transport had some
    status = invoke("campaign", "status", "mixed", "--json")
    totals = {t["currency"]: t["price_micros"] for t in json.loads(status.stdout)["costs"]}
    assert totals == planned["price_micros"] and set(totals) == {"EUR", "KZT"}


def test_a_plan_of_bad_rows_only_and_a_costlier_transliteration(home: Path) -> None:
    (home / "bad.csv").write_text("phone,name\nnope,A\n", encoding="utf-8")
    bad = invoke("campaign", "plan", "--csv", "bad.csv", "--template", "Hi {name}")
    assert bad.exit_code == 0, bad.output
    assert "rows 1: 0 messages (0 segments), 1 skipped." in bad.output and "encodings:" not in bad.output
    # 70 Cyrillic letters fill one UCS-2 segment; as Latin "shch" each they take two GSM-7 segments.
    (home / "long.csv").write_text("phone,name\n+77011234567," + "щ" * 69 + "\n", encoding="utf-8")
    long = invoke("campaign", "plan", "--csv", "long.csv", "--template", "{name}.", "--transliterate")
    assert long.exit_code == 0, long.output
    assert "1 segment would be 2 (1 more, 11.00 KZT more)." in long.output


@pytest.mark.parametrize(
    ("via", "to", "text", "price"),
    [
        ("auto", "+77001234567", "Привет", {"amount": "9.50", "micros": 9_500_000, "currency": "KZT"}),
        ("route:world", "+491701234567", "x" * 200, {"amount": "0.15", "micros": 150_000, "currency": "EUR"}),
        ("backup", "+447400123456", "hello", {"amount": "0.04", "micros": 40_000, "currency": "EUR"}),
        ("memory://elsewhere", "+447400123456", "hello", None),  # a URL has no price table
    ],
)
def test_send_records_the_expected_price_and_status_shows_it(
    home: Path, via: str, to: str, text: str, price: dict[str, object] | None
) -> None:
    sent = invoke("send", "--via", via, "--to", to, "--text", text, "--json")
    assert sent.exit_code == 0, sent.output
    mid = json.loads(sent.stdout)["id"]
    shown = invoke("status", mid, "--json")
    assert json.loads(shown.stdout)["price"] == price
    human = invoke("status", mid).output
    if price is None:
        assert "expected price" not in human
    else:
        assert f"expected price {price['amount']} {price['currency']}" in human
