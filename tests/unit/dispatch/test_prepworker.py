"""Rows prepared in a child process (prepworker.py) come out exactly as rows prepared in the campaign's own.

Each file is run twice through ``run_campaign``, ``preparer="here"`` and ``preparer="child"``, into two
stores over the memory transport: the report (queued, skipped with their lines and reasons, repeats,
encodings, segments) and every stored message (key, text, CSV line, status) must be the same.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.core.errors import ConfigError
from msgbridge.core.phone import PhoneCheck
from msgbridge.dispatch.campaign import ENQUEUE_CHUNK
from msgbridge.dispatch.prepworker import MIN_BYTES, use_for
from msgbridge.dispatch.run import RunRequest, RunResult, run_campaign


def mixed(path: Path, rows: int) -> Path:
    """Good rows, bad phones, a stray quote, repeats within and across chunks, Cyrillic and long texts."""
    lines = ["phone,name"]
    for i in range(rows):
        if i % 97 == 5:
            lines.append(f"not-a-phone-{i},P{i}")
        elif i % 211 == 7:
            lines.append(f'+7701{i:07d},"open quote {i}')
        elif i % 101 == 3:
            lines.append(f"+7701{(i - 2):07d},again {i}")  # a repeat in the same chunk
        elif i % 1013 == 11:
            lines.append(f"+7701{(i - ENQUEUE_CHUNK - 11):07d},far {i}")  # a repeat a chunk or more back
        elif i % 50 == 9:
            lines.append(f"+7701{i:07d},Иван {i}")
        elif i % 77 == 1:
            lines.append(f"+7701{i:07d},{'long ' * 40}{i}")
        elif i % 301 == 2:
            lines.append(f"+7 (701) {i:07d},spaced {i}")
        else:
            lines.append(f"+7701{i:07d},P{i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def report_of(result: RunResult) -> dict[str, Any]:
    r = result.report
    return {
        "rows": r.rows,
        "queued": r.queued,
        "already": r.already,
        "skipped": r.skipped,
        "repeated": r.repeated,
        "segments": r.segments,
        "encodings": dict(r.encodings),
        "problems": [(p.line, p.phone, p.code, p.reason) for p in r.problems],
        "repeats": [(p.line, p.first_line, p.phone) for p in r.repeats],
        "done": r.done,
    }


def stored(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as c:
        return sorted(c.execute("SELECT key_rest, phone, template_id, text, csv_row, status FROM messages"))


async def run(tmp_path: Path, csv_file: Path, preparer: str, check: PhoneCheck, name: str) -> RunResult:
    request = RunRequest(
        name="mixed",
        template="Hello {name}, your number {phone}",
        csv_path=str(csv_file),
        transport_label="memory://",
        phone_check=check,
        preparer=preparer,
    )
    return await run_campaign(str(tmp_path / f"{name}.db"), open_transport("memory://"), request)


@pytest.mark.parametrize("check", [PhoneCheck.STRICT, PhoneCheck.POSSIBLE])
def test_a_child_prepares_what_the_campaign_process_would(tmp_path: Path, check: PhoneCheck) -> None:
    csv_file = mixed(tmp_path / "people.csv", 3 * ENQUEUE_CHUNK + 321)
    here = asyncio.run(run(tmp_path, csv_file, "here", check, "here"))
    child = asyncio.run(run(tmp_path, csv_file, "child", check, "child"))
    assert report_of(child) == report_of(here)
    assert here.report.skipped and here.report.repeated and len(here.report.encodings) == 2
    assert stored(tmp_path / "child.db") == stored(tmp_path / "here.db")
    assert child.counts == here.counts
    # A re-run through the child resumes: nothing is queued twice.
    again = asyncio.run(run(tmp_path, csv_file, "child", check, "child"))
    assert again.report.queued == 0 and again.report.already == here.report.queued


def test_a_file_that_breaks_midway_fails_the_same_way_in_a_child(tmp_path: Path) -> None:
    csv_file = tmp_path / "broken.csv"
    good = "".join(f"+7701{i:07d},P{i}\n" for i in range(2 * ENQUEUE_CHUNK + 10))
    csv_file.write_bytes(b"phone,name\n" + good.encode() + b"+77010000000,P\x00\n")
    errors = []
    for preparer in ("here", "child"):
        with pytest.raises(ConfigError) as exc:
            asyncio.run(run(tmp_path, csv_file, preparer, PhoneCheck.STRICT, preparer))
        errors.append(str(exc.value))
        # What was read before the bad line was queued, chunk by chunk, as it came.
        assert len(stored(tmp_path / f"{preparer}.db")) == 2 * ENQUEUE_CHUNK
    assert errors[0] == errors[1] and "NUL" in errors[0]


def test_only_a_large_file_goes_to_a_child(tmp_path: Path) -> None:
    small = mixed(tmp_path / "small.csv", 100)
    assert not use_for(str(small)) and not use_for(str(tmp_path / "missing.csv"))
    large = tmp_path / "large.csv"
    large.write_bytes(b"phone,name\n" + b"+77010000000,P\n" * (MIN_BYTES // 15 + 1))
    assert use_for(str(large))
    with pytest.raises(ConfigError, match="preparer must be"):
        asyncio.run(run(tmp_path, small, "elsewhere", PhoneCheck.STRICT, "bad"))


def test_leaving_early_ends_the_child_and_it_built_only_its_credit(tmp_path: Path) -> None:
    """A stop (or a parent that is gone) ends the child at its next chunk; nothing it built was written."""
    from msgbridge.dispatch.prepworker import CREDIT, PreparingProcess
    from msgbridge.dispatch.run import job

    csv_file = mixed(tmp_path / "people.csv", 20 * ENQUEUE_CHUNK)
    request = RunRequest(name="early", template="Hi {name}", csv_path=str(csv_file), transport_label=None)

    async def first_chunk() -> tuple[int, int | None]:
        async with PreparingProcess(job(request, ENQUEUE_CHUNK)) as child:
            proc = child._proc
            assert proc is not None
            async for count, built, _, _ in child.chunks():
                assert count == ENQUEUE_CHUNK and built
                break
        return proc.pid, proc.returncode

    pid, code = asyncio.run(first_chunk())
    assert code == 0, f"child {pid} did not end by itself when told to stop"
    assert CREDIT < 20
