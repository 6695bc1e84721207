"""The PostgreSQL workers benchmark still runs (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

from benchmark_run import run_benchmark


def test_postgres_workers_benchmark_runs(pg_dsn: str) -> None:
    args = ["--dsn", pg_dsn, "--messages", "60", "--workers", "1,2", "--latency-ms", "0", "--repeat", "1"]
    lines = run_benchmark("postgres_workers.py", *args).strip().splitlines()
    assert lines[0].startswith("transport: memory://") and lines[1].startswith("workers")
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]
    assert all(line.rstrip().endswith("x") for line in lines[2:])
    assert lines[2].rstrip().endswith("1.0x")
