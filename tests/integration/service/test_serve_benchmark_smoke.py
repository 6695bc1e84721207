"""benchmarks/serve_http.py still runs end to end (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import re

import pytest
from benchmark_run import run_benchmark


@pytest.mark.slow  # 10 s; `make test-slow`
def test_serve_benchmark_runs_and_prints_its_ratios() -> None:
    lines = run_benchmark("serve_http.py", "--quick", timeout=300).strip().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["config", "(a)", "(b)", "(a,", "(c)"]
    for line in (lines[1], lines[2], lines[4]):
        assert re.search(r": \d+\.\d\dx; target .* (met|MISSED): \d+\.\d\dx", line), line
    # Every message the CLI baseline sent was delivered: the comparison is of two complete runs.
    found = re.search(r"\(([\d,]+) messages, ([\d,]+) DELIVERED\)", lines[4])
    assert found is not None and found.group(1) == found.group(2)
