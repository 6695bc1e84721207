"""benchmarks/webhooks.py still runs (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_benchmark_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "webhooks.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("config") and len(lines) == 4
    assert all(line.rstrip().endswith("x") for line in lines[1:3]) and "drained in" in lines[3]
