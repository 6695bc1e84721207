"""A 100,000-message SMPP campaign end to end: SQLite outbox, dispatcher, smpp://, receipts back in the store.

    python benchmarks/smpp_campaign.py                 # 100,000 messages
    python benchmarks/smpp_campaign.py --quick         # 5,000 messages (smoke run)
    python benchmarks/smpp_campaign.py --profile       # also print where the CPU goes (cProfile)
    python benchmarks/smpp_campaign.py --cli           # the same through `msgbridge campaign run` and a CSV

The simulator runs in its own process and answers every submit_sm with a
receipt (text and TLVs) after ``--dlr-delay-ms``. The run is timed from the
first claim to the moment every message has its final status in the store;
writing the outbox (enqueue) is timed separately. The time spent inside each
store call and inside ``transport.send`` is accumulated and printed, so a
missed target shows where the time went.

The floor, from the same run: the dispatcher's store calls by themselves
(claim, mark_in_doubt, record_results, record_receipts, in the batch sizes the
run used, on a fresh file with the same outbox, no socket: ``store_alone``)
plus the transport alone's CPU per message. No dispatcher of this store and
transport spends less CPU per message, nor runs one event loop faster than
``1 / floor``, nor reaches more than ``transport alone / floor`` of the
transport alone's rate (a share that moves little with the machine's speed,
as both terms move with it). Of the store calls' CPU, the part spent inside
SQLite's own calls (statements, their rows stepped, BEGIN and COMMIT:
``TimedDb``) is printed apart: no change to the Python around them takes the
store calls below it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import gc
import io
import pstats
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.smsc.process import SimulatorProcess
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

TARGET = 20_000  # msg/s end to end (issue 4)
CPU_TARGET_US = 50.0  # client CPU per message, store included
RATIO_TARGET = 0.5  # end to end / the transport alone, measured in the same run
store_link = "smpp://127.0.0.1:2775"  # the link results and receipts name in store_alone


def write_recipients(path: Path, count: int) -> None:
    """A ``phone,name`` CSV of ``count`` distinct Kazakh mobile numbers."""
    import csv

    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["phone", "name"])
        writer.writerows([f"+7701{i:07d}", f"customer {i}"] for i in range(count))


async def transport_alone(port: int, window: int, binds: int, count: int) -> tuple[float, float]:
    """(msg/s, client CPU µs per message) of ``count`` messages through smpp:// alone: no store, no receipts.

    Two send() calls in flight, as the dispatcher keeps them, like
    ``benchmarks/smpp_throughput.py``.
    """
    url = f"smpp://u:p@127.0.0.1:{port}?window={window}&binds={binds}&dlr=0"
    per_call = min(5_000, max(10, window * 10))
    async with open_transport(url) as t:
        await t.send([Message(to="+77011234567", sender="Shop", text="warm up")])
        left = [count]

        async def sender() -> None:
            while left[0] > 0:
                n = min(per_call, left[0])
                left[0] -= n
                await t.send(
                    [Message(to=f"+7701{i:07d}", sender="Shop", text="Hello customer") for i in range(n)]
                )

        cpu0 = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(sender(), sender())
        seconds = time.perf_counter() - started
        return count / seconds, (time.process_time() - cpu0) / count * 1e6


class TimedDb:
    """The store's sqlite3 connection, counting the CPU spent inside SQLite's own calls (its statements,
    their rows stepped by ``fetchall``, BEGIN and COMMIT) while ``on``; everything else is passed through."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.on = False
        self.seconds = 0.0

    def _timed(self, call: Callable[..., Any], *args: Any) -> Any:
        if not self.on:
            return call(*args)
        c0 = time.thread_time()
        try:
            return call(*args)
        finally:
            self.seconds += time.thread_time() - c0

    def execute(self, sql: str, params: Any = ()) -> TimedCursor:
        return TimedCursor(self, self._timed(self.db.execute, sql, params))

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        return self._timed(self.db.executemany, sql, rows)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


class TimedCursor:
    def __init__(self, db: TimedDb, cursor: sqlite3.Cursor) -> None:
        self.db = db
        self.cursor = cursor

    def fetchall(self) -> list[Any]:
        return self.db._timed(self.cursor.fetchall)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


class TimedStore(SqliteStore):
    """A SQLite store whose connection is a :class:`TimedDb` (``timed``)."""

    timed: TimedDb

    def _connect(self) -> sqlite3.Connection:
        self.timed = TimedDb(super()._connect())
        return self.timed  # type: ignore[return-value]


async def enqueue_bench(store: SqliteStore, count: int) -> None:
    """``count`` messages of campaign ``bench`` into the outbox, 10,000 a call (what ``store_alone`` and
    store_status_change.py measure on)."""
    for start in range(0, count, 10_000):
        await store.enqueue(
            [OutboxEntry(Message(to=f"+7701{i:07d}", sender="Shop", campaign="bench",
                                 text=f"Hello customer {i}, your code is {i % 9973:04d}"), f"bench:+7701{i:07d}")
             for i in range(start, min(count, start + 10_000))]
        )  # fmt: skip


async def store_alone(db: Path, count: int, claim: int, results: int, receipts: int) -> tuple[float, float]:
    """CPU µs per message of the dispatcher's store calls by themselves, and of that the part spent inside
    SQLite's own calls: ``count`` messages enqueued (not counted), then claimed ``claim`` at a time and
    marked in doubt, their results recorded ``results`` at a time and their receipts ``receipts`` at a time,
    as the run's own batches were."""
    store = TimedStore(db)
    await store.open()
    cpu = 0.0
    timed = store.timed
    try:
        await enqueue_bench(store, count)
        native = 10**9
        while True:
            c0, timed.on = time.thread_time(), True
            claimed = await store.claim(claim, campaign="bench")
            ids = [r.message.id for r in claimed]
            if ids:
                await store.mark_in_doubt(ids)
            cpu, timed.on = cpu + time.thread_time() - c0, False
            if not ids:
                break
            done = [SendResult(message_id=m, status=DeliveryStatus.SUBMITTED, native_id=str(native + k))
                    for k, m in enumerate(ids)]  # fmt: skip
            native += len(ids)
            back = [DeliveryReceipt(native_id=r.native_id or "", status=DeliveryStatus.DELIVERED, link=store_link)
                    for r in done]  # fmt: skip
            c0, timed.on = time.thread_time(), True
            for i in range(0, len(done), results):
                await store.record_results(done[i : i + results], link=store_link)
            for i in range(0, len(back), receipts):
                await store.record_receipts(back[i : i + receipts])
            cpu, timed.on = cpu + time.thread_time() - c0, False
        if (await store.counts("bench")) != {DeliveryStatus.DELIVERED: count}:
            raise SystemExit("store_alone: not every message DELIVERED")
    finally:
        await store.close()
    return cpu / count * 1e6, timed.seconds / count * 1e6


def start_simulator(dlr_delay_ms: float) -> SimulatorProcess:
    return SimulatorProcess("--users", "u:p", "--dlr-delay-ms", str(dlr_delay_ms), "--no-record", "--uvloop")


class Timings:
    """Wall time spent inside wrapped coroutine methods, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, obj: object, name: str, label: str) -> None:
        original: Callable[..., Awaitable[Any]] = getattr(obj, name)

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        setattr(obj, name, timed)


async def run(
    count: int,
    window: int,
    binds: int,
    dlr_delay_ms: float,
    db: Path,
    profiler: cProfile.Profile | None = None,
) -> dict[str, float]:
    sim = start_simulator(dlr_delay_ms)
    port = sim.port
    timings = Timings()
    try:
        alone, alone_us = await transport_alone(port, window, binds, count)
        store = SqliteStore(db)
        await store.open()
        for name in ("claim", "record_results", "record_receipts", "requeue", "counts"):
            timings.wrap(store, name, f"store.{name}")
        messages = [
            Message(to=f"+7701{i:07d}", sender="Shop", text=f"Hello customer {i}, your code is {i % 9973:04d}",
                    campaign="bench")
            for i in range(count)
        ]  # fmt: skip
        started = time.perf_counter()
        for start in range(0, count, 10_000):
            chunk = messages[start : start + 10_000]
            await store.enqueue([OutboxEntry(m, f"bench:{m.to}") for m in chunk])
        enqueue_s = time.perf_counter() - started
        del messages, chunk  # the outbox has them now; a real run does not hold them in memory either
        gc.collect()
        gc.freeze()  # as `msgbridge campaign run` does once the campaign is prepared

        transport = open_transport(f"smpp://u:p@127.0.0.1:{port}?window={window}&binds={binds}")
        timings.wrap(transport, "send", "transport.send")
        async with transport:
            await transport.open()
            dispatcher = Dispatcher(store, transport, concurrency=4)
            cpu0 = time.process_time()
            sim0 = sim.cpu_seconds()
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            dispatcher.start_receipts()
            await dispatcher.send_pending("bench")
            sent_s = time.perf_counter() - started
            await dispatcher.collect_receipts(timeout=120, campaign="bench")
            total_s = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
            cpu = time.process_time() - cpu0
            sim_cpu = sim.cpu_seconds() - sim0
            await dispatcher.stop_receipts()
            stats = dispatcher.stats
        counts = await store.counts("bench")
        await store.close()
    finally:
        sim.stop(signal.SIGTERM)
    delivered = counts.get(DeliveryStatus.DELIVERED, 0)
    print(f"messages            {count:,}")
    print(f"outbox write        {enqueue_s:6.2f} s  ({count / enqueue_s:,.0f} msg/s)")
    print(
        f"claim+send+record   {sent_s:6.2f} s  ({count / sent_s:,.0f} msg/s), submitted {stats.submitted:,}"
    )
    print(f"until all final     {total_s:6.2f} s  ({count / total_s:,.0f} msg/s end to end), "
          f"receipts {stats.receipts:,}, matched {stats.receipts_matched:,}")  # fmt: skip
    print(f"statuses            {', '.join(f'{s.value}={n:,}' for s, n in sorted(counts.items()))}")
    print(f"client CPU          {cpu:6.2f} s  ({cpu / count * 1e6:.1f} µs per message, store included)")
    print(
        f"simulator CPU       {sim_cpu:6.2f} s  ({sim_cpu / count * 1e6:.1f} µs per message, its own process)"
    )
    print("where the wall time went (coroutines overlap, so these can add up to more than the total):")
    for label, secs in sorted(timings.seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {label:24} {secs:6.2f} s in {timings.calls[label]:,} calls")
    rate = count / total_s
    cpu_us = cpu / count * 1e6
    print(f"transport alone     {alone:,.0f} msg/s at {alone_us:.1f} µs per message (same simulator, no store, "
          f"no receipts); end to end / transport alone: {rate / alone:.2f} (target {RATIO_TARGET})")  # fmt: skip
    verdict = "met" if rate >= TARGET and delivered == count else "MISSED"
    print(f"target {TARGET:,} msg/s end to end with every receipt correlated: {verdict} ({rate:,.0f} msg/s, "
          f"{delivered:,}/{count:,} DELIVERED)")  # fmt: skip
    print(f"target {CPU_TARGET_US:.0f} µs client CPU per message: {'met' if cpu_us <= CPU_TARGET_US else 'MISSED'} "
          f"({cpu_us:.1f} µs)")  # fmt: skip
    batch = {name: max(1, -(-count // max(1, timings.calls[f"store.{name}"])))
             for name in ("claim", "record_results", "record_receipts")}  # fmt: skip
    alone_store, in_sqlite = await store_alone(db.with_name("alone.db"), count, *batch.values())
    floor = alone_store + alone_us
    print(f"floor per message   {alone_store:.1f} µs (the store calls alone, batches of {batch['claim']:,} claimed, "
          f"{batch['record_results']:,} results, {batch['record_receipts']:,} receipts) + {alone_us:.1f} µs (the "
          f"transport alone) = {floor:.1f} µs: one event loop cannot pass {1e6 / floor:,.0f} msg/s, "
          f"{alone_us / floor:.2f} of the transport alone")  # fmt: skip
    print(f"  of the store calls, {in_sqlite:.1f} µs per message is spent inside SQLite's own calls (statements, "
          f"rows stepped, BEGIN and COMMIT), {alone_store - in_sqlite:.1f} µs in Python around them")  # fmt: skip
    return {"count": count, "enqueue_s": enqueue_s, "send_s": sent_s, "total_s": total_s, "rate": rate,
            "alone": alone, "cpu_us": cpu_us, "floor_us": floor}  # fmt: skip


def run_cli(count: int, window: int, binds: int, dlr_delay_ms: float, workdir: Path) -> dict[str, float]:
    """The same campaign through ``msgbridge campaign run`` (CSV import, templating, progress, the lot)."""
    import json

    sim = start_simulator(dlr_delay_ms)
    port = sim.port
    try:
        csv_path = workdir / "recipients.csv"
        write_recipients(csv_path, count)
        cmd = [
            sys.executable, "-m", "msgbridge", "--store", str(workdir / "campaign.db"), "campaign", "run",
            "--via", f"smpp://u:p@127.0.0.1:{port}?window={window}&binds={binds}", "--csv", str(csv_path),
            "--template", "Hello {name}, your code is 1234", "--from", "Shop", "--wait-receipts", "300", "--json",
        ]  # fmt: skip
        sim0 = sim.cpu_seconds()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cli_cpu = children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime
        sim_cpu = sim.cpu_seconds() - sim0
    finally:
        sim.stop(signal.SIGTERM)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    report = json.loads(out.stdout)
    d = report["dispatch"]
    delivered = report["counts"].get("DELIVERED", 0)
    print(f"msgbridge campaign run, {count:,} recipients from a CSV")
    print(
        f"whole command       {wall:6.2f} s  ({count / wall:,.0f} msg/s: start, CSV import, send, receipts)"
    )
    print(f"send phase          {d['send_seconds']:6.2f} s  ({count / d['send_seconds']:,.0f} msg/s)")
    print(f"send + receipts     {d['seconds']:6.2f} s  ({count / d['seconds']:,.0f} msg/s end to end)")
    print(
        f"receipts            {d['receipts']:,}, matched {d['receipts_matched']:,}; statuses {report['counts']}"
    )
    print(
        f"command CPU         {cli_cpu:6.2f} s  ({cli_cpu / count * 1e6:.1f} µs per message, whole command)"
    )
    print(f"simulator CPU       {sim_cpu:6.2f} s")
    rate = count / d["seconds"]
    verdict = "met" if rate >= TARGET and delivered == count else "MISSED"
    print(f"target {TARGET:,} msg/s end to end with every receipt correlated: {verdict} ({rate:,.0f} msg/s, "
          f"{delivered:,}/{count:,} DELIVERED)")  # fmt: skip
    return {"count": count, "total_s": d["seconds"], "rate": rate}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5,000 messages")
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--binds", type=int, default=1)
    parser.add_argument("--dlr-delay-ms", type=float, default=100.0)
    parser.add_argument("--uvloop", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--profile", action="store_true", help="print the top functions by CPU time")
    parser.add_argument("--profile-lines", type=int, default=25, help="how many functions --profile lists")
    parser.add_argument("--cli", action="store_true", help="run it through `msgbridge campaign run` instead")
    parser.add_argument(
        "--db-dir", type=Path, default=None, help="directory for the SQLite file (default: a temp dir)"
    )
    args = parser.parse_args()
    count = 5_000 if args.quick else args.count
    if args.cli:
        with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
            run_cli(count, args.window, args.binds, args.dlr_delay_ms, Path(tmp))
        return
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        # Only the timed part (claim to the last receipt) is profiled, not the outbox write.
        profiler = cProfile.Profile() if args.profile else None
        coro = run(count, args.window, args.binds, args.dlr_delay_ms, Path(tmp) / "campaign.db", profiler)
        if args.uvloop:
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(coro)
        else:
            asyncio.run(coro)
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile_lines)
            print(out.getvalue())


if __name__ == "__main__":
    main()
