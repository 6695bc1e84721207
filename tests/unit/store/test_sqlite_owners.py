"""Claim owners in a SQLite file: leases, dead pids, other hosts, and files from before owners."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store import owners, sqlite
from msgbridge.store.base import DoubtCounts, OutboxEntry
from msgbridge.store.sqlite import SqliteStore


def entries(n: int) -> list[OutboxEntry]:
    return [
        OutboxEntry(message=Message(to=f"+7701{i:07d}", text="hi", campaign="c"), idempotency_key=f"c:{i}")
        for i in range(n)
    ]


def gone_pid() -> int:
    """A pid that no longer runs (a child that has exited and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def set_owner(path: Path, token: str, *, host: str, pid: int, lease_until: float) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE owners SET token = ?, host = ?, pid = ?, lease_until = ?", (token, host, pid, lease_until)
        )
        db.execute("UPDATE messages SET claimed_by = ? WHERE claimed_by IS NOT NULL", (token,))


async def held_elsewhere(path: Path, *, host: str, pid: int, lease_until: float) -> list[str]:
    """Another process claimed 3 of 5 messages and wrote 2 of them; its owner row is then rewritten."""
    async with SqliteStore(path) as first:
        await first.enqueue(entries(5))
        claimed = sorted(r.message.id for r in await first.claim(3))
        await first.mark_in_doubt(claimed[:2])
        # what a SIGKILL leaves behind: close() would have deleted the row
        first.db.execute("CREATE TABLE keep AS SELECT * FROM owners")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO owners SELECT * FROM keep")
    set_owner(path, "other:1:aa", host=host, pid=pid, lease_until=lease_until)
    return claimed


@pytest.mark.parametrize(
    ("why", "host", "alive"),
    [
        ("pid gone on this host", owners.HOST, False),
        ("lease over on another host", "elsewhere", False),
        ("lease running on another host", "elsewhere", True),
        ("pid running on this host", owners.HOST, True),
    ],
)
async def test_an_owner_is_live_by_its_lease_and_pid(
    tmp_path: Path, why: str, host: str, alive: bool
) -> None:
    path = tmp_path / "o.db"
    pid = gone_pid() if (host == owners.HOST and not alive) else 1  # pid 1 always runs
    lease = time.time() + 60 if (alive or host == owners.HOST) else time.time() - 1
    claimed = await held_elsewhere(path, host=host, pid=pid, lease_until=lease)
    async with SqliteStore(path) as store:
        counts = await store.doubt_counts("c")
        got = sorted(r.message.id for r in await store.claim(10))
        doubt = sorted(r.message.id for r in await store.in_doubt(10))
    if alive:
        assert counts == DoubtCounts(left=0, held=2), why
        assert len(got) == 2 and not set(got) & set(claimed), why  # only the two nobody claimed
        assert doubt == [], why
    else:
        assert counts == DoubtCounts(left=2, held=0), why
        assert claimed[2] in got and len(got) == 3, why  # claimed, never written: queued, not in doubt
        assert doubt == claimed[:2], why


async def test_the_lease_is_renewed_while_the_store_is_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "RENEW_EVERY", 0.01)
    async with SqliteStore(tmp_path / "r.db") as store:
        await store.enqueue(entries(1))
        await store.claim(1)
        store.db.execute("UPDATE owners SET lease_until = 0")
        deadline = time.monotonic() + 20
        while store.db.execute("SELECT lease_until FROM owners").fetchone()[0] < time.time():
            assert time.monotonic() < deadline, "lease never renewed"
            await asyncio.sleep(0.01)
    with sqlite3.connect(tmp_path / "r.db") as db:  # closed on purpose: the owner is gone
        assert db.execute("SELECT COUNT(*) FROM owners").fetchone() == (0,)


OLD_SCHEMA = """
CREATE TABLE messages (
    id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, campaign TEXT, reference TEXT, row INTEGER,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, native_id TEXT, native_ids TEXT, link TEXT,
    segments INTEGER NOT NULL DEFAULT 1, error_code TEXT, error_native_code TEXT, error_text TEXT,
    error_retry_after REAL, next_attempt_at REAL NOT NULL DEFAULT 0, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, trail TEXT
);
CREATE TABLE bodies (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
"""


async def test_a_file_from_before_claim_owners_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = [
        Message(to="+77010000001", text="a", campaign="c"),
        Message(to="+77010000002", text="b", campaign="c"),
    ]
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        for m, status in zip(old, ("MAYBE_SUBMITTED", "QUEUED"), strict=True):
            db.execute(
                "INSERT INTO messages (id, idempotency_key, campaign, status, created_at, updated_at) "
                "VALUES (?, ?, 'c', ?, 1, 1)",
                (m.id, f"c:{m.to}", status),
            )
            db.execute("INSERT INTO bodies VALUES (?, ?)", (m.id, m.model_dump_json()))
    async with SqliteStore(path) as store:
        # the in-doubt message has no owner: left behind by an earlier run
        assert await store.doubt_counts("c") == DoubtCounts(left=1, held=0)
        assert [r.message.id for r in await store.in_doubt(10)] == [old[0].id]
        assert [r.message.id for r in await store.claim(10)] == [old[1].id]
        assert await store.counts("c") == {S.MAYBE_SUBMITTED: 1, S.QUEUED: 1}
