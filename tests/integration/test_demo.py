"""``make demo`` runs ``python -m msgbridge.demo``: the SMPP path with a background simulator, end to end."""

from __future__ import annotations

import re
import subprocess
import sys


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "msgbridge.demo", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_smpp_demo_sends_every_recipient_and_stops_the_simulator() -> None:
    done = run_demo("--recipients", "400")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "SMSC simulator running in the background" in out
    assert "SMSC simulator stopped" in out
    total = re.search(r"total\s*│\s*([\d,]+)", out)
    assert total is not None and total.group(1) == "400"
    # The simulator saw every submit once and every receipt was acknowledged.
    counters = dict(re.findall(r"(\w+)=([\d.]+)", out.split("simulator counters", 1)[1]))
    assert counters["submit_sm"] == "400"
    assert counters["deliver_sm_resp"] == "400"
    assert "***@127.0.0.1" in out and "demo-pw" not in out


def test_memory_demo_runs_without_sockets() -> None:
    done = run_demo("--via", "memory", "--recipients", "50")
    assert done.returncode == 0, done.stderr
    assert re.search(r"total\s*│\s*50\b", done.stdout)
