"""Store throughput for a whole campaign: enqueue + claim + mark_in_doubt + record_results + record_receipts.

Compares batched store calls (what the dispatcher does) with the naive shape,
one store call (one transaction) per message, measured in the same run on the
same kind of file.

    python benchmarks/store_throughput.py [--messages 20000] [--baseline 2000] [--batch 500] [--repeat 3]
        [--postgres DSN] [--against REF] [--breakdown] [--page-size N] [--synchronous S]
        [--autocheckpoint N] [--cache-kib N]

Each row also has the CPU time per message inside the store calls (the
calling thread's: what the machine's load does not inflate; a PostgreSQL
server's own is not in it), the msg/s of each kind of store call, and the size of the
SQLite file per message once the campaign is over (every message DELIVERED,
the WAL checkpointed into the file); ``--breakdown`` adds where those bytes
are (dbstat: table and index pages). ``--against REF`` measures the batched
campaigns with the store of git revision REF too (checked out in a temporary
worktree, run in a subprocess), in the same run: its rows are printed above
this tree's, and "B ratio" is the file size against its file.

Only time inside store calls is counted. Native ids are handed out in increasing order, as SMSCs and providers
usually do. The machine is shared and noisy: each configuration runs
``--repeat`` times and the best run is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from revisions import revision

from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import CampaignRecord, OutboxEntry, Store
from msgbridge.store.sqlite import SqliteStore

LINK = "bench://local"
# What campaign preparation renders each message from (the campaign record keeps it once).
TEMPLATE = "Hello {name}, your code is {code}"


def outbox(n: int, campaign: str) -> list[OutboxEntry]:
    out = []
    for i in range(n):
        phone = f"+7701{i:07d}"
        text = TEMPLATE.format(name=f"Client{i}", code=f"{i * 7 % 10000:04d}")
        msg = Message(to=phone, text=text, sender="ACME", campaign=campaign)
        out.append(OutboxEntry(message=msg, idempotency_key=f"{campaign}:{phone}", row=i + 2))
    return out


def file_bytes(path: Path) -> tuple[int, dict[str, int]]:
    """The database file's size once its WAL is copied back, and its bytes by table or index (dbstat)."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        parts = dict(
            db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
        )
    finally:
        db.close()
    return path.stat().st_size, parts


def sqlite_store(path: Path, args: argparse.Namespace) -> Store:
    """A SqliteStore with the settings given on the command line (those this revision knows)."""
    settings: dict[str, object] = {}
    if args.synchronous:
        settings["synchronous"] = args.synchronous
    for name in ("page_size", "autocheckpoint", "cache_kib"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    return SqliteStore(path, **settings)  # type: ignore[arg-type]


PHASES = ("enqueue", "claim", "results", "receipts")


async def campaign(store: Store, n: int, batch: int) -> dict[str, float]:
    """Seconds spent in each kind of store call (``PHASES``) for one campaign of ``n`` messages in batches
    of ``batch``; "claim" includes mark_in_doubt.

    Only the store calls are timed: the results and receipts a transport would
    hand over are built between them, outside the clock.
    """
    entries = outbox(n, "bench")
    native = itertools.count(10**9)
    spent = dict.fromkeys(PHASES, 0.0)
    cpu = 0.0  # this thread's CPU time inside the store calls: what the machine's load does not inflate
    # Stores from before claims were owned mark in doubt in claim() itself.
    mark_in_doubt = getattr(store, "mark_in_doubt", None)
    async with store:
        await store.save_campaign(CampaignRecord("bench", TEMPLATE, "ACME", "bench://local", time.time(), {}))
        for i in range(0, n, batch):
            t0, c0 = time.perf_counter(), time.thread_time()
            await store.enqueue(entries[i : i + batch])
            spent["enqueue"] += time.perf_counter() - t0
            cpu += time.thread_time() - c0
        while True:
            t0, c0 = time.perf_counter(), time.thread_time()
            claimed = await store.claim(batch, campaign="bench")
            if claimed and mark_in_doubt is not None:  # what the dispatcher does before the write
                await mark_in_doubt([r.message.id for r in claimed])
            spent["claim"] += time.perf_counter() - t0
            cpu += time.thread_time() - c0
            if not claimed:
                break
            results = [
                SendResult(
                    message_id=r.message.id, status=DeliveryStatus.SUBMITTED, native_id=str(next(native))
                )
                for r in claimed
            ]
            receipts = [
                DeliveryReceipt(native_id=r.native_id or "", status=DeliveryStatus.DELIVERED, link=LINK)
                for r in results
            ]
            t0, c0 = time.perf_counter(), time.thread_time()
            await store.record_results(results, link=LINK)
            t1 = time.perf_counter()
            await store.record_receipts(receipts)
            spent["results"] += t1 - t0
            spent["receipts"] += time.perf_counter() - t1
            cpu += time.thread_time() - c0
        counts = await store.counts("bench")
    if counts != {DeliveryStatus.DELIVERED: n}:
        raise SystemExit(f"store lost messages: {counts}")
    return {**spent, "cpu": cpu}


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run of each phase (the machine is shared: the best is the least disturbed), and the
    file size of the first."""
    return {**runs[0], **{phase: min(r[phase] for r in runs) for phase in (*PHASES, "cpu")}}


async def measured(kind: str, n: int, batch: int, args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    """``--repeat`` campaigns of one configuration: the best phases, and (SQLite) the file's bytes."""
    runs = []
    for _ in range(args.repeat):
        if kind == "postgres":
            runs.append({**await campaign(await scratch_postgres(args.postgres), n, batch), "bytes": None})
            continue
        path = Path(tempfile.mkdtemp(dir=tmp)) / "store.db"
        phases = await campaign(sqlite_store(path, args), n, batch)
        size, parts = file_bytes(path)
        runs.append({**phases, "bytes": size / n, "parts": {name: b / n for name, b in parts.items()}})
    return best(runs)


def keep(best_so_far: dict[str, Any], found: dict[str, Any]) -> None:
    """Fold one round's results (by backend) into the best so far."""
    for kind, result in found.items():
        best_so_far[kind] = best([best_so_far[kind], result]) if kind in best_so_far else result


async def batched(args: argparse.Namespace, tmp: str) -> dict[str, dict[str, Any]]:
    out = {"sqlite": await measured("sqlite", args.messages, args.batch, args, tmp)}
    if args.postgres:
        out["postgres"] = await measured("postgres", args.messages, args.batch, args, tmp)
    return out


def row(label: str, n: int, found: dict[str, Any], base_rate: float, base_bytes: float) -> str:
    seconds = sum(found[p] for p in PHASES)
    rate = n / seconds
    rates = "".join(f"{n / found[p]:>10,.0f}" for p in PHASES)
    size = found["bytes"]
    sized = f"{size:>8.0f}{size / base_bytes:>8.2f}x" if size else f"{'-':>8}{'-':>9}"
    cpu = found["cpu"] / n * 1e6
    return f"{label:<44}{n:>9,}{rate:>10,.0f}{seconds / n * 1e6:>8.0f}{cpu:>8.0f}{rates}{sized}{rate / base_rate:>8.1f}x"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=2_000, help="messages for the one-per-call baseline")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--postgres", metavar="DSN", help="also measure the PostgreSQL store (a scratch schema)"
    )
    parser.add_argument(
        "--against", metavar="REF", help="git revision measured the same way, in the same run"
    )
    parser.add_argument("--breakdown", action="store_true", help="also the file's bytes by table and index")
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--synchronous", help="SQLite synchronous (default the store's: NORMAL)")
    parser.add_argument("--page-size", type=int, help="SQLite page_size for new files")
    parser.add_argument("--autocheckpoint", type=int, help="SQLite wal_autocheckpoint (pages)")
    parser.add_argument("--cache-kib", type=int, help="SQLite cache size (KiB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.json_only:  # what --against reads from a run at another revision
            print(json.dumps(await batched(args, tmp)))
            return
        before: dict[str, Any] = {}
        now: dict[str, Any] = {}
        # One round of each at a time, alternating, so a change in the machine's load falls on both.
        with contextlib.ExitStack() as stack:
            other = stack.enter_context(revision(args.against, __file__)) if args.against else None
            rounds, args.repeat = args.repeat, 1
            for _ in range(rounds):
                if other is not None:
                    argv = [
                        "--json-only",
                        "--messages",
                        str(args.messages),
                        "--batch",
                        str(args.batch),
                        "--repeat",
                        "1",
                    ]
                    argv += ["--postgres", args.postgres] if args.postgres else []
                    keep(before, json.loads(other(argv).splitlines()[-1]))
                keep(now, await batched(args, tmp))
            args.repeat = rounds
        naive = await measured("sqlite", args.baseline, 1, args, tmp)
    base_rate = args.baseline / sum(naive[p] for p in PHASES)
    # Bytes against the other revision's batched SQLite file where there is one, else the baseline's file.
    base_bytes = before["sqlite"]["bytes"] if before else naive["bytes"]
    print(
        f"{'config':<44}{'messages':>9}{'msgs/s':>10}{'µs/msg':>8}{'cpu µs':>8}"
        + "".join(f"{p:>10}" for p in PHASES)
        + f"{'B/msg':>8}{'B ratio':>9}{'ratio':>9}"
    )
    print(row("sqlite, one transaction per message", args.baseline, naive, base_rate, base_bytes))
    shown = []
    for kind, found in now.items():
        label = f"{'sqlite' if kind == 'sqlite' else 'postgresql'}, batched ({args.batch} per call)"
        if kind in before:
            shown.append((f"{label} at {args.against}", before[kind]))
            print(row(shown[-1][0], args.messages, before[kind], base_rate, base_bytes))
        shown.append((label, found))
        print(row(label, args.messages, found, base_rate, base_bytes))
    if args.breakdown:
        print("\nbytes per message by table and index (dbstat):")
        for label, found in shown:
            if found.get("parts"):
                print(f"  {label}: " + ", ".join(f"{k} {v:.0f}" for k, v in found["parts"].items() if v >= 1))


async def scratch_postgres(dsn: str) -> Store:
    """A PostgreSQL store in a fresh schema (the schemas are left for the server's owner to drop)."""
    from msgbridge.store.postgres import PostgresStore

    return PostgresStore(dsn, schema=f"bench_{uuid.uuid4().hex[:10]}")


if __name__ == "__main__":
    asyncio.run(main())
