"""A campaign at scale through the CLI: wall time, peak memory, preparation rate and store size.

    python benchmarks/campaign_scale.py                  # 1,000,000 rows (and 100,000 for the memory ratio)
    python benchmarks/campaign_scale.py --rows 200000 --small 20000 --no-prep --json   # what the test runs

The script writes a ``phone,name`` CSV, starts ``msgbridge sim smsc --no-record --dlr-delay-ms 10`` in its
own process and runs, as a subprocess of its own, the command a user would::

    msgbridge campaign run --via 'smpp://u:p@127.0.0.1:P?window=200&binds=2' --template 'Hi {name}' \\
        --wait-receipts 30 --csv FILE --json

It prints the wall time and peak RSS of that process (``wait4``'s ``ru_maxrss``: the largest of the campaign
process and its preparing child, which is the campaign process; not the simulator), the same at ``--small``
rows to show memory does not grow with the row count, the store file's bytes per message, and checks that
every recipient ended DELIVERED. Preparation alone (CSV to outbox, no sending) is measured in this process
with ``--phone-check strict`` and ``possible``, with the rows built here and built in a child process as
``campaign run`` does for a large file (msgbridge/dispatch/prepworker.py).
``--against REF`` runs the large campaign and preparation alone with revision REF's package and with this
tree's in turn (``--rounds N`` of each), against one simulator, and prints this tree's ratios. Targets
(the campaign-at-scale issue; docs/store-and-dispatch.md describes the streaming): RSS <= 300 MB, wall <= 90 s at 1,000,000 rows, <= 300 bytes per message, preparation
>= 30,000 rows/s strict and >= 100,000 possible.

A ceiling for preparation, measured in the same run: ``Store.enqueue`` alone of the same rows' messages,
built beforehand (``outbox_alone``). Every preparation writes its rows into the outbox, one SQLite writer,
so none can be faster than that write by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from revisions import worktree

from msgbridge.core.message import Campaign
from msgbridge.core.phone import PhoneCheck
from msgbridge.dispatch.campaign import PrepareReport, write_rows
from msgbridge.dispatch.run import RunRequest, csv_rows
from msgbridge.simulators.smsc.process import SimulatorProcess
from msgbridge.store.sqlite import SqliteStore

TEMPLATE = "Hi {name}"
TARGETS = {"rss_mb": 300.0, "wall_s": 90.0, "bytes_per_message": 300.0, "strict": 30_000.0, "possible": 100_000.0}


def write_csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        f.write("phone,name\n")
        for start in range(0, rows, 100_000):
            f.write("".join(f"+7701{i:07d},P{i}\n" for i in range(start, min(rows, start + 100_000))))
    return path


def store_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in store.parent.glob(store.name + "*"))


def run_campaign(
    work: Path, rows: int, port: int, wait_receipts: float, via_options: str = "", env: dict[str, str] | None = None
) -> dict[str, Any]:
    """One ``campaign run`` subprocess over a fresh CSV and store: wall, peak RSS, its --json report.

    ``env`` (a PYTHONPATH naming another revision's tree) runs that revision's package instead."""
    csv_file = work / f"people-{rows}.csv"
    if not csv_file.exists():
        write_csv(csv_file, rows)
    store = work / f"store-{rows}.db"
    for old in store.parent.glob(store.name + "*"):
        old.unlink()
    cmd = [
        sys.executable, "-m", "msgbridge", "--store", str(store), "campaign", "run",
        "--via", f"smpp://u:p@127.0.0.1:{port}?window=200&binds=2{via_options}", "--csv", str(csv_file),
        "--template", TEMPLATE, "--wait-receipts", str(wait_receipts), "--json",
    ]  # fmt: skip
    out = (work / f"out-{rows}.json").open("w+", encoding="utf-8")
    err = (work / f"err-{rows}.txt").open("w+", encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    text = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"campaign run exited {proc.returncode}: {err.read()[-2000:]}")
    report = json.loads(text)
    counts = report["counts"]
    return {
        "rows": rows,
        "wall_s": round(wall, 2),
        "rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "prep_rows_per_s": round(report["rows"] / report["prepare_seconds"]) if report["prepare_seconds"] else 0,
        "send_msg_per_s": round(report["dispatch"]["submitted"] / max(report["dispatch"]["send_seconds"], 1e-9)),
        "bytes_per_message": round(store_bytes(store) / rows, 1),
        "delivered": counts.get("DELIVERED", 0),
        "all_delivered": counts == {"DELIVERED": rows},
    }


async def prepare_only(work: Path, rows: int, check: PhoneCheck, *, child: bool = False) -> float:
    """Rows per second from CSV to outbox (read, validate, render, measure, write), nothing sent.

    ``child``: the rows built in a child process, as ``campaign run`` does for a large file
    (msgbridge/dispatch/prepworker.py; its start-up counted)."""
    csv_file = work / f"prep-{rows}.csv"
    if not csv_file.exists():
        write_csv(csv_file, rows)
    request = RunRequest(name=f"prep-{check.value}", template=TEMPLATE, csv_path=str(csv_file), transport_label=None)
    campaign = Campaign(name=request.name, template=TEMPLATE)
    report = PrepareReport(campaign=campaign.name)
    db = work / f"prep-{check.value}.db"
    for old in db.parent.glob(db.name + "*"):
        old.unlink()
    async with SqliteStore(db) as store:
        if child:
            from msgbridge.dispatch.campaign import ENQUEUE_CHUNK
            from msgbridge.dispatch.prepworker import PreparingProcess
            from msgbridge.dispatch.run import job

            started = time.perf_counter()
            async with PreparingProcess(job(replace(request, phone_check=check), ENQUEUE_CHUNK)) as worker:
                await write_rows(store, campaign, (), report, built=worker.chunks())
            seconds = time.perf_counter() - started
        else:
            with csv_rows(request) as source:
                started = time.perf_counter()
                await write_rows(store, campaign, source, report, phone_check=check)
                seconds = time.perf_counter() - started
    assert report.queued == rows, report
    return rows / seconds


async def outbox_alone(work: Path, rows: int) -> float:
    """Rows per second of ``Store.enqueue`` alone, in the chunks preparation writes, of the messages
    preparation makes of the same rows (built before the clock starts)."""
    from msgbridge.core.message import Message
    from msgbridge.dispatch.campaign import ENQUEUE_CHUNK
    from msgbridge.store.base import CampaignRecord, OutboxEntry

    name = "alone"
    entries = [
        OutboxEntry(Message(to=f"+7701{i:07d}", text=TEMPLATE.format(name=f"P{i}"), campaign=name), f"{name}:+7701{i:07d}", row=i + 2)
        for i in range(rows)
    ]
    db = work / "outbox-alone.db"
    for old in db.parent.glob(db.name + "*"):
        old.unlink()
    async with SqliteStore(db) as store:
        await store.save_campaign(CampaignRecord(name, TEMPLATE, None, None, time.time(), {}))
        started = time.perf_counter()
        for i in range(0, rows, ENQUEUE_CHUNK):
            await store.enqueue(entries[i : i + ENQUEUE_CHUNK])
        seconds = time.perf_counter() - started
    return rows / seconds


def has_child() -> bool:
    """Whether the package imported has the child-process preparation (older revisions do not)."""
    return importlib.util.find_spec("msgbridge.dispatch.prepworker") is not None


def prep_rates(work: Path, rows: int, env: dict[str, str] | None) -> dict[str, int]:
    """Preparation alone at both checks, in a subprocess of this script (``--prep-only``) with ``env``."""
    cmd = [sys.executable, __file__, "--prep-only", "--prep-rows", str(rows), "--work", str(work)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    rates: dict[str, int] = json.loads(out)
    return rates


def line(r: dict[str, Any], label: str = "") -> str:
    return (
        f"{label}{r['rows']:>9,} rows: wall {r['wall_s']:7.2f} s  peak RSS {r['rss_mb']:7.1f} MB  cpu {r['cpu_s']:6.1f} s  "
        f"prep {r['prep_rows_per_s']:>8,} rows/s (while sending)  send {r['send_msg_per_s']:>7,} msg/s  "
        f"store {r['bytes_per_message']:6.1f} B/msg  delivered {r['delivered']:,} ({'all' if r['all_delivered'] else 'NOT all'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000, help="the second, smaller run (memory ratio)")
    parser.add_argument("--prep-rows", type=int, default=200_000, help="rows for the preparation-only rates")
    parser.add_argument("--no-prep", action="store_true", help="skip the preparation-only rates")
    parser.add_argument("--wait-receipts", type=float, default=30.0)
    parser.add_argument("--via-options", default="", help="more smpp:// URL options, e.g. '&receipt_index=50000'")
    parser.add_argument("--against", metavar="REF", help="git revision measured the same way, a round of each in turn")
    parser.add_argument("--rounds", type=int, default=1, help="with --against: rounds of each")
    parser.add_argument("--prep-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.prep_only:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        rates = {c.value: round(asyncio.run(prepare_only(work, args.prep_rows, c))) for c in (PhoneCheck.STRICT, PhoneCheck.POSSIBLE)}
        rates["outbox_alone"] = round(asyncio.run(outbox_alone(work, args.prep_rows)))
        if has_child():
            for c in (PhoneCheck.STRICT, PhoneCheck.POSSIBLE):
                rates[f"{c.value}_child"] = round(asyncio.run(prepare_only(work, args.prep_rows, c, child=True)))
        print(json.dumps(rates))
        return
    if args.against:
        compare(args)
        return
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="campaign-scale-") as tmp:
        work = Path(tmp)
        with SimulatorProcess("--users", "u:p", "--no-record", "--dlr-delay-ms", "10") as sim:
            result["small"] = run_campaign(work, args.small, sim.port, args.wait_receipts, args.via_options)
            result["large"] = run_campaign(work, args.rows, sim.port, args.wait_receipts, args.via_options)
        if not args.no_prep:
            for check in (PhoneCheck.STRICT, PhoneCheck.POSSIBLE):
                result[f"prep_{check.value}_rows_per_s"] = round(asyncio.run(prepare_only(work, args.prep_rows, check)))
                result[f"prep_{check.value}_child_rows_per_s"] = round(
                    asyncio.run(prepare_only(work, args.prep_rows, check, child=True))
                )
            result["outbox_alone_rows_per_s"] = round(asyncio.run(outbox_alone(work, args.prep_rows)))
    result["rss_growth_mb"] = round(result["large"]["rss_mb"] - result["small"]["rss_mb"], 1)
    if args.json:
        print(json.dumps(result))
        return
    for key in ("small", "large"):
        print(line(result[key]))
    large = result["large"]
    print(f"RSS growth {args.small:,} -> {args.rows:,} rows: {result['rss_growth_mb']:+.1f} MB")
    print(f"target RSS <= {TARGETS['rss_mb']:.0f} MB: {large['rss_mb'] / TARGETS['rss_mb']:.2f}x of it")
    print(f"target wall <= {TARGETS['wall_s']:.0f} s: {large['wall_s'] / TARGETS['wall_s']:.2f}x of it")
    print(f"target store <= {TARGETS['bytes_per_message']:.0f} B/msg: {large['bytes_per_message'] / TARGETS['bytes_per_message']:.2f}x of it")
    for check in ("strict", "possible"):
        for where, key in (("here", f"prep_{check}_rows_per_s"), ("child", f"prep_{check}_child_rows_per_s")):
            rate = result.get(key)
            if rate:
                print(f"prep alone ({where}) --phone-check {check}: {rate:,} rows/s ({rate / TARGETS[check]:.2f}x the {TARGETS[check]:,.0f} target)")
    ceiling = result.get("outbox_alone_rows_per_s")
    if ceiling:
        print(f"ceiling: the outbox write alone (Store.enqueue of the same messages, built beforehand) {ceiling:,} rows/s, "
              f"{ceiling / TARGETS['possible']:.2f}x the {TARGETS['possible']:,.0f} target")
    if not (result["small"]["all_delivered"] and large["all_delivered"]):
        raise SystemExit("not every recipient was DELIVERED")


def compare(args: argparse.Namespace) -> None:
    """``--against REF``: the large run (and preparation alone) of REF and of this tree in turn, one
    simulator for all; each line is one run, the ratios are this tree's over REF's, round by round."""
    this_env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    all_delivered = True
    with tempfile.TemporaryDirectory(prefix="campaign-scale-") as tmp, worktree(args.against) as tree:
        work = Path(tmp)
        ref_env = {**os.environ, "PYTHONPATH": str(tree)}
        with SimulatorProcess("--users", "u:p", "--no-record", "--dlr-delay-ms", "10") as sim:
            for n in range(args.rounds):
                got = {}
                for label, env in ((args.against, ref_env), ("this", this_env)):
                    got[label] = r = run_campaign(work, args.rows, sim.port, args.wait_receipts, args.via_options, env)
                    all_delivered = all_delivered and r["all_delivered"]
                    print(line(r, f"round {n + 1} {label:>8}: "), flush=True)
                before, after = got[args.against], got["this"]
                print(
                    f"round {n + 1} this/{args.against}: wall {after['wall_s'] / before['wall_s']:.2f}x  "
                    f"RSS {after['rss_mb'] / before['rss_mb']:.2f}x  cpu {after['cpu_s'] / before['cpu_s']:.2f}x",
                    flush=True,
                )
        if not args.no_prep:
            for n in range(args.rounds):
                rates = {label: prep_rates(work, args.prep_rows, env) for label, env in ((args.against, ref_env), ("this", this_env))}
                for check in ("strict", "possible"):
                    b, a = rates[args.against][check], rates["this"][check]
                    print(
                        f"round {n + 1} prep alone --phone-check {check}: {args.against} {b:,} rows/s, this {a:,} rows/s "
                        f"({a / b:.2f}x; {a / TARGETS[check]:.2f}x the {TARGETS[check]:,.0f} target)",
                        flush=True,
                    )
                    for label, got in rates.items():
                        child = got.get(f"{check}_child")
                        if child:
                            print(
                                f"round {n + 1} prep alone, rows built in a child, --phone-check {check}: {label} "
                                f"{child:,} rows/s ({child / b:.2f}x {args.against} here; "
                                f"{child / TARGETS[check]:.2f}x the {TARGETS[check]:,.0f} target)",
                                flush=True,
                            )
    if not all_delivered:
        raise SystemExit("not every recipient was DELIVERED")


if __name__ == "__main__":
    main()
