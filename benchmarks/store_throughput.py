"""Store throughput for a whole campaign: enqueue + claim + mark_in_doubt + record_results + record_receipts.

Compares batched store calls (what the dispatcher does) with the naive shape,
one store call (one transaction) per message, measured in the same run on the
same kind of file.

    python benchmarks/store_throughput.py [--messages 20000] [--baseline 2000] [--batch 500] [--repeat 3]

Only time inside store calls is counted. Native ids are handed out in increasing order, as SMSCs and providers
usually do. The machine is shared and noisy: each configuration runs
``--repeat`` times and the best run is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
import uuid
from pathlib import Path

from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import OutboxEntry, Store
from msgbridge.store.sqlite import SqliteStore

LINK = "bench://local"


def outbox(n: int, campaign: str) -> list[OutboxEntry]:
    out = []
    for i in range(n):
        phone = f"+7701{i:07d}"
        msg = Message(to=phone, text=f"Hello {i}, your code is {i * 7 % 10000:04d}", campaign=campaign)
        out.append(OutboxEntry(message=msg, idempotency_key=f"{campaign}:{phone}", row=i + 2))
    return out


async def campaign(store: Store, n: int, batch: int) -> float:
    """Seconds spent in store calls for one campaign of ``n`` messages in batches of ``batch``.

    Only the store calls are timed: the results and receipts a transport would
    hand over are built between them, outside the clock.
    """
    entries = outbox(n, "bench")
    native = itertools.count(10**9)
    spent = 0.0
    # Stores from before claims were owned mark in doubt in claim() itself.
    mark_in_doubt = getattr(store, "mark_in_doubt", None)
    async with store:
        for i in range(0, n, batch):
            t0 = time.perf_counter()
            await store.enqueue(entries[i : i + batch])
            spent += time.perf_counter() - t0
        while True:
            t0 = time.perf_counter()
            claimed = await store.claim(batch, campaign="bench")
            if claimed and mark_in_doubt is not None:  # what the dispatcher does before the write
                await mark_in_doubt([r.message.id for r in claimed])
            spent += time.perf_counter() - t0
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
            t0 = time.perf_counter()
            await store.record_results(results, link=LINK)
            await store.record_receipts(receipts)
            spent += time.perf_counter() - t0
        counts = await store.counts("bench")
    if counts != {DeliveryStatus.DELIVERED: n}:
        raise SystemExit(f"store lost messages: {counts}")
    return spent


def row(label: str, n: int, seconds: float, base_rate: float) -> str:
    rate = n / seconds
    return f"{label:<40}{n:>10,}{rate:>12,.0f}{seconds / n * 1e6:>10.0f}{rate / base_rate:>8.1f}x"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=2_000, help="messages for the one-per-call baseline")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--postgres", metavar="DSN", help="also measure the PostgreSQL store (a scratch schema)"
    )
    args = parser.parse_args()
    naive = batched = pg = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            naive = min(naive, await campaign(SqliteStore(Path(tmp) / f"naive{i}.db"), args.baseline, 1))
            batched = min(
                batched, await campaign(SqliteStore(Path(tmp) / f"batched{i}.db"), args.messages, args.batch)
            )
            if args.postgres:
                pg = min(pg, await campaign(await scratch_postgres(args.postgres), args.messages, args.batch))
    base_rate = args.baseline / naive
    print(f"{'config':<40}{'messages':>10}{'msgs/s':>12}{'µs/msg':>10}{'ratio':>9}")
    print(row("sqlite, one transaction per message", args.baseline, naive, base_rate))
    print(row(f"sqlite, batched ({args.batch} per call)", args.messages, batched, base_rate))
    if args.postgres:
        print(row(f"postgresql, batched ({args.batch} per call)", args.messages, pg, base_rate))


async def scratch_postgres(dsn: str) -> Store:
    """A PostgreSQL store in a fresh schema (the schemas are left for the server's owner to drop)."""
    from msgbridge.store.postgres import PostgresStore

    return PostgresStore(dsn, schema=f"bench_{uuid.uuid4().hex[:10]}")


if __name__ == "__main__":
    asyncio.run(main())
