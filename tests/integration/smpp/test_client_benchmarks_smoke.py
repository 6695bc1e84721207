"""Smoke runs of the SMPP benchmarks with tiny sizes, so the scripts do not rot (numbers are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_campaign_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "smpp_campaign.py"), "--count", "300", "--db-dir", str(tmp_path),
         "--dlr-delay-ms", "10"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "receipts 300, matched 300" in out.stdout
    assert "300/300 DELIVERED" in out.stdout


def test_codec_cost_comparison_runs() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import smpp_throughput
    finally:
        sys.path.pop(0)
    costs = smpp_throughput.codec_costs(50)
    assert costs["smpplib_pdu_us"] > 0 and costs["msgbridge_codec_us"] > 0
