"""The PostgreSQL workers benchmark still runs (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_postgres_workers_benchmark_runs(pg_dsn: str) -> None:
    args = ["--dsn", pg_dsn, "--messages", "60", "--workers", "1,2", "--latency-ms", "0", "--repeat", "1"]
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "postgres_workers.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("transport: memory://") and lines[1].startswith("workers")
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]
    assert all(line.rstrip().endswith("x") for line in lines[2:])
    assert lines[2].rstrip().endswith("1.0x")
