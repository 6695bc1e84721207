"""Three dispatcher processes share one PostgreSQL queue: every message is sent exactly once, none is lost.

Each worker is this file run as a script (``--worker``): its own process, its
own store connections, its own ``memory://`` transport journaling what it
accepted (so it can also settle in-doubt messages by lookup, as a restarted
worker does). The parent queues the campaign, lets two workers go at the same
moment and a third once sending is under way, then reads the three journals
and the store. Injected refusals make messages go back to the queue mid-run,
where any worker may take them next.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.store.base import OutboxEntry
from msgbridge.store.postgres import PostgresStore

WORKERS = 3
MESSAGES = 3000
JOIN_AFTER = MESSAGES // 5  # the last worker starts once the others have sent this many
CAMPAIGN = "shared"
OUTCOMES = {S.DELIVERED, S.UNDELIVERABLE, S.EXPIRED}
# Small batches and a little latency per send() so the run lasts long enough for all workers to take part;
# every 13th message a worker is handed is refused as retryable (at most 15 times per worker).
TRANSPORT = (
    "memory://?journal={journal}&max_batch=20&latency_ms=3&dlr_delay_ms=5&seed={seed}"
    "&mix=delivered:0.8,undeliverable:0.1,expired:0.1&fail_every=13&fail_times=15&retry_after=0.02"
)
START_TIMEOUT = 60.0
RUN_TIMEOUT = 90.0


async def worker(dsn: str, schema: str, journal: str, seed: int) -> None:
    """One worker process: open the shared store and a transport, wait for "go", run the campaign."""
    store = PostgresStore(dsn, schema=schema)
    async with store, open_transport(TRANSPORT.format(journal=journal, seed=seed)) as transport:
        # Enough attempts that an injected refusal never turns into a FAILED message.
        dispatcher = Dispatcher(
            store, transport, concurrency=3, max_attempts=100, backoff=Backoff(base=0.01, cap=0.05)
        )
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        stats = await dispatcher.run(CAMPAIGN, wait_receipts=RUN_TIMEOUT / 2)
    print(
        json.dumps(
            {
                "submitted": stats.submitted,
                "failed": stats.failed,
                "retried": stats.retried,
                "in_doubt": stats.in_doubt,
                "receipts_matched": stats.receipts_matched,
            }
        ),
        flush=True,
    )


def entries(n: int) -> list[OutboxEntry]:
    out = []
    for i in range(n):
        phone = f"+7701{i:07d}"
        msg = Message(to=phone, text=f"hello {i}", campaign=CAMPAIGN, reference=f"{CAMPAIGN}:{phone}")
        out.append(OutboxEntry(message=msg, idempotency_key=f"{CAMPAIGN}:{phone}", row=i + 2))
    return out


def journal_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    # A line being written while we read is not complete yet: count only whole lines.
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    return [json.loads(line)["id"] for line in lines if line]


async def go(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()


async def test_three_worker_processes_one_joining_late_send_each_message_once(
    pg_dsn: str, tmp_path: Path
) -> None:
    schema = f"w_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(pg_dsn, schema=schema)
    procs: list[asyncio.subprocess.Process] = []
    try:
        async with store:
            queued = await store.enqueue(entries(MESSAGES))
            assert len(set(queued)) == MESSAGES

            journals = [tmp_path / f"worker{i}.jsonl" for i in range(WORKERS)]
            for i, journal in enumerate(journals):
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        __file__,
                        "--worker",
                        pg_dsn,
                        schema,
                        str(journal),
                        str(i + 1),
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.PIPE,
                    )
                )
            for proc in procs:
                assert proc.stdout is not None
                line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
                if line.strip() != b"ready":
                    assert proc.stderr is not None
                    err = await asyncio.wait_for(proc.stderr.read(), START_TIMEOUT)
                    raise AssertionError(f"worker did not start: {line!r} {err.decode(errors='replace')}")
            # Two workers go at the same moment; the third joins a campaign already under way, as a worker
            # started later would: what the others have claimed and not answered yet is not its to settle.
            for proc in procs[:-1]:
                await go(proc)
            deadline = time.monotonic() + RUN_TIMEOUT
            while sum(len(journal_ids(j)) for j in journals[:-1]) < JOIN_AFTER:
                assert time.monotonic() < deadline, "the first workers made no progress"
                await asyncio.sleep(0.005)
            await go(procs[-1])
            outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), RUN_TIMEOUT)
            reports: list[dict[str, Any]] = []
            for proc, (out, err) in zip(procs, outputs, strict=True):
                assert proc.returncode == 0, err.decode(errors="replace")
                reports.append(json.loads(out.decode().splitlines()[-1]))

            accepted = [journal_ids(j) for j in journals]
            every = Counter(mid for ids in accepted for mid in ids)
            # Nothing accepted twice, by one worker or by two; nothing left unsent.
            assert [mid for mid, n in every.items() if n > 1] == []
            assert set(every) == set(queued)
            # Each worker took part, and said it sent exactly what its transport journaled.
            assert all(len(ids) > 0 for ids in accepted), [len(ids) for ids in accepted]
            assert [r["submitted"] for r in reports] == [len(ids) for ids in accepted]
            assert sum(r["failed"] + r["in_doubt"] for r in reports) == 0
            assert sum(r["retried"] for r in reports) > 0  # the requeue path really ran

            counts = await store.counts(CAMPAIGN)
            assert sum(counts.values()) == MESSAGES
            assert set(counts) <= OUTCOMES, counts  # all final, from the transport's outcome mix
            # The store's own history agrees: one accepted send result per message.
            submitted = await store.pool.fetch(
                "SELECT message_id, COUNT(*) AS n FROM history WHERE status = $1 GROUP BY message_id",
                S.SUBMITTED.value,
            )
            assert len(submitted) == MESSAGES and all(r["n"] == 1 for r in submitted)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one worker of the shared-queue test")
    parser.add_argument("--worker", action="store_true", required=True)
    parser.add_argument("dsn")
    parser.add_argument("schema")
    parser.add_argument("journal")
    parser.add_argument("seed", type=int)
    args = parser.parse_args()
    asyncio.run(worker(args.dsn, args.schema, args.journal, args.seed))


CLI_ROWS = 1200


async def test_two_cli_campaign_runs_on_one_postgresql_store(pg_dsn: str, tmp_path: Path) -> None:
    """The documented way to add a worker: the same ``campaign run`` again, on another machine, same store."""
    database = f"cli_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    dsn = pg_dsn.rsplit("/", 1)[0] + f"/{database}"
    people = tmp_path / "people.csv"
    people.write_text("phone,name\n" + "".join(f"+7701{i:07d},P{i}\n" for i in range(CLI_ROWS)))
    journals = [tmp_path / f"cli{i}.jsonl" for i in range(2)]
    try:
        runs = [
            asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "msgbridge",
                "--store",
                dsn,
                "campaign",
                "run",
                "--via",
                f"memory://?journal={journal}&max_batch=20&dlr_delay_ms=5",
                "--csv",
                str(people),
                "--template",
                "Hello {name}",
                "--name",
                "spring",
                "--tps",
                "500",  # about 2.4 s alone: the two runs overlap even if one starts late
                "--wait-receipts",
                "30",
                "--json",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for journal in journals
        ]
        procs = await asyncio.gather(*runs)
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), RUN_TIMEOUT)
        reports = []
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err.decode(errors="replace")
            reports.append(json.loads(out))
        # Both read the whole CSV; each row went into the outbox once, whichever run put it there.
        assert sum(r["queued"] for r in reports) == CLI_ROWS
        assert all(r["queued"] + r["already_queued"] == CLI_ROWS for r in reports)
        accepted = [journal_ids(j) for j in journals]
        every = Counter(mid for ids in accepted for mid in ids)
        assert len(every) == CLI_ROWS and max(every.values()) == 1
        assert [r["dispatch"]["submitted"] for r in reports] == [len(ids) for ids in accepted]
        assert all(len(ids) > 0 for ids in accepted), [len(ids) for ids in accepted]
        async with PostgresStore(dsn) as store:
            assert await store.counts("spring") == {S.DELIVERED: CLI_ROWS}
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
