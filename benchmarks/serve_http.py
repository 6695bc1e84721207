"""``msgbridge serve`` over HTTP, one run, three measurements, each printed against a baseline of the same run:

    python benchmarks/serve_http.py                  # (a), (b), and (c) sustained for 60 s
    python benchmarks/serve_http.py --seconds 20     # a shorter (c)
    python benchmarks/serve_http.py --quick          # tiny sizes (the smoke test)
    python benchmarks/serve_http.py --accept-only    # (a) and (b) accepting only, nothing sent

(a) batch POSTs of 1,000 messages (``POST /v1/messages``), a few connections at once: messages durably
    accepted per second (each 202 comes after the outbox commit), against ``Store.enqueue`` of the same
    batches in this process (the store alone, no HTTP). Target 20,000/s.
(b) single-message POSTs from 50 concurrent connections: requests per second and the p50/p99 latency of a
    202, against ``GET /healthz`` at the same concurrency (the HTTP stack and this client alone, no store).
    Targets 2,000 req/s and p99 <= 25 ms.
    (a) and (b) run first against a service whose transport never opens, so they measure accepting alone;
    then again while the service sends everything it accepts to the SMSC, receipts and all, which shares
    its one event loop (and this machine's cores) with the HTTP API, as in use.
(c) end to end through the SMPP simulator with receipts, sustained for ``--seconds``: batches are posted
    while the outbox holds less than ``--backlog`` unsent messages, and the rate is every message accepted
    over the time from the first POST until the last one is DELIVERED in the store; against the same
    number of messages through ``msgbridge campaign run`` (the CLI campaign path: a CSV, the same
    simulator, window and binds) in the same run. Target 10,000 msg/s.

``serve`` runs in its own process (SQLite store, the default), the SMSC simulator in its own, the load
generator (httpx and raw connections, asyncio) here. The outbox is drained between the measurements
that send, so each starts from an empty queue.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from msgbridge.core.message import Message
from msgbridge.demo.serve import ServeProcess, write_config
from msgbridge.service.apikeys import create_key
from msgbridge.simulators.smsc.process import SimulatorProcess
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

BATCH_TARGET = 20_000  # (a) accepted msg/s
SINGLE_TARGET = 2_000  # (b) req/s
P99_TARGET_MS = 25.0  # (b)
END_TO_END_TARGET = 10_000  # (c) msg/s
SERVE_USER, CLI_USER, PASSWORD = "serve", "cli", "pw"  # receipts go to binds of their own system_id


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def phone(i: int) -> str:
    return f"+7701{i % 10_000_000:07d}"


class Load:
    """The load generator: an httpx client with the key, and the serve process's store file to read."""

    def __init__(self, url: str, key: str, store_path: Path, sim: SimulatorProcess) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"}
        self.store_path = store_path
        self.sim = sim
        self.next = 0  # the next phone number to use: every message its own recipient

    def client(self, connections: int) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=self.url, headers=self.headers, limits=limits, timeout=120)

    def batch(self, size: int) -> dict[str, object]:
        first, self.next = self.next, self.next + size
        return {"messages": [{"to": phone(i), "text": f"serve benchmark {i}", "sender": "Shop"} for i in range(first, first + size)]}

    def one(self) -> dict[str, object]:
        i, self.next = self.next, self.next + 1
        return {"to": phone(i), "text": f"serve benchmark {i}", "sender": "Shop"}

    def counts(self) -> dict[str, int]:
        """The store by status, read from its file (a read-only connection beside the service's)."""
        db = sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=30)
        try:
            return dict(db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall())
        finally:
            db.close()

    async def drained(self, total: int, timeout: float) -> float:  # noqa: ASYNC109 -- a bound, not a target
        """Wait until ``total`` messages are DELIVERED in the store; when that was (perf_counter)."""
        deadline = time.monotonic() + timeout
        while True:
            counts = await asyncio.to_thread(self.counts)
            if counts.get("DELIVERED", 0) >= total:
                return time.perf_counter()
            if time.monotonic() > deadline:
                raise RuntimeError(f"not everything delivered within {timeout:g} s: {counts}")
            await asyncio.sleep(0.2)


async def post_batches(load: Load, batches: int, size: int, connections: int) -> tuple[float, int]:
    """(seconds, messages accepted) for ``batches`` POSTs of ``size`` from ``connections`` at once."""
    bodies = [load.batch(size) for _ in range(batches)]
    accepted = 0
    async with load.client(connections) as client:
        queue = list(reversed(bodies))

        async def worker() -> None:
            nonlocal accepted
            while queue:
                answer = await client.post("/v1/messages", json=queue.pop())
                if answer.status_code != 202:
                    raise RuntimeError(f"POST /v1/messages: {answer.status_code} {answer.text[:300]}")
                accepted += len(answer.json()["messages"])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return time.perf_counter() - started, accepted


async def enqueue_alone(batches: int, size: int, workdir: Path) -> float:
    """Seconds for the same batches through ``Store.enqueue`` in this process: the store alone."""
    async with SqliteStore(workdir / "baseline.db") as store:
        rows = [
            [
                OutboxEntry(Message(to=phone(b * size + i), text=f"serve benchmark {i}", sender="Shop"), f"b:{b}:{i}")
                for i in range(size)
            ]
            for b in range(batches)
        ]
        started = time.perf_counter()
        for entries in rows:
            await store.enqueue(entries)
        return time.perf_counter() - started


async def requests(
    load: Load, count: int, connections: int, make: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]], ok: int
) -> tuple[float, list[float]]:
    """(seconds, latency of each request) for ``count`` requests from ``connections`` at once."""
    latencies: list[float] = []
    left = count
    async with load.client(connections) as client:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                sent = time.perf_counter()
                answer = await make(client)
                latencies.append(time.perf_counter() - sent)
                if answer.status_code != ok:
                    raise RuntimeError(f"{answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text[:300]}")

        # Connections opened before the clock starts: the measurement is of requests, not of handshakes.
        await asyncio.gather(*(client.get("/healthz") for _ in range(connections)))
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return time.perf_counter() - started, latencies


class Connection:
    """One keep-alive HTTP/1.1 connection, a request at a time: the single-message load generator.

    httpx was measured here at 1.1 ms of client CPU per request on one connection and 4 ms with 50
    connections in one pool (against a few tens of µs for this), so with httpx (b) would measure httpx:
    ``--client httpx`` runs (b) through it all the same, for comparison. Batches ((a), (c)) go through
    httpx, where a request's own cost is small beside its 1,000 messages.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: str) -> None:
        self.reader, self.writer, self.head = reader, writer, head

    @classmethod
    async def open(cls, url: str, headers: dict[str, str]) -> Connection:
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        head = f"Host: {host}:{port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return cls(reader, writer, head)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        typed = "Content-Type: application/json\r\n" if body else ""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{self.head}{typed}Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = next(int(v) for k, _, v in (line.partition(b":") for line in lines[1:]) if k.lower() == b"content-length")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def raw_requests(
    load: Load, count: int, connections: int, method: str, path: str, body: Callable[[], bytes], ok: int
) -> tuple[float, list[float]]:
    """(seconds, latency of each request) for ``count`` requests over ``connections`` raw connections."""
    conns = [await Connection.open(load.url, load.headers) for _ in range(connections)]
    latencies: list[float] = []
    left = count

    async def worker(conn: Connection) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            payload = body()
            sent = time.perf_counter()
            status, answer = await conn.request(method, path, payload)
            latencies.append(time.perf_counter() - sent)
            if status != ok:
                raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        return time.perf_counter() - started, latencies
    finally:
        for conn in conns:
            conn.close()


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


async def sustained(load: Load, seconds: float, size: int, connections: int, backlog: int) -> tuple[float, int]:
    """(seconds from the first POST to the last DELIVERED, messages) with POSTs for ``seconds``."""
    accepted = 0
    sent_before = (await asyncio.to_thread(load.sim.counters)).get("submit_sm", 0)
    unsent = 0.0
    started = time.perf_counter()
    stop_at = started + seconds
    async with load.client(connections) as client:

        async def watcher() -> None:
            nonlocal unsent
            while time.perf_counter() < stop_at:
                submitted = (await asyncio.to_thread(load.sim.counters)).get("submit_sm", 0) - sent_before
                unsent = accepted - submitted
                await asyncio.sleep(0.1)

        async def poster() -> None:
            nonlocal accepted
            while time.perf_counter() < stop_at:
                if unsent > backlog:
                    await asyncio.sleep(0.01)
                    continue
                answer = await client.post("/v1/messages", json=load.batch(size))
                if answer.status_code != 202:
                    raise RuntimeError(f"POST /v1/messages: {answer.status_code} {answer.text[:300]}")
                accepted += len(answer.json()["messages"])

        await asyncio.gather(watcher(), *(poster() for _ in range(connections)))
    done = await load.drained(load.next, timeout=max(120.0, seconds * 3))  # (everything before is delivered)
    return done - started, accepted


def write_recipients(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("phone,name\n")
        f.writelines(f"+7702{i:07d},customer {i}\n" for i in range(count))


def cli_campaign(port: int, count: int, query: str, workdir: Path) -> tuple[float, int]:
    """(seconds from the first send to the last receipt, messages DELIVERED) through ``msgbridge campaign run``."""
    csv_path = workdir / "recipients.csv"
    write_recipients(csv_path, count)
    cmd = [
        sys.executable, "-m", "msgbridge", "--store", str(workdir / "cli.db"), "campaign", "run",
        "--via", f"smpp://{CLI_USER}:{PASSWORD}@127.0.0.1:{port}?{query}", "--csv", str(csv_path),
        "--template", "Hello {name}, your code is 1234", "--from", "Shop", "--wait-receipts", "600", "--json",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"campaign run failed ({out.returncode}): {out.stderr[-2000:]}")
    report = json.loads(out.stdout)
    return float(report["dispatch"]["seconds"]), int(report["counts"].get("DELIVERED", 0))


def closed_port() -> int:
    """A loopback port nothing listens on: a transport there never opens, so the lane sends nothing."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_serve(workdir: Path, name: str, key_file: Path, transport: str, ready: bool) -> ServeProcess:
    """``serve`` on a store of its own (``name``.db); waits for /readyz (``ready``) or /healthz."""
    config = write_config(
        workdir / f"{name}.toml",
        store=str(workdir / f"{name}.db"),
        transports={"sms": transport},
        keys=str(key_file),
        max_body="64MB",
    )
    serve = await asyncio.to_thread(ServeProcess, config)
    async with httpx.AsyncClient(base_url=serve.url) as client:
        deadline = time.monotonic() + 60
        while (await client.get("/readyz" if ready else "/healthz")).status_code != 200:
            if time.monotonic() > deadline:
                serve.kill()
                raise RuntimeError(f"serve did not become ready:\n{''.join(serve.output[-20:])}")
            await asyncio.sleep(0.1)
    return serve


async def measure_batches(load: Load, args: argparse.Namespace) -> float:
    seconds, accepted = await post_batches(load, args.batches, args.batch_size, args.batch_connections)
    assert accepted == args.batches * args.batch_size
    return accepted / seconds


async def measure_singles(load: Load, args: argparse.Namespace) -> tuple[float, float, float, float]:
    """(req/s, p50 ms, p99 ms, GET /healthz req/s) of single-message POSTs."""
    if args.client == "httpx":

        def health(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
            return client.get("/healthz")

        def single(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
            return client.post("/v1/messages", json=load.one())

        floor_s, _ = await requests(load, args.singles, args.connections, health, 200)
        seconds, latencies = await requests(load, args.singles, args.connections, single, 202)
    else:
        floor_s, _ = await raw_requests(load, args.singles, args.connections, "GET", "/healthz", lambda: b"", 200)
        seconds, latencies = await raw_requests(
            load, args.singles, args.connections, "POST", "/v1/messages", lambda: json.dumps(load.one()).encode(), 202
        )
    return (
        args.singles / seconds,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        args.singles / floor_s,
    )


async def run(args: argparse.Namespace, workdir: Path) -> int:
    query = f"window={args.window}&binds={args.binds}"
    sim = SimulatorProcess(
        "--users", f"{SERVE_USER}:{PASSWORD},{CLI_USER}:{PASSWORD}", "--dlr-delay-ms", str(args.dlr_delay_ms), "--no-record"
    )
    serve: ServeProcess | None = None
    keys = workdir / "keys.toml"
    key = create_key(keys, "bench")[1]
    try:
        print(
            f"config SMSC simulator pid {sim.pid} (dlr delay {args.dlr_delay_ms:g} ms), smpp {query}, SQLite stores, "
            f"load generator here (httpx for batches, {args.client} for single messages)"
        )
        # Accepting alone: the transport never opens, so what is measured is the HTTP API and the outbox.
        serve = await start_serve(workdir, "accept", keys, f"smpp://{SERVE_USER}:{PASSWORD}@127.0.0.1:{closed_port()}", ready=False)
        load = Load(serve.url, key, workdir / "accept.db", sim)
        direct = args.batches * args.batch_size / await enqueue_alone(args.batches, args.batch_size, workdir)
        rate = await measure_batches(load, args)
        print(
            f"(a) batch POSTs, accepting only: {args.batches} x {args.batch_size:,} messages over {args.batch_connections} "
            f"connections: {rate:,.0f} durable msg/s vs Store.enqueue alone {direct:,.0f} msg/s: {rate / direct:.2f}x; "
            f"target {BATCH_TARGET:,}/s {verdict(rate >= BATCH_TARGET)}: {rate / BATCH_TARGET:.2f}x"
        )
        rps, p50, p99, floor = await measure_singles(load, args)
        met = rps >= SINGLE_TARGET and p99 <= P99_TARGET_MS
        print(
            f"(b) single POSTs, accepting only: {args.singles:,} from {args.connections} connections: {rps:,.0f} durable "
            f"req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms vs GET /healthz {floor:,.0f} req/s: {rps / floor:.2f}x; "
            f"target {SINGLE_TARGET:,} req/s and p99 <= {P99_TARGET_MS:g} ms {verdict(met)}: "
            f"{rps / SINGLE_TARGET:.2f}x, p99 {P99_TARGET_MS / p99:.2f}x"
        )
        await asyncio.to_thread(serve.stop)
        serve = None
        if args.accept_only:
            return 0

        # The same, while the service sends what it accepts to the SMSC (receipts and all): as in use.
        serve = await start_serve(
            workdir, "send", keys, f"smpp://{SERVE_USER}:{PASSWORD}@127.0.0.1:{sim.port}?{query}", ready=True
        )
        load = Load(serve.url, key, workdir / "send.db", sim)
        sending = await measure_batches(load, args)
        await load.drained(load.next, timeout=600)
        rps2, p50_2, p99_2, _ = await measure_singles(load, args)
        await load.drained(load.next, timeout=600)
        print(
            f"(a, b) while sending: batches {sending:,.0f} durable msg/s ({sending / rate:.2f}x accepting only); "
            f"single POSTs {rps2:,.0f} req/s, p50 {p50_2:.1f} ms, p99 {p99_2:.1f} ms ({rps2 / rps:.2f}x accepting only)"
        )

        # (c) end to end
        before = load.next
        seconds, accepted = await sustained(load, args.seconds, args.batch_size, args.batch_connections, args.backlog)
        assert load.next - before == accepted
        rate = accepted / seconds
        serve_code = await asyncio.to_thread(serve.stop)
        serve = None
        cli_count = min(accepted, args.cli_cap)
        cli_seconds, cli_delivered = await asyncio.to_thread(cli_campaign, sim.port, cli_count, query, workdir)
        cli_rate = cli_count / cli_seconds
        met_c = rate >= END_TO_END_TARGET and cli_delivered == cli_count
        print(
            f"(c) end to end: {accepted:,} messages POSTed for {args.seconds:g} s, all DELIVERED {seconds:.1f} s after the "
            f"first POST: {rate:,.0f} msg/s vs msgbridge campaign run ({cli_count:,} messages, {cli_delivered:,} DELIVERED) "
            f"{cli_rate:,.0f} msg/s: {rate / cli_rate:.2f}x; target {END_TO_END_TARGET:,} msg/s {verdict(met_c)}: "
            f"{rate / END_TO_END_TARGET:.2f}x"
        )
        if serve_code != 0:
            print(f"serve exited {serve_code} on SIGTERM")
            return 1
        return 0
    finally:
        if serve is not None:
            serve.kill()
        sim.stop(signal.SIGTERM)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (c) posts")
    parser.add_argument("--batches", type=int, default=100, help="(a): POSTs of --batch-size")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-connections", type=int, default=4, help="(a) and (c): concurrent batch POSTs")
    parser.add_argument("--singles", type=int, default=20_000, help="(b): single-message POSTs")
    parser.add_argument("--connections", type=int, default=50, help="(b): concurrent connections")
    parser.add_argument("--backlog", type=int, default=20_000, help="(c): most accepted messages not yet submitted")
    parser.add_argument("--cli-cap", type=int, default=1_000_000, help="(c): most messages the CLI baseline sends")
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--binds", type=int, default=2)
    parser.add_argument("--dlr-delay-ms", type=float, default=100.0)
    parser.add_argument("--uvloop", action=argparse.BooleanOptionalAction, default=True, help="the load generator's loop")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw", help="(b)'s client (see Connection)")
    parser.add_argument("--accept-only", action="store_true", help="(a) and (b) accepting only; nothing sent")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.batches, args.batch_size, args.singles = 2.0, 3, 200, 200
        args.connections, args.backlog, args.cli_cap = 10, 2000, 1000
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        coro = run(args, Path(tmp))
        if args.uvloop:
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(coro)
        return asyncio.run(coro)


if __name__ == "__main__":
    sys.exit(main())
