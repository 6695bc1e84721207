"""The routing benchmarks still run (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import pytest
from benchmark_run import run_benchmark


@pytest.mark.parametrize(
    ("script", "args", "lines", "word"),
    [
        ("routing_overhead.py", ["--count", "2000"], 5, "us/message"),
        ("route_rate_cap.py", ["--cap", "100", "--seconds", "1"], 2, "of the cap"),
    ],
)
def test_benchmark_runs(script: str, args: list[str], lines: int, word: str) -> None:
    out = run_benchmark(script, *args)
    printed = out.strip().splitlines()
    assert len(printed) == lines and all(word in line for line in printed), out
