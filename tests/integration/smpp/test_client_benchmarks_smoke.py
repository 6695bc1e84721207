"""Smoke runs of the SMPP benchmarks with tiny sizes, so the scripts do not rot (numbers are not checked)."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark_run import ROOT, run_benchmark


def test_campaign_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    out = run_benchmark("smpp_campaign.py", "--count", "300", "--db-dir", str(tmp_path), "--dlr-delay-ms", "10")
    assert "receipts 300, matched 300" in out
    assert "300/300 DELIVERED" in out


def test_codec_cost_comparison_runs() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import smpp_throughput
    finally:
        sys.path.pop(0)
    costs = smpp_throughput.codec_costs(50)
    assert costs["smpplib_pdu_us"] > 0 and costs["msgbridge_codec_us"] > 0
