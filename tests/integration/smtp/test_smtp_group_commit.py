"""Mails finishing DATA together share one store transaction, and each gets exactly its own ids."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from msgbridge.core.message import Message
from msgbridge.inbound.group_commit import GroupCommit
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[3]


def entries(tag: str, n: int) -> list[OutboxEntry]:
    return [
        OutboxEntry(Message(to=f"+7701123456{i}", text=tag), idempotency_key=f"{tag}:{i}") for i in range(n)
    ]


async def test_concurrent_mails_share_a_commit_and_get_their_own_ids(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        commit = GroupCommit(store)
        batches = [entries(f"mail{k}", k + 1) for k in range(5)]
        results = await asyncio.gather(*(commit.enqueue(b) for b in batches))
        assert commit.commits == 1
        for batch, ids in zip(batches, results, strict=True):
            assert ids == [e.message.id for e in batch]
            for i in ids:
                record = await store.get(i)
                assert record is not None and record.message.text == batch[0].message.text


async def test_a_failed_commit_fails_every_mail_in_it() -> None:
    class Failing:
        async def enqueue(self, rows: object) -> list[str]:
            raise OSError("disk full")

    commit = GroupCommit(Failing())  # type: ignore[arg-type]
    outcomes = await asyncio.gather(
        *(commit.enqueue(entries(f"m{k}", 1)) for k in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, OSError) for o in outcomes)


async def test_a_cancelled_waiter_does_not_cancel_the_commit(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        commit = GroupCommit(store)
        batch = entries("gone", 1)
        waiter = asyncio.create_task(commit.enqueue(batch))
        other = asyncio.create_task(commit.enqueue(entries("stays", 1)))
        await asyncio.sleep(0)
        waiter.cancel()
        await other
        assert await store.get(batch[0].message.id) is not None  # committed although its client left


@pytest.mark.timeout(120)
def test_benchmark_smoke() -> None:
    out = subprocess.run(
        [sys.executable, "benchmarks/smtp_gateway.py", "--mails", "12", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=True,
    ).stdout
    lines = [line for line in out.splitlines() if line.startswith(("no-op", "sqlite"))]
    assert len(lines) == 6
    assert all(line.rstrip().endswith("x") for line in lines)
