"""``campaign run`` streams: problems past the first chunk, --problems FILE, --strict's first pass, repeats."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from msgbridge.cli.outcome import ExitCode
from msgbridge.dispatch.campaign import ENQUEUE_CHUNK, KEEP_PROBLEMS


def people(path: Path, rows: int, *, bad_every: int = 0, repeat_of: dict[int, int] | None = None) -> Path:
    """``rows`` recipients (file line = index + 2); every ``bad_every``-th has an invalid phone."""
    lines = ["phone,name"]
    for i in range(rows):
        phone = f"+7701{(repeat_of or {}).get(i, i):07d}"
        if bad_every and i % bad_every == bad_every - 1:
            phone = "nope"
        lines.append(f"{phone},P{i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def queued(store: Path) -> int:
    with sqlite3.connect(store) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def test_problems_file_has_every_bad_row_the_report_the_first(msgbridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = 2 * KEEP_PROBLEMS + 500
    f = people(tmp_path / "p.csv", rows, bad_every=2)
    problems = tmp_path / "problems.csv"
    r = msgbridge(
        "campaign", "run", "--via", "memory://", "--csv", str(f), "--template", "Hi {name}",
        "--problems", str(problems), "--json",
    )  # fmt: skip
    assert r.code == ExitCode.SOME_REFUSED, r.err
    report = r.json()
    bad = rows // 2
    assert report["skipped_total"] == bad and report["queued"] == rows - bad
    assert len(report["skipped"]) == KEEP_PROBLEMS  # type: ignore[arg-type]
    with problems.open(encoding="utf-8", newline="") as fh:
        written = list(csv.DictReader(fh))
    assert [int(p["line"]) for p in written] == [i + 2 for i in range(rows) if i % 2 == 1]
    assert {p["kind"] for p in written} == {"skipped"} and {p["phone"] for p in written} == {"nope"}
    human = msgbridge(
        "campaign", "run", "--via", "memory://", "--csv", str(f), "--template", "Hi {name}", "--name", "again"
    )
    assert f"... and {bad - 10:,} more skipped rows (see --problems FILE)" in human.err


def test_strict_refuses_a_bad_row_after_the_first_chunk_before_anything_is_queued(
    msgbridge, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    rows = 3 * ENQUEUE_CHUNK
    f = people(tmp_path / "p.csv", rows, bad_every=rows)  # only the last row is bad
    r = msgbridge(
        "campaign", "run", "--via", "memory://", "--csv", str(f), "--template", "Hi {name}", "--strict"
    )
    assert r.code == ExitCode.BAD_INPUT
    assert f"not started: line {rows + 1}: invalid phone number 'nope'" in r.err
    assert queued(tmp_path / "msgbridge.db") == 0
    ok = msgbridge(
        "campaign", "run", "--via", "memory://", "--csv", str(people(tmp_path / "p.csv", rows)),
        "--template", "Hi {name}", "--strict", "--json",
    )  # fmt: skip
    assert ok.code == ExitCode.OK and ok.json()["queued"] == rows


def test_a_repeat_chunks_apart_is_a_repeat_and_stays_one_on_a_rerun(msgbridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = 3 * ENQUEUE_CHUNK
    last = rows - 1  # line rows + 1 repeats line 3 (index 1), two chunks away
    f = people(tmp_path / "p.csv", rows, repeat_of={last: 1, 5: 4})
    problems = tmp_path / "problems.csv"
    args = ("campaign", "run", "--via", "memory://", "--csv", str(f), "--template", "Hi {name}", "--json")
    first = msgbridge(*args, "--problems", str(problems))
    assert first.code == ExitCode.OK, first.err
    report = first.json()
    assert (report["queued"], report["already_queued"], report["repeated_total"]) == (rows - 2, 0, 2)
    assert report["repeated"] == [
        {"line": 7, "first_line": 6, "phone": "+77010000004"},  # within a chunk
        {"line": rows + 1, "first_line": 3, "phone": "+77010000001"},  # across chunks: the store's line
    ]
    with problems.open(encoding="utf-8", newline="") as fh:
        assert [(p["line"], p["kind"]) for p in csv.DictReader(fh)] == [
            ("7", "repeated"),
            (str(rows + 1), "repeated"),
        ]
    again = msgbridge(*args).json()
    assert (again["queued"], again["already_queued"], again["repeated_total"]) == (0, rows - 2, 2)
