"""``campaign plan`` speed: rows per second of the whole plan against reading the CSV and checking phones.

One run, one process, one generated file: a CSV of mixed countries (KZ, RU, DE, GB, US, UZ, FR), unique
numbers, about 1 % bad rows, texts from one template whose fields make some GSM-7, some with typographic
quotes, some Cyrillic (one and two segments). The plan routes through two routes over three transports
with price tables (``--via auto``) and reports with ``--transliterate``. The baseline is the same file read
by the run's reader and every phone put through ``normalize``, timed in the same process; the ratio says
what planning adds to that.

    python benchmarks/campaign_plan.py --rows 100000
    python benchmarks/campaign_plan.py --rows 100000 --profile       # cProfile of one plan, top 25
    python benchmarks/campaign_plan.py --rows 100000 --against-run   # then the real run, compared

``--against-run`` sends the same file with ``msgbridge campaign run --via auto`` over three memory
transports into a fresh store and compares every recorded message (segments, the transport it went
through, its expected price) with the plan's ``--recipients-csv``, and the store's price totals with
the plan's.

Target (issue 16): at least 50,000 rows/s for the plan.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import pstats
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path

import phonenumbers

from msgbridge.core.errors import InvalidDestination
from msgbridge.core.money import amount
from msgbridge.core.phone import normalize
from msgbridge.dispatch.plan import CampaignPlan, PlanVia, plan_campaign, plan_via
from msgbridge.dispatch.run import RunRequest, csv_rows
from msgbridge.routing.config import RoutingConfig, read_routing

REGIONS = {"KZ": 0.35, "RU": 0.25, "DE": 0.1, "GB": 0.1, "US": 0.1, "UZ": 0.05, "FR": 0.05}
NAMES = ["Aigerim", "Олжас", "Анна", "Peter", "Zoë", "John", "Мария", "Sam"]
NOTES = [
    "your parcel is ready for pickup",
    "your parcel is ‘ready’ for pickup",  # typographic quotes
    "ваша посылка готова к выдаче",  # Cyrillic
    "ваша посылка готова к выдаче в пункте на улице Абая, 10 — с 9 до 21, кроме воскресенья",  # 2 UCS-2
    "code 4321 – valid 10 min…",  # en dash, ellipsis
]
TEMPLATE = "Hello {name}, {note}. Reply STOP to opt out."
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
name = "cheap"
transports = ["intl", "backup"]
strategy = "cheapest"

[prices.kz_smsc]
currency = "KZT"
"7700" = 9.5
"7701" = 10
"KZ" = 11

[prices.intl]
currency = "EUR"
"7" = 0.03
"49" = 0.075
"44" = 0.04
"1" = 0.009
"33" = 0.06
"998" = 0.1

[prices.backup]
currency = "EUR"
"7" = 0.025
"49" = 0.08
"GB" = 0.035
"UZ" = 0.09
"""
TRANSPORTS = ["kz_smsc", "intl", "backup"]


def numbers(n: int, rng: random.Random) -> list[str]:
    """``n`` distinct valid numbers: each region's example mobile number with its last digits counted up."""
    out: list[str] = []
    regions, weights = list(REGIONS), list(REGIONS.values())
    counters = dict.fromkeys(REGIONS, 0)
    while len(out) < n:
        region = rng.choices(regions, weights)[0]
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        assert example is not None
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        counters[region] += 1
        tail = f"{counters[region]:06d}"
        candidate = e164[: -len(tail)] + tail
        try:
            out.append(normalize(candidate))
        except InvalidDestination:
            continue
    return out


def write_csv(path: Path, rows: int, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["phone", "name", "note"])
        for phone in numbers(rows, rng):
            if rng.random() < 0.01:
                phone = rng.choice(["12345", "+7 701 12", "n/a"])  # a bad row
            out.writerow([phone, rng.choice(NAMES), rng.choice(NOTES)])


def baseline(request: RunRequest) -> tuple[float, int]:
    """Seconds to read every row with the run's reader and check its phone, and the phones accepted."""
    started = time.perf_counter()
    ok = 0
    with csv_rows(request) as rows:
        for _, phone, _, _ in rows:
            try:
                normalize(phone, request.region, request.phone_check)
                ok += 1
            except InvalidDestination:
                pass
    return time.perf_counter() - started, ok


def planned(request: RunRequest, via: PlanVia) -> tuple[float, CampaignPlan]:
    started = time.perf_counter()
    plan = plan_campaign(request, via, transliterate=True)
    return time.perf_counter() - started, plan


def against_run(folder: Path, request: RunRequest, plan: CampaignPlan) -> None:
    """Send the same file with ``msgbridge campaign run --via auto`` over the memory transports, then compare
    what the store recorded per message (segments, transport, expected price) with the plan's own CSV."""
    (folder / "msgbridge.toml").write_text(CONFIG, encoding="utf-8")
    planned_csv = folder / "planned.csv"
    with planned_csv.open("w", encoding="utf-8", newline="") as out:
        routing = read_routing(tomllib.loads(CONFIG), base=folder, transports=TRANSPORTS)
        plan_campaign(request, plan_via("auto", routing, TRANSPORTS), recipients=out)
    store = folder / "run.db"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "msgbridge", "--config", str(folder / "msgbridge.toml"), "--store", str(store),
         "campaign", "run", "--via", "auto", "--csv", request.csv_path, "--template", request.template,
         "--name", request.name, "--json", "--concurrency", "8"],
        check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    ran = time.perf_counter() - started
    links = {"kz_smsc": "memory://kz", "intl": "memory://intl", "backup": "memory://backup"}
    with planned_csv.open(encoding="utf-8", newline="") as f:
        planned = {
            int(r["line"]): (int(r["segments"]), links[r["transport"]], r["price"], r["currency"])
            for r in csv.DictReader(f)
        }
    with sqlite3.connect(store) as db:
        rows = db.execute(
            "SELECT m.csv_row, m.segments, w.text, m.price, cur.text FROM messages m "
            "LEFT JOIN words w ON w.id = m.link_id LEFT JOIN words cur ON cur.id = m.price_currency_id"
        ).fetchall()
    recorded = {
        int(line): (int(segments), str(link), amount(price) if price is not None else "", currency or "")
        for line, segments, link, price, currency in rows
    }
    totals: Counter[str] = Counter()
    for _, _, _, price, currency in rows:
        if price is not None:
            totals[currency] += price
    differ = sum(1 for line in planned.keys() | recorded.keys() if planned.get(line) != recorded.get(line))
    print(
        f"  against the run ({ran:.1f} s): {len(recorded):,} messages recorded, {len(planned):,} planned, "
        f"{differ:,} differ in segments, transport or price; recorded totals "
        f"{'equal' if totals == plan.price else 'DIFFER from'} the plan's ({', '.join(plan.to_json()['price'])})"  # type: ignore[arg-type]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each (the best is reported)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one plan")
    parser.add_argument(
        "--against-run",
        action="store_true",
        help="then send the file with campaign run (memory transports) and compare the store with the plan",
    )
    args = parser.parse_args()
    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="plan-bench-") as folder:
        path = Path(folder) / "recipients.csv"
        write_csv(path, args.rows, rng)
        routing: RoutingConfig = read_routing(tomllib.loads(CONFIG), base=Path(folder), transports=TRANSPORTS)
        via = plan_via("auto", routing, TRANSPORTS)
        request = RunRequest(name="bench", template=TEMPLATE, csv_path=str(path), transport_label="auto")
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(plan_campaign, request, via, transliterate=True)
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        # Alternated, best of each: on a shared machine the load changes between rounds, not within one.
        bases, plans = [], []
        for _ in range(args.rounds):
            bases.append(baseline(request)[0])
            plans.append(planned(request, via))
        base = min(bases)
        took, plan = min(plans, key=lambda got: got[0])
        report_speed(plan, base, took)
        if args.against_run:
            against_run(Path(folder), request, plan)


def report_speed(plan: CampaignPlan, base: float, took: float) -> None:
    report = plan.report
    rows = report.rows
    print(
        f"{rows:,} rows: {report.queued:,} messages, {report.segments:,} segments, {report.skipped:,} skipped; "
        f"price {', '.join(plan.to_json()['price'])}"  # type: ignore[arg-type]
    )
    print(f"  read + phone check (baseline) {base:6.2f} s {rows / base:9,.0f} rows/s")
    print(f"  campaign plan                 {took:6.2f} s {rows / took:9,.0f} rows/s  ({took / base:.2f} x the baseline's time)")


if __name__ == "__main__":
    main()
