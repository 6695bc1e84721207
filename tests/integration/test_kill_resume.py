"""A campaign killed with SIGKILL midway and run again sends every recipient exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

RECIPIENTS = 300


def journal_lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by the kill
    return out


def test_sigkill_midway_then_rerun_sends_each_recipient_once(tmp_path: Path) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "phone,name\n" + "".join(f"+7701{i:07d},P{i}\n" for i in range(RECIPIENTS)), encoding="utf-8"
    )
    journal = tmp_path / "journal.log"
    store = tmp_path / "store.db"
    via = f"memory://?journal={journal}&latency_ms=40&max_batch=5&dlr_delay_ms=1"
    cmd = [
        sys.executable,
        "-m",
        "msgbridge",
        "--store",
        str(store),
        "campaign",
        "run",
        "--via",
        via,
        "--csv",
        str(csv_file),
        "--template",
        "Hello {name}",
        "--name",
        "kill-test",
        "--concurrency",
        "2",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen([*cmd, "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(journal_lines(journal)) < 40:
        assert first.poll() is None, f"campaign ended before it could be killed: {first.stderr.read()!r}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "no progress within 60 s"
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)  # also closes the pipe
    assert first.returncode == -signal.SIGKILL
    sent_before = len(journal_lines(journal))
    assert sent_before < RECIPIENTS, "the kill came too late to test anything"

    with sqlite3.connect(store) as db:
        in_flight = dict(db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall())
    assert sum(in_flight.values()) == RECIPIENTS  # everything was queued before sending began

    second = subprocess.run(
        [*cmd, "--json", "--wait-receipts", "1.5"], env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["queued"] == 0 and report["already_queued"] == RECIPIENTS
    dispatch = report["dispatch"]
    # whatever the first run had claimed was settled through the journal, not resent blindly
    assert dispatch["settled_sent"] + dispatch["settled_unsent"] == in_flight.get("MAYBE_SUBMITTED", 0)

    sends = Counter(str(entry["to"]) for entry in journal_lines(journal))
    assert sends == Counter(f"+7701{i:07d}" for i in range(RECIPIENTS))  # each exactly once
    counts = report["counts"]
    assert sum(counts.values()) == RECIPIENTS
    # sent by the killed run: its receipts died with it (SUBMITTED); sent now: DELIVERED
    assert set(counts) <= {"SUBMITTED", "DELIVERED"}
    assert counts.get("DELIVERED", 0) >= RECIPIENTS - sent_before
