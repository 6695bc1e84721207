"""msgbridge's SMPP front: our own client (smpp:// transport, window 100) -> front -> SMSC simulator.

Against the same client talking to the simulator directly, in the same run:
msgs/s (submit_sm answered with an id), client CPU µs per message, the
front's CPU µs per message, and the ratio front/direct. Receipts are asked
for both ways (the simulator sends them to the front, the front to the
client as deliver_sm); the receipts the client got are counted.

    python benchmarks/smpp_front.py              # 5 s per side
    python benchmarks/smpp_front.py --seconds 2

Targets: through the front at least half the direct rate, >= 10,000 msg/s.

What a durable front cannot go below, from the same run: it is a server to the
client (the simulator's work per message) and a client to the simulator (the
client's), and it makes the store calls of every relayed message (accepted,
claimed, marked in doubt, answered, receipted, its receipt event claimed,
quoted and marked delivered), which ``store_alone`` times by themselves, with
no socket, in batches of the window. The sum is the front's floor per
message; with the client and the simulator on the same cores, the machine
cannot relay more than ``cores / (client + simulator + floor)`` messages a
second, nor one event loop more than ``1 / floor``. That ceiling over the
direct rate moves little with the machine's speed, as every term does.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from msgbridge.cli.common import run_command
from msgbridge.simulators.smsc.process import SimulatorProcess, process_cpu

TEXT = "Hello, this is message number 1"
WINDOW = 100


async def serve_front(sim_port: int, base: Path) -> None:
    """The front on a free port, relaying to the simulator; prints ``port N``, runs until SIGTERM."""
    from msgbridge.service.runtime import Runtime
    from msgbridge.service.smppfront.accounts import AccountBook, create_account
    from msgbridge.service.smppfront.server import SmppFront

    accounts = base / "smpp-users.toml"
    create_account(accounts, "bench", password="secret", transports=["sim"], window=WINDOW * 2)
    runtime = Runtime(
        store=str(base / "front.db"),
        transports={"sim": f"smpp://u:p@127.0.0.1:{sim_port}?window={WINDOW}"},
    )
    await runtime.start()
    front = SmppFront(runtime, AccountBook(accounts), events=runtime.store)
    await front.start("127.0.0.1", 0)
    print(f"port {front.port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await front.stop()
    await runtime.drain(2.0)


async def store_alone(n: int, batch: int) -> float:
    """CPU seconds per message of the store calls the front makes for each relayed message, by themselves:
    the same calls (enqueue with the account's receipt target, claim, mark_in_doubt, record_results,
    record_receipts writing the receipt event, claim_events with the last turn's outcomes, quotes,
    events_done), ``batch`` messages a call, on a SQLite file like the front's."""
    from msgbridge.core.message import DeliveryReceipt, Message, SendResult
    from msgbridge.core.status import DeliveryStatus
    from msgbridge.service.smppfront.mo import front_target
    from msgbridge.service.smppfront.receipts import FORMAT, LEASE_SECONDS, wanted_by_mask
    from msgbridge.store.base import DELIVERED, EventOutcome, OutboxEntry
    from msgbridge.store.sqlite import SqliteStore

    link = "smpp://127.0.0.1:2775"
    target = front_target("bench", 1)
    native = itertools.count(10**9)
    cpu = 0.0
    with tempfile.TemporaryDirectory() as base:
        store = SqliteStore(Path(base) / "alone.db")
        store.want_events(FORMAT, wanted_by_mask())
        async with store:
            outcomes: list[EventOutcome] = []
            for i in range(0, n, batch):
                entries = [
                    OutboxEntry(Message(to="+77011234567", sender="Test", text=TEXT, reference=f"{k}.0.x",
                                        metadata={"callback": target.dumps()}), f"smpp@bench:{k}")
                    for k in range(i, min(n, i + batch))
                ]  # fmt: skip
                c0 = time.thread_time()
                await store.enqueue(entries)
                claimed = await store.claim(batch)
                ids = [r.message.id for r in claimed]
                await store.mark_in_doubt(ids)
                cpu += time.thread_time() - c0
                results = [SendResult(message_id=m, status=DeliveryStatus.SUBMITTED, native_id=str(next(native)))
                           for m in ids]  # fmt: skip
                receipts = [DeliveryReceipt(native_id=r.native_id or "", status=DeliveryStatus.DELIVERED, link=link)
                            for r in results]  # fmt: skip
                c0 = time.thread_time()
                await store.record_results(results, link=link)
                await store.record_receipts(receipts)
                events = await store.claim_events(
                    batch,
                    now=time.time(),
                    lease=LEASE_SECONDS,
                    formats=(FORMAT,),
                    urls=[target.url],
                    done=outcomes,
                )
                await store.quotes([e.message_id for e in events if e.message_id is not None])
                outcomes = [EventOutcome(e.n, DELIVERED, None, None) for e in events]
                cpu += time.thread_time() - c0
                if len(events) != len(ids):
                    raise SystemExit(f"store_alone: {len(events)} receipt events for {len(ids)} messages")
            c0 = time.thread_time()
            await store.events_done(outcomes)
            cpu += time.thread_time() - c0
    return cpu / n


async def client(url: str, seconds: float) -> dict[str, Any]:
    """Two send() calls in flight (as the dispatcher does) for ``seconds``; receipts drained meanwhile."""
    from msgbridge.adapters.base import open_transport
    from msgbridge.core.message import Message

    batch = [Message(to="+77011234567", sender="Test", text=TEXT) for _ in range(WINDOW * 10)]
    counts = {"sent": 0, "correlated": 0, "receipts": 0}
    async with open_transport(url) as t:
        await t.send(batch[:1])

        async def receipts() -> None:
            async for _ in t.receipts():
                counts["receipts"] += 1

        drain = asyncio.create_task(receipts())
        cpu0 = time.process_time()
        started = time.perf_counter()

        async def sender() -> None:
            while time.perf_counter() - started < seconds:
                results = await t.send(batch)
                counts["sent"] += len(results)
                counts["correlated"] += sum(1 for r in results if r.ok and r.native_id)

        await asyncio.gather(sender(), sender())
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
        await asyncio.sleep(1.0)  # receipts still on their way
        drain.cancel()
    return {**counts, "seconds": elapsed, "client_cpu": cpu}


def run_client(url: str, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--client", url, "--seconds", str(seconds)],
        capture_output=True, text=True, check=False, timeout=seconds * 20 + 60,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"client failed:\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def line(name: str, r: dict[str, Any], peer_cpu: float) -> float:
    rate = r["correlated"] / r["seconds"] if r["seconds"] else 0.0
    n = max(1, r["correlated"])
    print(f"{name:28} {rate:>10,.0f} {r['client_cpu'] / n * 1e6:>14.1f} {peer_cpu / n * 1e6:>13.1f} "
          f"{r['receipts']:>10,}")  # fmt: skip
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--front", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--alone", type=int, default=20_000, help="messages of the store-alone run")
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(client(args.client, args.seconds))))
        return
    if args.front is not None:
        run_command(serve_front(args.front, Path(args.base)), fast=True)  # as `msgbridge serve` runs it
        return
    sim = SimulatorProcess("--users", "u:p", "--dlr-delay-ms", "50", "--no-record", "--uvloop")
    try:
        sim0 = process_cpu(sim.pid)
        direct = run_client(f"smpp://u:p@127.0.0.1:{sim.port}?window={WINDOW}&timeout=60", args.seconds)
        direct_sim = process_cpu(sim.pid) - sim0
        with tempfile.TemporaryDirectory() as base:
            front = subprocess.Popen(
                [sys.executable, __file__, "--front", str(sim.port), "--base", base],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                assert front.stdout is not None
                port = int(front.stdout.readline().split()[1])
                f0 = process_cpu(front.pid)
                via = run_client(
                    f"smpp://bench:secret@127.0.0.1:{port}?window={WINDOW}&timeout=60", args.seconds
                )
                front_cpu = process_cpu(front.pid) - f0
            finally:
                front.send_signal(signal.SIGTERM)
                front.wait(30)
    finally:
        sim.stop(signal.SIGTERM)
    store_cpu = asyncio.run(store_alone(args.alone, WINDOW))
    print(f"\n{'path':28} {'msgs/s':>10} {'client µs/msg':>14} {'peer µs/msg':>13} {'receipts':>10}")
    d = line("client -> simulator", direct, direct_sim)
    v = line("client -> front -> simulator", via, front_cpu)
    print(f"\nthrough the front: {v / d:.2f}x the direct rate (target >= 0.5); {v:,.0f} msg/s (target >= 10,000);"
          f" peer CPU is the simulator's (direct) or the front's (via)")  # fmt: skip
    n = max(1, direct["correlated"])
    client_us, sim_us, store_us = direct["client_cpu"] / n * 1e6, direct_sim / n * 1e6, store_cpu * 1e6
    floor = client_us + sim_us + store_us
    cores = os.cpu_count() or 1
    print(
        f"\nthe front's floor per message: {client_us:.1f} µs (a client's) + {sim_us:.1f} µs (a server's)"
        f" + {store_us:.1f} µs (its store calls alone) = {floor:.1f} µs; measured {front_cpu / max(1, via['correlated']) * 1e6:.1f}"
    )
    shared = cores * 1e6 / (client_us + sim_us + floor)
    print(f"ceilings: one event loop {1e6 / floor:,.0f} msg/s; {cores} cores shared with the client and the"
          f" simulator {shared:,.0f} msg/s, {shared / d:.2f}x the direct rate")  # fmt: skip


if __name__ == "__main__":
    main()
