"""benchmarks/campaign_plan.py still runs, and its plan is what the real run records (a smoke test at a
small size, not a measurement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_plans_what_the_run_records() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "campaign_plan.py"), "--rows", "3000", "--rounds", "1",
         "--against-run"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    printed = out.stdout.strip().splitlines()
    assert "rows/s" in printed[1] and "x the baseline's time" in printed[2], out.stdout
    assert " 0 differ in segments, transport or price; recorded totals equal the plan's" in printed[3], out.stdout
