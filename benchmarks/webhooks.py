"""Webhook delivery: events per second to a local receiver, and how long a receiver's outage takes to drain.

    python benchmarks/webhooks.py                   # 20,000 events at 1 and 50 URLs; a 60 s outage
    python benchmarks/webhooks.py --outage 10       # a shorter outage
    python benchmarks/webhooks.py --quick           # tiny sizes (the smoke test)

(a) ``--events`` status events already in the store (SQLite, pending), all to one URL, then spread over 50
    URLs (50 receivers, one origin each): the worker starts and the time until the last one is recorded
    delivered gives events/s; claims, signing, requests and outcome commits are all in it. Baseline of the
    same run: a plain httpx POST loop of as many bodies of the same size to the same receivers, at the same
    concurrency (4 per URL), nothing stored or signed. The ratio is worker / loop.
(b) ``--rate`` messages a second get a status event each, to ``--drain-urls`` URLs, while the worker
    delivers; after ``--warmup`` seconds the receiver stops listening for ``--outage`` seconds, then listens
    again. The drain time is from then until every event that occurred before it is delivered (the store's
    oldest pending event is younger than the moment it came back), production going on all along. Printed
    beside it: the backlog, and the drain time (a) predicts for it (backlog / (the rate (a) measured for
    that many URLs - ``--rate``)).

The receiver runs in its own process (asyncio on uvloop, a minimal HTTP/1.1 responder answering 200 to
every request), so it takes none of the worker's CPU; the worker and the producer share this one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from msgbridge.config import WebhookSettings
from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.message import Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import OutboxEntry, Store
from msgbridge.store.sqlite import SqliteStore
from msgbridge.webhooks.keys import WebhookSecrets
from msgbridge.webhooks.worker import WebhookWorker

LINK = "memory://"
SECRET = "whsec_benchmark"
CONCURRENCY = 4  # per URL, the worker's default

RECEIVER = r"""
import asyncio, sys
try:
    import uvloop; uvloop.install()
except ImportError:
    pass

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

class Responder(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            self.buffer = self.buffer[end:]
            self.transport.write(OK)

async def main(count):
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(Responder, "127.0.0.1", 0) for _ in range(count)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(" ".join(map(str, ports)), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).strip():
        if line == b"down":
            for s in servers:
                s.close()
            for s in servers:
                await s.wait_closed()
        elif line == b"up":
            servers = [await loop.create_server(Responder, "127.0.0.1", p) for p in ports]
        print("ok", flush=True)

asyncio.run(main(int(sys.argv[1])))
"""


class ReceiverProcess:
    """``count`` receivers (one port each) in a process of their own; ``down()``/``up()`` stop and resume
    listening on the same ports."""

    def __init__(self, count: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RECEIVER, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.ports = [int(p) for p in self.proc.stdout.readline().split()]
        self.urls = [f"http://127.0.0.1:{p}/hook" for p in self.ports]

    def _say(self, word: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def down(self) -> None:
        self._say("down")

    def up(self) -> None:
        self._say("up")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


class Producer:
    """Messages with a callback target each, queued and answered SUBMITTED: one status event each."""

    def __init__(self, store: Store, urls: list[str]) -> None:
        self.store = store
        self.targets = [CallbackTarget(u).dumps() for u in urls]
        self.made = 0

    async def batch(self, count: int) -> None:
        first = self.made
        self.made += count
        messages = [
            Message(
                id=f"m{i:09d}", to=f"+7701{i % 10_000_000:07d}", text="hi", reference=f"r{i}",
                metadata={"callback": self.targets[i % len(self.targets)]},
            )
            for i in range(first, first + count)
        ]  # fmt: skip
        ids = await self.store.enqueue([OutboxEntry(m, f"bench:{m.id}") for m in messages])
        claimed = await self.store.claim(len(ids), ids=ids)
        await self.store.mark_in_doubt([r.message.id for r in claimed])
        await self.store.record_results(
            [SendResult(message_id=i, status=DeliveryStatus.SUBMITTED, native_id=f"n{i}") for i in ids],
            link=LINK,
        )


def worker(store: Store) -> WebhookWorker:
    settings = WebhookSettings(secrets=(SECRET,), timeout=5.0, breaker_cooldown=2.0)
    w = WebhookWorker(store, settings=settings, secrets=WebhookSecrets(settings.secrets), allow_private=True)
    w.start()
    return w


async def pending(store: Store) -> int:
    return (await store.event_backlog()).pending


async def worker_rate(urls: list[str], events: int, workdir: Path) -> float:
    async with SqliteStore(workdir / f"rate-{len(urls)}.db") as store:
        producer = Producer(store, urls)
        for start in range(0, events, 1000):
            await producer.batch(min(1000, events - start))
        started = time.perf_counter()
        w = worker(store)
        try:
            while await pending(store):  # noqa: ASYNC110 -- the store is the record
                await asyncio.sleep(0.05)
        finally:
            elapsed = time.perf_counter() - started
            await w.stop()
        assert w.stats.delivered == events, w.stats
    return events / elapsed


async def loop_rate(urls: list[str], events: int) -> float:
    body = json.dumps(
        {
            "event_id": "evt_" + "a" * 26, "type": "message.status", "message_id": "01KBH7W2C3Q3W3Q3W3Q3W3Q3W3",
            "reference": "r1", "campaign": None, "to": "+77010000001", "status": "SUBMITTED", "native_status": None,
            "error": None, "segments": 1, "occurred_at": "2026-12-03T08:26:33.123Z",
        }
    ).encode()  # fmt: skip
    limits = httpx.Limits(
        max_connections=CONCURRENCY * len(urls), max_keepalive_connections=CONCURRENCY * len(urls)
    )
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        left = events

        async def post_loop(url: str) -> None:
            nonlocal left
            while left > 0:
                left -= 1
                response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
                assert response.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(post_loop(u) for u in urls for _ in range(CONCURRENCY)))
        return events / (time.perf_counter() - started)


async def drain(
    receiver: ReceiverProcess, urls: list[str], rate: int, warmup: float, outage: float, workdir: Path
) -> tuple[float, int]:
    async with SqliteStore(workdir / "drain.db") as store:
        producer = Producer(store, urls)
        w = worker(store)
        stop = asyncio.Event()
        tick = 0.1

        async def produce() -> None:
            started = time.perf_counter()
            while not stop.is_set():
                due = int((time.perf_counter() - started) * rate) - producer.made
                if due > 0:
                    await producer.batch(due)
                await asyncio.sleep(tick)

        producing = asyncio.create_task(produce())
        try:
            await asyncio.sleep(warmup)
            receiver.down()
            await asyncio.sleep(outage)
            backlog = await pending(store)
            receiver.up()
            back = time.time()
            while True:
                oldest = (await store.event_backlog()).oldest_pending_at
                if oldest is None or oldest >= back:
                    break
                await asyncio.sleep(0.1)
            drained = time.time() - back
        finally:
            stop.set()
            await producing
            await w.stop(0)
    return drained, backlog


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="msgbridge-webhooks-"))
    print(f"config: {args.events} events; concurrency {CONCURRENCY} per URL; SQLite store; receiver in its own process; "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    rates: dict[int, float] = {}
    for count in args.urls:
        receiver = ReceiverProcess(count)
        try:
            ours = await worker_rate(receiver.urls, args.events, workdir)
            base = await loop_rate(receiver.urls, args.events)
        finally:
            receiver.close()
        rates[count] = ours
        print(f"(a) {count:>2} URL(s): worker {ours:8,.0f} events/s | httpx POST loop {base:8,.0f} req/s | "
              f"ratio {ours / base:.2f}x")  # fmt: skip
    receiver = ReceiverProcess(args.drain_urls)
    try:
        drained, backlog = await drain(receiver, receiver.urls, args.rate, args.warmup, args.outage, workdir)
    finally:
        receiver.close()
    measured = rates.get(args.drain_urls)
    predicted = (
        f"{backlog / (measured - args.rate):.1f} s"
        if measured is not None and measured > args.rate
        else "n/a"
    )
    print(f"(b) {args.outage:g} s outage at {args.rate:,} msg/s to {args.drain_urls} URL(s): backlog {backlog:,} events, "
          f"drained in {drained:.1f} s after the receiver came back (predicted from (a): {predicted})")  # fmt: skip


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--urls", type=lambda s: [int(x) for x in s.split(",")], default=[1, 50])
    parser.add_argument("--rate", type=int, default=1000, help="messages per second during (b)")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the receiver is down in (b)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of (b) before the outage")
    parser.add_argument("--drain-urls", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the smoke test")
    args = parser.parse_args()
    if args.quick:
        args.events, args.urls, args.rate, args.outage, args.warmup, args.drain_urls = (
            300,
            [1, 5],
            100,
            1.0,
            0.5,
            1,
        )
    return args


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parse()))
