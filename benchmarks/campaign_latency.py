"""A campaign against an SMSC that answers every submit_sm after 20 ms: does the dispatcher keep the window full?

    python benchmarks/campaign_latency.py                    # 20,000 messages, window=100, one bind, 20 ms
    python benchmarks/campaign_latency.py --count 5000       # smoke run

With ``window`` PDUs in flight and ``latency`` per answer, no client can do
better than ``window / latency`` messages per second (5,000 msg/s at window
100 and 20 ms). This prints what a ``msgbridge campaign run`` (its own
process: CSV, store, dispatcher, smpp://) reaches as a fraction of that bound,
and, measured against the same simulator in the same run, what the transport
alone reaches (two ``send()`` calls in flight, no store). The campaign's rate
is its send phase (``dispatch.send_seconds`` of ``--json``): first claim to
the last answer recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from smpp_campaign import transport_alone, write_recipients  # beside this file

from msgbridge.simulators.smsc.process import SimulatorProcess

TARGET = 0.90  # of window / latency


def children_cpu() -> float:
    """User + system CPU seconds of the children waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def campaign(port: int, window: int, count: int, workdir: Path) -> tuple[dict[str, object], float]:
    """``msgbridge campaign run`` of ``count`` recipients as a subprocess: its ``--json`` report, and the
    CPU seconds the whole process took (start-up, preparation and sending)."""
    csv_path = workdir / "recipients.csv"
    write_recipients(csv_path, count)
    cmd = [
        sys.executable, "-m", "msgbridge", "--store", str(workdir / "campaign.db"), "campaign", "run",
        "--via", f"smpp://u:p@127.0.0.1:{port}?window={window}&binds=1", "--csv", str(csv_path),
        "--template", "Hello {name}", "--from", "Shop", "--json", "--quiet",
    ]  # fmt: skip
    cpu = children_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    cpu = children_cpu() - cpu
    if out.returncode != 0:
        raise RuntimeError(f"campaign run exited {out.returncode}:\n{out.stderr[-2000:]}")
    report: dict[str, object] = json.loads(out.stdout)
    return report, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    bound = args.window / (args.latency_ms / 1000.0)
    sim = SimulatorProcess("--users", "u:p", "--latency-ms", str(args.latency_ms), "--no-record", "--uvloop")
    try:
        alone, alone_us = asyncio.run(transport_alone(sim.port, args.window, 1, args.count))
        with tempfile.TemporaryDirectory() as tmp:
            report, cpu = campaign(sim.port, args.window, args.count, Path(tmp))
    finally:
        sim.stop(signal.SIGTERM)
    dispatch = report["dispatch"]
    assert isinstance(dispatch, dict)
    accepted = int(dispatch["submitted"])
    rate = accepted / float(dispatch["send_seconds"])
    print(f"window {args.window}, latency {args.latency_ms:g} ms, one bind: bound {bound:,.0f} msg/s")
    print(f"transport alone     {alone:8,.0f} msg/s  {alone / bound:5.1%} of window/latency  "
          f"(client CPU {alone_us:.0f} µs a message)")  # fmt: skip
    print(f"campaign run        {rate:8,.0f} msg/s  {rate / bound:5.1%} of window/latency "
          f"({accepted:,}/{args.count:,} accepted in {float(dispatch['send_seconds']):.2f} s)")  # fmt: skip
    print(f"campaign / transport alone: {rate / alone:.2f}")
    print(f"campaign process CPU {cpu * 1e6 / args.count:.0f} µs a message, everything included "
          f"(start-up, CSV, preparation, sending, receipts): {cpu:.2f} s")  # fmt: skip
    verdict = "met" if rate / bound >= TARGET and accepted == args.count else "MISSED"
    print(f"target {TARGET:.0%} of window/latency: {verdict}")


if __name__ == "__main__":
    main()
