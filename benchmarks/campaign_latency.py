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
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from smpp_campaign import transport_alone, write_recipients  # beside this file

from msgbridge.simulators.smsc.process import SimulatorProcess

TARGET = 0.90  # of window / latency


def campaign(port: int, window: int, count: int, workdir: Path) -> dict[str, object]:
    """``msgbridge campaign run`` of ``count`` recipients as a subprocess; its ``--json`` report."""
    csv_path = workdir / "recipients.csv"
    write_recipients(csv_path, count)
    cmd = [
        sys.executable, "-m", "msgbridge", "--store", str(workdir / "campaign.db"), "campaign", "run",
        "--via", f"smpp://u:p@127.0.0.1:{port}?window={window}&binds=1", "--csv", str(csv_path),
        "--template", "Hello {name}", "--from", "Shop", "--json", "--quiet",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"campaign run exited {out.returncode}:\n{out.stderr[-2000:]}")
    report: dict[str, object] = json.loads(out.stdout)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    bound = args.window / (args.latency_ms / 1000.0)
    sim = SimulatorProcess("--users", "u:p", "--latency-ms", str(args.latency_ms), "--no-record", "--uvloop")
    try:
        alone, _ = asyncio.run(transport_alone(sim.port, args.window, 1, args.count))
        with tempfile.TemporaryDirectory() as tmp:
            report = campaign(sim.port, args.window, args.count, Path(tmp))
    finally:
        sim.stop(signal.SIGTERM)
    dispatch = report["dispatch"]
    assert isinstance(dispatch, dict)
    accepted = int(dispatch["submitted"])
    rate = accepted / float(dispatch["send_seconds"])
    print(f"window {args.window}, latency {args.latency_ms:g} ms, one bind: bound {bound:,.0f} msg/s")
    print(f"transport alone     {alone:8,.0f} msg/s  {alone / bound:5.1%} of window/latency")
    print(f"campaign run        {rate:8,.0f} msg/s  {rate / bound:5.1%} of window/latency "
          f"({accepted:,}/{args.count:,} accepted in {float(dispatch['send_seconds']):.2f} s)")  # fmt: skip
    print(f"campaign / transport alone: {rate / alone:.2f}")
    verdict = "met" if rate / bound >= TARGET and accepted == args.count else "MISSED"
    print(f"target {TARGET:.0%} of window/latency: {verdict}")


if __name__ == "__main__":
    main()
