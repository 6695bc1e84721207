"""The simulator benchmark still runs end to end (tiny sizes; the numbers themselves are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "smsc_simulator.py"


def test_benchmark_runs_and_prints_its_table() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--messages", "2000", "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("config") and "vs baseline" in line for line in lines)
    rows = [line for line in lines if line.startswith("sim ")]
    assert len(rows) == 4  # stop-and-wait, window 10, window 100, window 100 with receipts
    assert rows[0].rstrip().endswith("1.0x")
