"""A weighted route over a real campaign: 10,000 messages through ``campaign run --via route:split`` land on
the two transports within 2 % of the weights (70/30), counted from what the store recorded per link."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from msgbridge.cli.main import cli

CONFIG = """
[transports]
big = "memory://big?dlr=no"
small = "memory://small?dlr=no"

[[routes]]
name = "split"
transports = ["big", "small"]
strategy = "weighted"
weights = [70, 30]
"""


def test_a_weighted_route_splits_a_campaign_within_two_percent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("MSGBRIDGE_")]:
        monkeypatch.delenv(key)
    (tmp_path / "msgbridge.toml").write_text(CONFIG, encoding="utf-8")
    rows = "\n".join(f"+7701{i:07d}" for i in range(10_000))
    (tmp_path / "people.csv").write_text(f"phone\n{rows}\n", encoding="utf-8")
    run = CliRunner().invoke(
        cli,
        ["--config", "msgbridge.toml", "--store", "sqlite:///store.db", "campaign", "run", "--via", "route:split",
         "--csv", "people.csv", "--template", "Your code is 1234", "--name", "split", "--json"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["queued"] == 10_000
    with sqlite3.connect(tmp_path / "store.db") as c:
        by_link = dict(
            c.execute(
                "SELECT w.text, COUNT(*) FROM messages m JOIN words w ON w.id = m.link_id "
                "WHERE m.status = 'SUBMITTED' GROUP BY w.text"
            ).fetchall()
        )
    assert sum(by_link.values()) == 10_000
    share = by_link["memory://big"] / 10_000
    assert 0.68 <= share <= 0.72, by_link
