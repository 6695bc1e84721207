"""The simulator benchmark still runs end to end (tiny sizes; the numbers themselves are not checked)."""

from __future__ import annotations

from benchmark_run import run_benchmark


def test_benchmark_runs_and_prints_its_table() -> None:
    lines = run_benchmark("smsc_simulator.py", "--messages", "2000", "--quick").splitlines()
    assert any(line.startswith("config") and "vs baseline" in line for line in lines)
    rows = [line for line in lines if line.startswith("sim ")]
    assert len(rows) == 4  # stop-and-wait, window 10, window 100, window 100 with receipts
    assert rows[0].rstrip().endswith("1.0x")
