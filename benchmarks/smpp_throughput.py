"""SMPP submit_sm throughput: msgbridge vs python-smpplib (stop-and-wait) vs the smpp34 client.

One run, the SMSC simulator in other processes (one per injected latency),
each client configuration in its own process so CPU time and event loops do
not leak between them. Prints one line per configuration with msgs/s, client
CPU µs per message, the simulator's CPU µs per message, and ratios against
the baselines measured in the same run:

    python benchmarks/smpp_throughput.py            # full matrix, about 2-3 minutes
    python benchmarks/smpp_throughput.py --quick    # smoke run, a few seconds per client

Every message is one 31-character GSM-7 submit_sm without a receipt request;
a message counts only when its submit_sm_resp came back with a message_id
(``correlated``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from msgbridge.simulators.smsc.process import SimulatorProcess, process_cpu

TEXT = "Hello, this is message number 1"
DEST = "77011234567"
SENDER = "Test"
WINDOWS = (1, 10, 100, 1000)
LATENCIES = (0.0, 20.0)


@dataclass
class Config:
    client: str  # msgbridge | smpplib | smpp34
    latency_ms: float
    window: int = 1
    binds: int = 1
    uvloop: bool = False
    seconds: float = 1.5

    @property
    def label(self) -> str:
        if self.client == "smpplib":
            return "smpplib stop-and-wait"
        loop = " uvloop" if self.uvloop else " asyncio"
        binds = f" binds={self.binds}" if self.client == "msgbridge" else ""
        return f"{self.client} window={self.window}{binds}{loop}"


@dataclass
class Result:
    config: Config
    sent: int
    correlated: int
    seconds: float
    client_cpu: float
    sim_cpu: float

    @property
    def rate(self) -> float:
        return self.correlated / self.seconds if self.seconds else 0.0

    @property
    def client_us(self) -> float:
        return self.client_cpu / self.correlated * 1e6 if self.correlated else float("nan")

    @property
    def sim_us(self) -> float:
        return self.sim_cpu / self.correlated * 1e6 if self.correlated else float("nan")


# --- clients (run inside a child process) -------------------------------------


async def run_msgbridge(cfg: Config, port: int) -> tuple[int, int, float, float]:
    """Two send() calls in flight at a time, as the dispatcher does, so a window never drains between batches."""
    from msgbridge.adapters.base import open_transport
    from msgbridge.core.message import Message

    url = f"smpp://u:p@127.0.0.1:{port}?window={cfg.window}&binds={cfg.binds}&dlr=0&timeout=60"
    per_batch = cfg.window * 10
    batch = [Message(to="+" + DEST, sender=SENDER, text=TEXT) for _ in range(max(10, min(5000, per_batch)))]
    counts = [0, 0]
    async with open_transport(url) as t:
        await t.send(batch[:1])  # bound and warm
        cpu0 = time.process_time()
        started = time.perf_counter()

        async def sender() -> None:
            while time.perf_counter() - started < cfg.seconds:
                results = await t.send(batch)
                counts[0] += len(results)
                counts[1] += sum(1 for r in results if r.ok and r.native_id)

        await asyncio.gather(sender(), sender())
        return counts[0], counts[1], time.perf_counter() - started, time.process_time() - cpu0


def run_smpplib(cfg: Config, port: int) -> tuple[int, int, float, float]:
    """As python-smpplib's README shows it: send one message, read its response, repeat."""
    import smpplib.client

    client = smpplib.client.Client("127.0.0.1", port, allow_unknown_opt_params=True)
    ids: list[str] = []
    client.set_message_sent_handler(lambda pdu: ids.append(pdu.message_id))
    client.connect()
    client.bind_transceiver(system_id="u", password="p")
    sent = 0
    cpu0 = time.process_time()
    started = time.perf_counter()
    while time.perf_counter() - started < cfg.seconds:
        client.send_message(
            source_addr_ton=5,
            source_addr=SENDER,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=DEST,
            short_message=TEXT.encode(),
            registered_delivery=0,
        )
        client.read_once()
        sent += 1
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    client.unbind()
    client.disconnect()
    return sent, sum(1 for i in ids if i), elapsed, cpu


async def run_smpp34(cfg: Config, port: int) -> tuple[int, int, float, float]:
    """smpp34's asyncio client: ``window`` tasks each awaiting submit_sm in turn (its window does the rest)."""
    import smpp34

    client = smpp34.Client("127.0.0.1", port, "u", "p", window_size=cfg.window)
    session = await client.connect()
    await session.submit_sm(DEST, TEXT.encode(), source_addr=SENDER, source_addr_ton=5, dest_addr_ton=1)
    counts = [0, 0]
    cpu0 = time.process_time()
    started = time.perf_counter()

    async def worker() -> None:
        while time.perf_counter() - started < cfg.seconds:
            resp = await session.submit_sm(
                DEST, TEXT.encode(), source_addr=SENDER, source_addr_ton=5, dest_addr_ton=1, dest_addr_npi=1
            )
            counts[0] += 1
            counts[1] += bool(resp.is_success and resp.message_id)

    await asyncio.gather(*(worker() for _ in range(cfg.window)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    await session.unbind()
    await client.stop()
    return counts[0], counts[1], elapsed, cpu


def child(cfg: Config, port: int) -> dict[str, Any]:
    """Run one configuration; CPU is counted over the timed loop only (not imports or the bind)."""
    if cfg.client == "smpplib":
        sent, ok, elapsed, cpu = run_smpplib(cfg, port)
    else:
        coro = run_msgbridge(cfg, port) if cfg.client == "msgbridge" else run_smpp34(cfg, port)
        if cfg.uvloop:
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                sent, ok, elapsed, cpu = runner.run(coro)
        else:
            sent, ok, elapsed, cpu = asyncio.run(coro)
    return {"sent": sent, "correlated": ok, "seconds": elapsed, "client_cpu": cpu}


# --- codec cost, in process ----------------------------------------------------


def codec_costs(n: int = 20_000) -> dict[str, float]:
    """µs of CPU to build one submit_sm and parse one submit_sm_resp: smpplib's PDU objects vs our codec."""
    import smpplib.smpp

    from msgbridge.adapters.smpp.transport import SmppTransport
    from msgbridge.core.message import Message
    from msgbridge.core.url import TransportURL
    from msgbridge.smpp import codec

    class Ctx:
        sequence = 0

        def next_sequence(self) -> int:
            self.sequence += 1
            return self.sequence

    ctx = Ctx()
    resp = codec.pdu(codec.SUBMIT_SM_RESP, 0, 7, b"1A2B3C4D\x00")
    started = time.process_time()
    for _ in range(n):
        p = smpplib.smpp.make_pdu(
            "submit_sm", client=ctx, source_addr_ton=5, source_addr=SENDER, dest_addr_ton=1, dest_addr_npi=1,
            destination_addr=DEST, short_message=TEXT.encode(), registered_delivery=0,
        )  # fmt: skip
        p.generate()
        smpplib.smpp.parse_pdu(resp, client=ctx, allow_unknown_opt_params=True).message_id  # noqa: B018
    smpplib_us = (time.process_time() - started) / n * 1e6

    t = SmppTransport(TransportURL.parse("smpp://u:p@127.0.0.1:1?dlr=0"))
    msg = Message(to="+" + DEST, sender=SENDER, text=TEXT)
    started = time.process_time()
    for _ in range(n):
        plan = t.encode_message(msg)
        assert isinstance(plan, list)
        body = plan[0]
        codec.HEADER.pack(16 + len(body), codec.SUBMIT_SM, 0, 7) + body
        codec.HEADER.unpack_from(resp, 0)
        resp[16 : resp.index(0, 16)].decode("latin-1")
    ours_us = (time.process_time() - started) / n * 1e6
    return {"smpplib_pdu_us": smpplib_us, "msgbridge_codec_us": ours_us}


# --- orchestration -------------------------------------------------------------


@contextmanager
def simulator(latency_ms: float, report: Path) -> Iterator[tuple[int, int]]:
    sim = SimulatorProcess(
        "--users", "u:p", "--latency-ms", str(latency_ms), "--no-record", "--uvloop", "--report-json", str(report)
    )  # fmt: skip
    try:
        yield sim.port, sim.pid
    finally:
        sim.stop(signal.SIGTERM)


def run_config(cfg: Config, port: int, sim_pid: int) -> Result:
    sim0 = process_cpu(sim_pid)
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(asdict(cfg)), "--port", str(port)],
        capture_output=True,
        text=True,
        check=False,
        timeout=cfg.seconds * 20 + 60,
    )
    sim_cpu = process_cpu(sim_pid) - sim0
    if out.returncode != 0:
        raise RuntimeError(f"{cfg.label} failed:\n{out.stderr[-2000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return Result(cfg, data["sent"], data["correlated"], data["seconds"], data["client_cpu"], sim_cpu)


def configs(seconds: float, quick: bool) -> list[Config]:
    out: list[Config] = []
    windows = (1, 100) if quick else WINDOWS
    for latency in LATENCIES:
        out.append(Config("smpplib", latency, seconds=seconds))
        for window in windows:
            out.append(Config("smpp34", latency, window, uvloop=True, seconds=seconds))
        for window in windows:
            for binds in (1,) if quick else (1, 2):
                for uv in (True,) if quick else (False, True):
                    out.append(Config("msgbridge", latency, window, binds, uv, seconds))
    return out


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}" if x == x else "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer configurations, short runs (smoke test)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per configuration (default 1.5)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Config(**json.loads(args.child)), args.port)))
        return
    seconds = args.seconds or (0.4 if args.quick else 1.5)
    results: list[Result] = []
    started = time.monotonic()
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    for latency in LATENCIES:
        with simulator(latency, tmp / f"smpp-bench-sim-{os.getpid()}-{int(latency)}.json") as (port, pid):
            for cfg in configs(seconds, args.quick):
                if cfg.latency_ms == latency:
                    results.append(run_config(cfg, port, pid))
                    r = results[-1]
                    print(
                        f"  ran {cfg.label} @ {latency:g} ms: {fmt(r.rate)} msg/s",
                        file=sys.stderr,
                        flush=True,
                    )
    report(results)
    costs = codec_costs(2_000 if args.quick else 20_000)
    print(
        f"\ncodec alone, one submit_sm built + its submit_sm_resp parsed: python-smpplib PDU objects "
        f"{costs['smpplib_pdu_us']:.1f} µs, msgbridge codec {costs['msgbridge_codec_us']:.1f} µs "
        f"({costs['smpplib_pdu_us'] / costs['msgbridge_codec_us']:.0f}x)"
    )
    print(f"\ntotal benchmark time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r.config), **asdict(r), "rate": r.rate} for r in results]))


def report(results: list[Result]) -> None:
    for latency in LATENCIES:
        rows = [r for r in results if r.config.latency_ms == latency]
        base = next(r for r in rows if r.config.client == "smpplib")
        smpp34 = {r.config.window: r for r in rows if r.config.client == "smpp34"}
        print(f"\n== {latency:g} ms injected response latency ==")
        print(f"{'config':38} {'msgs/s':>10} {'client µs/msg':>14} {'sim µs/msg':>11} {'vs smpplib':>11} "
              f"{'vs smpp34':>10}")  # fmt: skip
        for r in rows:
            vs34 = ""
            peer = smpp34.get(r.config.window)
            if r.config.client == "msgbridge" and peer is not None and peer.rate:
                vs34 = f"{r.rate / peer.rate:.1f}x"
            ratio = f"{r.rate / base.rate:.1f}x" if base.rate else "-"
            print(f"{r.config.label:38} {fmt(r.rate):>10} {fmt(r.client_us, 1):>14} {fmt(r.sim_us, 1):>11} "
                  f"{ratio:>11} {vs34:>10}")  # fmt: skip
        ours = [r for r in rows if r.config.client == "msgbridge"]
        if not ours:
            continue
        if latency == 0:
            wide = [r for r in ours if r.config.window >= 100]
            best = max(wide or ours, key=lambda r: r.rate)
            peer = smpp34.get(best.config.window)
            print(f"target 0 ms: best msgbridge {fmt(best.rate)} msg/s ({best.config.label}), "
                  f"{best.client_us:.1f} µs client CPU/msg"
                  + (f", {best.rate / peer.rate:.1f}x smpp34 at window {best.config.window}" if peer else ""))  # fmt: skip
        else:
            for r in ours:
                if r.config.window == 100 and r.config.binds == 1:
                    ideal = r.config.window / (latency / 1000)
                    # smpplib stop-and-wait does one round trip per message: its rate is 1 / (real round trip)
                    measured = r.config.window * base.rate
                    print(f"target {latency:g} ms: {r.config.label}: {fmt(r.rate)} msg/s = "
                          f"{r.rate / ideal:.0%} of window/latency ({fmt(ideal)}), "
                          f"{r.rate / measured:.0%} of window x the measured round-trip rate ({fmt(measured)}), "
                          f"{r.rate / base.rate:.0f}x smpplib")  # fmt: skip


if __name__ == "__main__":
    main()
