"""benchmarks/campaign_plan.py still runs, and its plan is what the real run records (a smoke test at a
small size, not a measurement)."""

from __future__ import annotations

from benchmark_run import run_benchmark


def test_the_benchmark_plans_what_the_run_records() -> None:
    out = run_benchmark("campaign_plan.py", "--rows", "3000", "--rounds", "1", "--against-run", timeout=300)
    printed = out.strip().splitlines()
    assert "rows/s" in printed[1] and "x the baseline's time" in printed[2], out
    assert " 0 differ in segments, transport or price; recorded totals equal the plan's" in printed[3], out
