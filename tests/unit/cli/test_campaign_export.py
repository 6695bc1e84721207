"""``msgbridge campaign export``: the command over the store a ``campaign run`` left (rows: tests/unit/store/test_store_export.py)."""

from __future__ import annotations

import csv
from pathlib import Path

from msgbridge.cli.export import HEADER


def test_the_command_writes_the_file_and_refuses_an_unknown_campaign(msgbridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = lambda args: msgbridge(*args)  # noqa: E731
    (tmp_path / "c.csv").write_text("phone,name\n+77010000001,Ann\n+77010000002,Bob\n", encoding="utf-8")
    sent = run(["campaign", "run", "--via", "memory://", "--csv", str(tmp_path / "c.csv"), "--template", "Hi {name}",
                "--name", "c", "--quiet"])  # fmt: skip
    assert sent.code == 0, sent.err
    out = tmp_path / "out.csv"
    r = run(["campaign", "export", "c", "--csv", str(out)])
    assert r.code == 0 and "2 rows written" in r.err
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert tuple(rows[0]) == HEADER
    assert [(row[0], row[1], row[4]) for row in rows[1:]] == [("2", "+77010000001", "SUBMITTED"),
                                                              ("3", "+77010000002", "SUBMITTED")]  # fmt: skip
    stdout = run(["campaign", "export", "c", "--status", "failed"])
    assert stdout.code == 0 and stdout.out.splitlines() == [",".join(HEADER)]
    missing = run(["campaign", "export", "nope"])
    assert missing.code == 2 and "no campaign named 'nope'" in missing.err
    bad = run(["campaign", "export", "c", "--status", "sent"])
    assert bad.code == 2 and "not a delivery status" in bad.err
