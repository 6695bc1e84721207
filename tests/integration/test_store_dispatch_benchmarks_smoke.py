"""The store and dispatcher benchmarks still run (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import pytest
from benchmark_run import run_benchmark


@pytest.mark.parametrize(
    ("script", "args", "rows"),
    [
        (
            "store_throughput.py",
            ["--messages", "300", "--baseline", "30", "--batch", "100", "--repeat", "1"],
            2,
        ),
        ("dispatch_throughput.py", ["--messages", "200", "--baseline", "20", "--repeat", "1"], 2),
    ],
)
def test_benchmark_runs(script: str, args: list[str], rows: int) -> None:
    lines = run_benchmark(script, *args).strip().splitlines()
    assert lines[0].startswith("config") and len(lines) == rows + 1
    assert all(line.rstrip().endswith("x") for line in lines[1:])


def test_the_status_change_benchmark_runs() -> None:
    lines = run_benchmark("store_status_change.py", "--rows", "2000", "--rounds", "1").strip().splitlines()
    assert lines[0].startswith("2,000 messages") and len(lines) == 5
    assert "as the schema has it" in lines[1] and "without messages_open and messages_origin" in lines[2]
    assert "by row number n" in lines[3]
    assert all(line.rstrip().endswith("µs per status change") for line in lines[1:3])
