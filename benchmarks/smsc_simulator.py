"""How many submit_sm per second the SMSC simulator answers, and what each costs it in CPU.

The simulator runs in its own process (``msgbridge sim smsc --port 0``); a
tiny pipelined client in this process keeps ``window`` submit_sm in flight
over one bind and checks that every sequence number is answered exactly once.
The client is deliberately leaner than any real ESME (all PDUs pre-encoded,
responses only counted), so the number measured is the simulator's ceiling.

The baseline, measured in the same run, is window 1 (stop-and-wait): one
message per round trip, which is how python-smpplib's client sends.

    python benchmarks/smsc_simulator.py                  # full table
    python benchmarks/smsc_simulator.py --messages 2000 --quick   # smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass

from msgbridge.simulators.smsc.process import SimulatorProcess
from msgbridge.smpp import codec

try:
    import uvloop
except ImportError:  # the benchmark still runs, on asyncio's own loop
    uvloop = None


@dataclass
class Row:
    config: str
    messages: int
    seconds: float
    sim_cpu: float
    client_cpu: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


class PipelinedClient(asyncio.Protocol):
    def __init__(self, n: int, window: int, registered_delivery: int, done: asyncio.Future[None]) -> None:
        body = codec.encode_sm(
            codec.ShortMessage(
                source_addr="Bench",
                source_addr_ton=5,
                destination_addr="77011234567",
                short_message=b"x" * 30,
                registered_delivery=registered_delivery,
            )
        )
        length = codec.HEADER_LEN + len(body)
        self.size = length
        self.wire = b"".join(
            codec.HEADER.pack(length, codec.SUBMIT_SM, 0, seq) + body for seq in range(1, n + 1)
        )
        self.n = n
        self.window = window
        self.sent = 0
        self.answered = 0
        self.receipts = 0
        self.errors = 0
        self.seen = bytearray(n + 1)
        self.buffer = bytearray()
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.bound: asyncio.Future[int] = done.get_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(
            codec.pdu(codec.BIND_TRANSCEIVER, 0, 0x7FFFFFFF, codec.encode_bind(codec.Bind("b", "b")))
        )

    def start(self) -> None:
        self._send(self.window)

    def _send(self, k: int) -> None:
        k = min(k, self.n - self.sent)
        if k > 0 and self.transport is not None:
            self.transport.write(self.wire[self.sent * self.size : (self.sent + k) * self.size])
            self.sent += k

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = 0
        end = len(buf)
        unpack = codec.HEADER.unpack_from
        got = 0
        acks: list[bytes] = []
        while end - pos >= 16:
            length, command_id, status, seq = unpack(buf, pos)
            if end - pos < length:
                break
            pos += length
            if command_id == codec.SUBMIT_SM_RESP:
                if status or self.seen[seq]:
                    self.errors += 1
                self.seen[seq] = 1
                got += 1
            elif command_id == codec.DELIVER_SM:
                self.receipts += 1
                acks.append(codec.pdu(codec.DELIVER_SM_RESP, 0, seq, b"\x00"))
            elif command_id == codec.BIND_TRANSCEIVER_RESP:
                self.bound.set_result(status)
        del buf[:pos]
        if acks and self.transport is not None:
            self.transport.write(b"".join(acks))
        if got:
            self.answered += got
            self._send(got)
            if self.answered >= self.n and not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"lost after {self.answered} answers: {exc}"))


async def run_client(
    host: str, port: int, n: int, window: int, registered_delivery: int
) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    transport, client = await loop.create_connection(
        lambda: PipelinedClient(n, window, registered_delivery, done), host, port
    )
    if await client.bound:
        raise RuntimeError("bind refused")
    cpu0, t0 = time.process_time(), time.perf_counter()
    client.start()
    await asyncio.wait_for(done, 600)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    transport.close()
    if client.errors or sum(client.seen) != n:
        raise RuntimeError(f"{client.errors} bad or duplicate answers, {sum(client.seen)} of {n} answered")
    return seconds, cpu


def measure(sim: SimulatorProcess, config: str, n: int, window: int, registered_delivery: int = 0) -> Row:
    before = sim.counters()["cpu_seconds"]
    runner = uvloop.run if uvloop is not None else asyncio.run
    seconds, client_cpu = runner(run_client(sim.host, sim.port, n, window, registered_delivery))
    after = sim.counters()["cpu_seconds"]
    return Row(config, n, seconds, after - before, client_cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300_000, help="messages per pipelined run")
    parser.add_argument("--quick", action="store_true", help="one simulator loop, fewer configurations")
    args = parser.parse_args()
    n = args.messages
    n_stop = max(1000, n // 30)

    loops = ["asyncio"] if args.quick or uvloop is None else ["asyncio", "uvloop"]
    rows: list[Row] = []
    baseline: Row | None = None
    for loop_name in loops:
        sim = SimulatorProcess(
            "--any-user",
            "--no-record",
            "--dlr-delay-ms",
            "50",
            *(["--uvloop"] if loop_name == "uvloop" else []),
        )
        try:
            row = measure(sim, f"sim {loop_name:7} window=1 (stop-and-wait)", n_stop, 1)
            rows.append(row)
            baseline = baseline or row
            for window in [10, 100] if args.quick else [10, 100, 1000]:
                rows.append(measure(sim, f"sim {loop_name:7} window={window}", n, window))
            rows.append(measure(sim, f"sim {loop_name:7} window=100 + receipts", n // 2, 100, 1))
        finally:
            sim.stop(signal.SIGTERM)

    assert baseline is not None
    print(
        f"client loop: {'uvloop' if uvloop is not None else 'asyncio'}; python {sys.version.split()[0]}; "
        f"{os.cpu_count()} CPUs; one client process, one bind, 30-character message"
    )
    print(
        f"{'config':44} {'messages':>9} {'msgs/s':>10} {'sim CPU µs/msg':>15} {'client µs/msg':>14} {'vs baseline':>12}"
    )
    for row in rows:
        print(
            f"{row.config:44} {row.messages:>9,} {row.rate:>10,.0f} {row.sim_cpu / row.messages * 1e6:>15.2f} "
            f"{row.client_cpu / row.messages * 1e6:>14.2f} {row.rate / baseline.rate:>11.1f}x"
        )


if __name__ == "__main__":
    main()
