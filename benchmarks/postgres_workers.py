"""Worker processes sharing one PostgreSQL queue: how a campaign's throughput grows with the number of workers.

Each configuration queues the same campaign in a fresh schema, starts W
worker processes (each: its own store connections, its own ``memory://``
transport, the default Dispatcher), lets them go at the same moment and
times until the last one has every message final. The transport answers each
``send()`` after ``--latency-ms``, as a provider's round trip would, so the
workers have something to overlap; the ratio is against one worker measured
in the same run.

    python benchmarks/postgres_workers.py [--dsn DSN] [--messages 4000] [--workers 1,2,3,4]
        [--latency-ms 50] [--max-batch 10] [--repeat 2] [--against REF]

``--against REF`` measures git revision REF's store and dispatcher the same
way (``revisions.py``), a round of each in turn, and prints its rows first;
the ratios are then against its first row.

Without ``--dsn`` a throwaway PostgreSQL cluster is started (``tests/pg_server.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from revisions import revision

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.store.base import OutboxEntry
from msgbridge.store.postgres import PostgresStore

CAMPAIGN = "bench"


async def worker(dsn: str, schema: str, url: str) -> None:
    async with PostgresStore(dsn, schema=schema) as store, open_transport(url) as transport:
        dispatcher = Dispatcher(store, transport)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        stats = await dispatcher.run(CAMPAIGN, wait_receipts=120)
    print(json.dumps({"submitted": stats.submitted}), flush=True)


async def measure(dsn: str, messages: int, workers: int, url: str) -> float:
    """Seconds from "go" until every worker is done (all messages final)."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    procs: list[asyncio.subprocess.Process] = []
    try:
        async with PostgresStore(dsn, schema=schema) as store:
            await store.enqueue(
                [
                    OutboxEntry(
                        message=Message(to=f"+7701{i:07d}", text=f"Hello {i}", campaign=CAMPAIGN),
                        idempotency_key=f"{CAMPAIGN}:{i}",
                    )
                    for i in range(messages)
                ]
            )
            for _ in range(workers):
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        __file__,
                        "--worker",
                        dsn,
                        schema,
                        url,
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                    )
                )
            for proc in procs:
                assert proc.stdout is not None
                if (await proc.stdout.readline()).strip() != b"ready":
                    raise RuntimeError("a worker failed to start")
            start = time.perf_counter()
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(b"go\n")
                await proc.stdin.drain()
            outputs = await asyncio.gather(*(p.communicate() for p in procs))
            elapsed = time.perf_counter() - start
            sent = sum(json.loads(out.decode().splitlines()[-1])["submitted"] for out, _ in outputs)
            counts = await store.counts(CAMPAIGN)
            if sent != messages or sum(counts.values()) != messages or any(not s.is_final for s in counts):
                raise RuntimeError(f"{workers} workers: sent {sent} of {messages}, store says {counts}")
            return elapsed
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def one_round(args: argparse.Namespace, dsn: str, url: str, best: dict[int, float]) -> None:
    for w in [int(w) for w in args.workers.split(",")]:
        seconds = await measure(dsn, args.messages, w, url)
        best[w] = min(best.get(w, float("inf")), seconds)


def table(label: str, messages: int, best: dict[int, float], base: float) -> None:
    for w, seconds in best.items():
        rate = messages / seconds
        print(f"{label + str(w):<24}{messages:>10,}{seconds:>10.2f}{rate:>10,.0f}{rate / base:>7.1f}x")


async def bench(args: argparse.Namespace, dsn: str) -> None:
    url = f"memory://bench?latency_ms={args.latency_ms}&max_batch={args.max_batch}&dlr_delay_ms=1"
    best: dict[int, float] = {}
    before: dict[int, float] = {}
    with contextlib.ExitStack() as stack:
        other = stack.enter_context(revision(args.against, __file__)) if args.against else None
        for _ in range(args.repeat):  # a round of each in turn: a change in the load falls on both
            if other is not None:
                argv = ["--json-only", "--dsn", dsn, "--messages", str(args.messages), "--workers", args.workers,
                        "--latency-ms", str(args.latency_ms), "--max-batch", str(args.max_batch), "--repeat", "1"]  # fmt: skip
                for w, seconds in json.loads(other(argv).splitlines()[-1]).items():
                    before[int(w)] = min(before.get(int(w), float("inf")), seconds)
            await one_round(args, dsn, url, best)
    if args.json_only:
        print(json.dumps(best))
        return
    first = int(args.workers.split(",")[0])
    base = args.messages / (before or best)[first]
    print(f"transport: {url}")
    print(f"{'workers':<24}{'messages':>10}{'seconds':>10}{'msgs/s':>10}{'ratio':>8}")
    if before:
        table(f"at {args.against}: ", args.messages, before, base)
    table("this tree: " if before else "", args.messages, best, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dsn", help="PostgreSQL DSN (default: start a throwaway cluster)")
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--workers", default="1,2,3,4", help="worker counts; the first is the baseline")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="time one send() call takes")
    parser.add_argument("--max-batch", type=int, default=10, help="messages per send() call")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--against", metavar="REF", help="git revision measured the same way, in the same run")
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dsn:
        asyncio.run(bench(args, args.dsn))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pg_server import TempCluster

    cluster = TempCluster.start()
    try:
        asyncio.run(bench(args, cluster.dsn))
    finally:
        cluster.stop()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        asyncio.run(worker(*sys.argv[2:5]))
    else:
        main()
