"""benchmarks/webhooks.py still runs (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

from benchmark_run import run_benchmark


def test_benchmark_runs() -> None:
    lines = run_benchmark("webhooks.py", "--quick").strip().splitlines()
    assert lines[0].startswith("config") and len(lines) == 4
    assert all(line.rstrip().endswith("x") for line in lines[1:3]) and "drained in" in lines[3]
