"""Store throughput for a whole campaign: enqueue + claim + record_results + record_receipts.

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
from pathlib import Path

from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

LINK = "bench://local"


def outbox(n: int, campaign: str) -> list[OutboxEntry]:
    out = []
    for i in range(n):
        phone = f"+7701{i:07d}"
        msg = Message(to=phone, text=f"Hello {i}, your code is {i * 7 % 10000:04d}", campaign=campaign)
        out.append(OutboxEntry(message=msg, idempotency_key=f"{campaign}:{phone}", row=i + 2))
    return out


async def campaign(path: Path, n: int, batch: int) -> float:
    """Seconds spent in store calls for one campaign of ``n`` messages in batches of ``batch``.

    Only the store calls are timed: the results and receipts a transport would
    hand over are built between them, outside the clock.
    """
    entries = outbox(n, "bench")
    native = itertools.count(10**9)
    spent = 0.0
    async with SqliteStore(path) as store:
        for i in range(0, n, batch):
            t0 = time.perf_counter()
            await store.enqueue(entries[i : i + batch])
            spent += time.perf_counter() - t0
        while True:
            t0 = time.perf_counter()
            claimed = await store.claim(batch, campaign="bench")
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=2_000, help="messages for the one-per-call baseline")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    naive = batched = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            naive = min(naive, await campaign(Path(tmp) / f"naive{i}.db", args.baseline, 1))
            batched = min(batched, await campaign(Path(tmp) / f"batched{i}.db", args.messages, args.batch))
    naive_rate = args.baseline / naive
    rate = args.messages / batched
    print(f"{'config':<34}{'messages':>10}{'msgs/s':>12}{'µs/msg':>10}{'ratio':>9}")
    print(
        f"{'one transaction per message':<34}{args.baseline:>10,}{naive_rate:>12,.0f}{naive / args.baseline * 1e6:>10.0f}{1.0:>8.1f}x"
    )
    print(
        f"{f'batched ({args.batch} per call)':<34}{args.messages:>10,}{rate:>12,.0f}"
        f"{batched / args.messages * 1e6:>10.0f}{rate / naive_rate:>8.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
