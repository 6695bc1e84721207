"""The routing benchmarks still run (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("script", "args", "lines", "word"),
    [
        ("routing_overhead.py", ["--count", "2000"], 5, "us/message"),
        ("route_rate_cap.py", ["--cap", "100", "--seconds", "1"], 2, "of the cap"),
    ],
)
def test_benchmark_runs(script: str, args: list[str], lines: int, word: str) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    printed = out.stdout.strip().splitlines()
    assert len(printed) == lines and all(word in line for line in printed), out.stdout
