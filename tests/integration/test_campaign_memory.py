"""A campaign's peak memory does not grow with its row count (``campaign run`` in a subprocess, over SMPP).

Runs benchmarks/campaign_scale.py: the CLI sends a CSV of N rows to the SMPP simulator (its own process)
and the campaign process's peak RSS is read from ``wait4``. Preparation streams and is paced to stay at
most ``dispatch.run.AHEAD`` messages ahead of the claims, so what the campaign itself holds is one chunk
and that backlog. Two layers below it keep fixed-size caches that fill with the first rows: SQLite's page
cache (``PRAGMA cache_size``, 16 MiB, full once the store file passes it, about 60,000 rows) and the SMPP
receipt index (``receipt_index`` ids, set small here: the simulator answers receipts within 10 ms). Both
are bounds that do not depend on the row count, so a run of 200,000 rows may add at most 30 MB to one of
20,000.
"""

from __future__ import annotations

import json

from benchmark_run import run_benchmark


# Two campaigns of 200,000 and more rows (40 s here, one core): in make test, as the property is what a
# million-recipient campaign relies on.
def test_peak_rss_of_a_campaign_does_not_grow_with_its_rows() -> None:
    out = run_benchmark(
        "campaign_scale.py", "--rows", "200000", "--small", "20000", "--no-prep", "--wait-receipts", "10",
        "--via-options", "&receipt_index=20000", "--json", timeout=400,
    )  # fmt: skip
    result = json.loads(out)
    small, large = result["small"], result["large"]
    assert small["all_delivered"] and large["all_delivered"], result
    assert large["rss_mb"] <= small["rss_mb"] + 30, result
