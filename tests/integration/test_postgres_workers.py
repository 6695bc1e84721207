"""Several dispatcher processes share one PostgreSQL queue: every message is sent exactly once, none is lost.

Each worker is this file run as a script (``--worker DSN SCHEMA URL``): its
own process, its own store connections, its own transport. The parent queues
the campaign, starts the workers, lets them go when it chooses, then checks
what the peers received and what the store says.

- ``memory://`` workers journal what they accepted (and settle in-doubt
  messages by lookup, as a restarted worker does); two go at the same moment
  and a third once sending is under way; injected refusals send messages back
  to the queue mid-run, where any worker may take them next.
- SMPP workers bind to one simulator, one as a transmitter only, so every
  receipt for its messages reaches the other worker, often before the sender
  has recorded the result that names it.
- Two ``msgbridge campaign run`` commands on the same CSV and store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.base import OutboxEntry
from msgbridge.store.postgres import PostgresStore
from msgbridge.store.rows import trail_entries

CAMPAIGN = "shared"
START_TIMEOUT = 60.0
RUN_TIMEOUT = 90.0


async def worker(dsn: str, schema: str, url: str, batch: int | None, wait: float) -> None:
    """One worker process: open the shared store and a transport, wait for "go", run the campaign."""
    store = PostgresStore(dsn, schema=schema)
    async with store, open_transport(url) as transport:
        # Enough attempts that an injected refusal never turns into a FAILED message.
        dispatcher = Dispatcher(
            store,
            transport,
            concurrency=3,
            batch_size=batch,
            max_attempts=100,
            backoff=Backoff(base=0.01, cap=0.05),
        )
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        stats = await dispatcher.run(CAMPAIGN, wait_receipts=wait)
    print(
        json.dumps(
            {
                "submitted": stats.submitted,
                "failed": stats.failed,
                "retried": stats.retried,
                "in_doubt": stats.in_doubt,
                "receipts": stats.receipts,
                "receipts_matched": stats.receipts_matched,
                "settled": stats.settled_sent + stats.settled_unsent,
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


class Workers:
    """Worker processes on one schema: started ready (connected, waiting), let go one by one."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(
        self, urls: Sequence[str], batch: int | None = None, wait: float = RUN_TIMEOUT / 2
    ) -> None:
        """One worker per URL; ``batch`` fixes the claim size, ``wait`` is how long to wait for receipts."""
        for url in urls:
            self.procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--worker",
                    self.dsn,
                    self.schema,
                    url,
                    "--wait",
                    str(wait),
                    *(["--batch", str(batch)] if batch else []),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
            )
        for proc in self.procs:
            assert proc.stdout is not None and proc.stderr is not None
            line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
            if line.strip() != b"ready":
                err = await asyncio.wait_for(proc.stderr.read(), START_TIMEOUT)
                raise AssertionError(f"worker did not start: {line!r} {err.decode(errors='replace')}")

    async def go(self, *which: int) -> None:
        for i in which:
            stdin = self.procs[i].stdin
            assert stdin is not None
            stdin.write(b"go\n")
            await stdin.drain()

    async def reports(self) -> list[dict[str, Any]]:
        """Wait for every worker to finish; each one's counters."""
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in self.procs)), RUN_TIMEOUT)
        out: list[dict[str, Any]] = []
        for proc, (stdout, stderr) in zip(self.procs, outputs, strict=True):
            assert proc.returncode == 0, stderr.decode(errors="replace")
            out.append(json.loads(stdout.decode().splitlines()[-1]))
        return out


@asynccontextmanager
async def shared_queue(dsn: str, messages: int) -> AsyncIterator[tuple[PostgresStore, Workers, list[str]]]:
    """A campaign of ``messages`` queued in a fresh schema; the workers are killed and the schema dropped after."""
    schema = f"w_{uuid.uuid4().hex[:12]}"
    workers = Workers(dsn, schema)
    try:
        async with PostgresStore(dsn, schema=schema) as store:
            queued = await store.enqueue(entries(messages))
            assert len(set(queued)) == messages
            yield store, workers, queued
    finally:
        for proc in workers.procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def one_send_result_each(store: PostgresStore, messages: int) -> None:
    """The store's own history agrees with the peers: one send result recorded per message.

    Counted by note, not status: a receipt that overtakes its send result leaves the result's
    history entry saying DELIVERED.
    """
    rows = [
        (r["id"], sum(note == "result" for _, _, note in trail_entries(r["trail"], r["created_at"])))
        for r in await store.pool.fetch("SELECT id, trail, created_at FROM messages")
    ]
    rows = [(message_id, n) for message_id, n in rows if n]
    assert len(rows) == messages and all(n == 1 for _, n in rows)


# -- memory:// workers -----------------------------------------------------

MESSAGES = 3000
JOIN_AFTER = MESSAGES // 5  # the last worker starts once the others have sent this many
OUTCOMES = {S.DELIVERED, S.UNDELIVERABLE, S.EXPIRED}
# Small batches and a little latency per send() so the run lasts long enough for all workers to take part;
# every 13th message a worker is handed is refused as retryable (at most 15 times per worker).
MEMORY = (
    "memory://?journal={journal}&max_batch=20&latency_ms=3&dlr_delay_ms=5&seed={seed}"
    "&mix=delivered:0.8,undeliverable:0.1,expired:0.1&fail_every=13&fail_times=15&retry_after=0.02"
)


async def test_three_worker_processes_one_joining_late_send_each_message_once(
    pg_dsn: str, tmp_path: Path
) -> None:
    journals = [tmp_path / f"worker{i}.jsonl" for i in range(3)]
    async with shared_queue(pg_dsn, MESSAGES) as (store, workers, queued):
        await workers.start([MEMORY.format(journal=j, seed=i) for i, j in enumerate(journals)])
        # Two workers go at the same moment; the third joins a campaign already under way, as a worker
        # started later would: what the others have claimed and not answered yet is not its to settle.
        await workers.go(0, 1)
        deadline = time.monotonic() + RUN_TIMEOUT
        while sum(len(journal_ids(j)) for j in journals[:2]) < JOIN_AFTER:
            assert time.monotonic() < deadline, "the first workers made no progress"
            await asyncio.sleep(0.005)
        await workers.go(2)
        reports = await workers.reports()

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
        # The late worker found the others' claims in flight and left them alone: nothing was left in doubt.
        assert [r["settled"] for r in reports] == [0, 0, 0]

        counts = await store.counts(CAMPAIGN)
        assert sum(counts.values()) == MESSAGES
        assert set(counts) <= OUTCOMES, counts  # all final, from the transport's outcome mix
        await one_send_result_each(store, MESSAGES)


# -- SMPP workers, receipts crossing between them --------------------------

SMPP_MESSAGES = 600


async def test_smpp_senders_and_a_receipt_collector_in_other_processes(pg_dsn: str) -> None:
    """Two processes send through transmitter-only binds; this one binds, sends nothing, records every receipt.

    Each receipt reaches the store through a process that did not send its
    message, often before the sender has recorded the result that names it:
    the store parks it and matches it when the result arrives.
    """
    smsc = SmscSimulator(users={"u": "p"}, dlr_delay_ms=5, latency_ms=20, seed=3)
    async with smsc.serve("127.0.0.1", 0), shared_queue(pg_dsn, SMPP_MESSAGES) as (store, workers, _):
        url = f"smpp://u:p@127.0.0.1:{smsc.port}?window=10&receipt_park=0"
        async with open_transport(f"{url}&mode=trx") as receiver:  # sends nothing
            collector = Dispatcher(store, receiver)
            await workers.start([f"{url}&mode=tx"] * 2, batch=100, wait=0)
            await workers.go(0, 1)
            deadline = time.monotonic() + RUN_TIMEOUT
            while await store.counts(CAMPAIGN) != {S.DELIVERED: SMPP_MESSAGES}:
                assert time.monotonic() < deadline, await store.counts(CAMPAIGN)
                await collector.collect_receipts(timeout=0.1, until_final=False)
            await collector.stop_receipts()
            senders = await workers.reports()

        texts = Counter(s.short_message.decode() for s in smsc.submitted)
        assert len(texts) == SMPP_MESSAGES and max(texts.values()) == 1  # each sent once, none lost
        assert all(r["submitted"] > 0 for r in senders), senders
        assert sum(r["submitted"] for r in senders) == SMPP_MESSAGES
        assert collector.stats.receipts == SMPP_MESSAGES
        await one_send_result_each(store, SMPP_MESSAGES)
        # A sender records results once per 100 messages (a few hundred ms at this latency), so most
        # receipts came first: parked, then matched by the sender's result.
        assert await store.pool.fetchval("SELECT COUNT(*) FROM receipts WHERE matched") > 0


# -- the command line --------------------------------------------------------

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
            # 3: when one worker ends, the other's PDUs in flight count as in doubt for the campaign
            assert proc.returncode in (0, 3), err.decode(errors="replace")
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one worker of a shared-queue test")
    parser.add_argument("--worker", action="store_true", required=True)
    parser.add_argument("dsn")
    parser.add_argument("schema")
    parser.add_argument("url", help="transport URL")
    parser.add_argument("--batch", type=int, default=None, help="messages per claim (default: adaptive)")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to wait for receipts")
    args = parser.parse_args()
    asyncio.run(worker(args.dsn, args.schema, args.url, args.batch, args.wait))
