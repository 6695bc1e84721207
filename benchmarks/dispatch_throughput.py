"""A whole campaign through the dispatcher and the SQLite store over ``memory://``.

Compares the dispatcher's batched claims and sends with one message per
claim, send and result (``batch_size=1``, one worker), measured in the same
run. The transport answers at once and pushes receipts, so this measures
what msgbridge itself costs per message: prepare (template, E.164, segments),
outbox, dispatch, results and receipts.

    python benchmarks/dispatch_throughput.py [--messages 10000] [--baseline 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Campaign, Recipient
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.campaign import prepare_campaign
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.store.sqlite import SqliteStore

VIA = "memory://bench?dlr_delay_ms=1"


async def run(path: Path, n: int, *, batch_size: int | None, concurrency: int) -> float:
    """Seconds from a fresh store to every message DELIVERED."""
    recipients = tuple(
        Recipient(phone=f"+7701{i:07d}", fields={"name": f"P{i}"}, row=i + 2) for i in range(n)
    )
    campaign = Campaign(name="bench", template="Hello {name}, your code is 1234", recipients=recipients)
    start = time.perf_counter()
    async with SqliteStore(path) as store, open_transport(VIA) as transport:
        await prepare_campaign(store, campaign)
        dispatcher = Dispatcher(store, transport, batch_size=batch_size, concurrency=concurrency)
        await dispatcher.run("bench", wait_receipts=60)
        counts = await store.counts("bench")
    elapsed = time.perf_counter() - start
    if counts != {DeliveryStatus.DELIVERED: n}:
        raise SystemExit(f"not every message was delivered: {counts}")
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=1_000, help="messages for the one-at-a-time baseline")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    naive = batched = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            naive = min(naive, await run(Path(tmp) / f"n{i}.db", args.baseline, batch_size=1, concurrency=1))
            batched = min(
                batched, await run(Path(tmp) / f"b{i}.db", args.messages, batch_size=None, concurrency=4)
            )
    base = args.baseline / naive
    rate = args.messages / batched
    print(f"{'config':<44}{'messages':>10}{'msgs/s':>10}{'ratio':>9}")
    print(f"{'one message per claim/send/result':<44}{args.baseline:>10,}{base:>10,.0f}{1.0:>8.1f}x")
    print(
        f"{'dispatcher defaults (batches, 4 workers)':<44}{args.messages:>10,}{rate:>10,.0f}{rate / base:>8.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
