"""``make serve-demo`` runs ``python -m msgbridge.demo --serve``: serve, an API key, a campaign over HTTP."""

from __future__ import annotations

import re
import subprocess
import sys


def test_serve_demo_posts_a_campaign_and_reads_its_summary_back_over_http() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "msgbridge.demo", "--serve", "--recipients", "200"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert re.search(r"msgbridge serve\s+-> listening on http://127\.0\.0\.1:\d+", out)
    assert "POST /v1/campaigns -> 202: 200 queued, 0 skipped" in out
    assert re.search(r"GET /v1/campaigns/demo -> 200 of 200 final after", out)
    counts = dict(re.findall(r"^  ([A-Z_]+)\s+([\d,]+)$", out, re.MULTILINE))
    assert sum(int(n) for n in counts.values()) == 200 and int(counts["DELIVERED"]) > 100
    assert set(counts) <= {"DELIVERED", "UNDELIVERABLE", "EXPIRED"}  # the simulator's mix: every one final
    assert re.search(r"^  total\s+200$", out, re.MULTILINE)
    assert re.search(r"sent 200, receipts matched \d+", out)
    assert "stopped on SIGTERM (exit 0)" in out
    # The simulator saw each message once and had each receipt answered; no secret reached the screen.
    counters = dict(re.findall(r"(\w+)=([\d.]+)", out.split("simulator counters", 1)[1]))
    assert counters["submit_sm"] == "200" and counters["deliver_sm_resp"] == "200"
    assert "demo-pw" not in out and not re.search(r"mbk_\S{12,}", out)
