"""Runs one script of ``benchmarks/`` as a user would, for the smoke tests that check it still runs.

The smoke tests use tiny sizes: they check a benchmark runs and prints what it says it prints, never a
speed (timed figures are the benchmarks' own business, each against a baseline of its own run).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(script: str, *args: str, timeout: float = 120) -> str:
    """What ``benchmarks/<script>`` printed; fails the calling test with the end of its stderr if it failed."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    return out.stdout
