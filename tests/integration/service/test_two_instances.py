"""Two ``msgbridge serve`` processes on one PostgreSQL database, one SMSC: they share the outbox, match
each other's receipts, and when one is killed the other takes over what it had claimed, sending nothing
twice.

Both are started as a user starts them (one ``msgbridge.toml``, ``--listen 127.0.0.1:0``) on a database
of their own in the throwaway PostgreSQL, and both bind the SMSC simulator this test runs under one
system_id, so the simulator hands a receipt to either of them (round robin, or whichever is bound). Its
record of every submit_sm is what says whether anything was sent twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from msgbridge.core.status import DeliveryStatus as S
from msgbridge.demo.serve import ServeProcess, write_config
from msgbridge.service.apikeys import create_key
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.postgres import PostgresStore

USERS = {"u": "p"}
BATCH = 500


class Instance:
    """One ``serve`` process and an HTTP client with a key for it."""

    def __init__(self, config: Path, key: str) -> None:
        self.serve = ServeProcess(config)
        self.http = httpx.AsyncClient(
            base_url=self.serve.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )

    async def accept(self, start: int, count: int) -> list[str]:
        """+7701<start..start+count> accepted here, in batches; the ids the 202s gave."""
        ids: list[str] = []
        for first in range(start, start + count, BATCH):
            batch = [
                {"to": f"+7701{i:07d}", "text": f"two instances {i}", "reference": f"r{i}"}
                for i in range(first, min(first + BATCH, start + count))
            ]
            answer = await self.http.post("/v1/messages", json={"messages": batch})
            assert answer.status_code == 202, answer.text
            ids += [m["id"] for m in answer.json()["messages"]]
        return ids

    async def health(self) -> dict[str, Any]:
        [transport] = (await self.http.get("/v1/transports")).json()["transports"]
        return {"sent": sum(transport["sent"].values()), "receipts_matched": transport["receipts_matched"]}

    async def drain(self) -> None:
        await self.http.aclose()
        assert await asyncio.to_thread(self.serve.stop) == 0

    def freeze(self) -> None:
        """SIGSTOP: the process runs no further, yet its PostgreSQL sessions (and advisory locks) stay, so
        what it holds can be read exactly before it is killed."""
        os.kill(self.serve.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: runs on from where :meth:`freeze` stopped it."""
        os.kill(self.serve.proc.pid, signal.SIGCONT)

    async def kill(self) -> None:
        self.serve.kill()
        await self.http.aclose()


@pytest.fixture
def database(pg_dsn: str) -> Iterator[str]:
    """A database of the test's own (``serve`` takes a DSN, not a schema); its DSN."""
    name = f"two_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield pg_dsn.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def started(tmp_path: Path, database: str) -> AsyncIterator[Callable[[SmscSimulator, str], Instance]]:
    """Starts instances on ``database`` bound to a simulator (the URL's options after ``?``)."""
    keys = tmp_path / "keys.toml"
    key = create_key(keys, "two")[1]
    made: list[Instance] = []

    def start(sim: SmscSimulator, query: str) -> Instance:
        config = write_config(
            tmp_path / "msgbridge.toml",
            store=database,
            transports={"sms": f"smpp://u:p@127.0.0.1:{sim.port}?{query}"},
            keys=str(keys),
            drain_timeout=5,
        )
        made.append(Instance(config, key))
        return made[-1]

    yield start
    for one in made:
        one.serve.kill()
        await one.http.aclose()


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Await ``check()`` until it is true; fail after ``within`` seconds (a bound, not a speed target)."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def submits(sim: SmscSimulator) -> Counter[str]:
    """submit_sm per destination, as the SMSC recorded them."""
    return Counter(s.destination for s in sim.submitted)


async def test_a_receipt_on_the_other_instance_is_matched_and_both_send(
    started: Callable[[SmscSimulator, str], Instance], database: str
) -> None:
    # Receipts come after A has gone: the SMSC keeps them for the next bind of the system_id, B's.
    sim = SmscSimulator(users=USERS, dlr_delay_ms=10_000, seed=5)
    async with sim.serve("127.0.0.1", 0), PostgresStore(database) as store:

        async def count_is(status: S, n: int) -> bool:
            return (await store.counts()).get(status, 0) == n

        a = await asyncio.to_thread(started, sim, "receipt_park=0.2")
        assert len(set(await a.accept(0, 300))) == 300
        await until(lambda: count_is(S.SUBMITTED, 300), 60, "A to send the 300")
        await a.drain()  # gone before any receipt came
        assert sim.stats.receipts_sent == 0

        b = await asyncio.to_thread(started, sim, "receipt_park=0.2")
        await until(lambda: count_is(S.DELIVERED, 300), 60, "A's receipts matched on B")
        assert await b.health() == {"sent": 0, "receipts_matched": 300}

        # Both up: what A accepts is sent by either, and every receipt finds its message.
        sim.dlr_delay_ms = 50
        a = await asyncio.to_thread(started, sim, "receipt_park=0.2")
        assert len(set(await a.accept(1000, 2000))) == 2000
        await until(lambda: count_is(S.DELIVERED, 2300), 90, "the 2,000 more delivered")
        health_a, health_b = await a.health(), await b.health()
        assert health_a["sent"] + health_b["sent"] == 2000
        assert health_b["sent"] > 0, "B never claimed what A accepted"
        # The SMSC hands receipts round robin to both binds: each matched some (a receipt that came before
        # its send result was recorded is matched by the store then, and counted by neither lane).
        assert health_a["receipts_matched"] > 0 and health_b["receipts_matched"] > 300
        assert set(submits(sim).values()) == {1} and len(submits(sim)) == 2300
        await a.drain()
        await b.drain()


async def claims(dsn: str) -> dict[str, int]:
    """QUEUED messages some store has claimed: message id -> the owner token."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id, claimed_by FROM messages WHERE status = 'QUEUED' AND claimed_by IS NOT NULL"
        )
    finally:
        await conn.close()
    return {r["id"]: r["claimed_by"] for r in rows}


async def live_owners(dsn: str) -> set[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT objid::text::int AS token FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
        )
    finally:
        await conn.close()
    return {r["token"] for r in rows}


async def test_killing_one_instance_mid_load_leaves_its_claims_to_the_other(
    started: Callable[[SmscSimulator, str], Instance], database: str
) -> None:
    # Slow answers keep A's window full when it is killed: claimed, written and in flight at once.
    sim = SmscSimulator(users=USERS, dlr_delay_ms=100, latency_ms=20, seed=9)
    total = 6000
    async with sim.serve("127.0.0.1", 0), PostgresStore(database) as store:
        query = "receipt_park=0.2&window=50"
        a = await asyncio.to_thread(started, sim, query)
        b = await asyncio.to_thread(started, sim, query)
        assert len(set(await a.accept(0, total))) == total

        async def a_third_delivered() -> bool:
            return (await store.counts()).get(S.DELIVERED, 0) >= total // 3

        await until(a_third_delivered, 120, "a third delivered")
        # Frozen first: a snapshot of a running A would count claims it marks in doubt right after. Between
        # two claim chunks A may hold nothing QUEUED; then it runs on a moment and is frozen again, until
        # both instances hold claims (so A's share is not empty whichever token turns out to be A's).
        for _ in range(100):
            a.freeze()
            owners_before = await live_owners(database)
            held = await claims(database)
            if len(set(held.values())) == 2:
                break
            a.thaw()
            await asyncio.sleep(0.02)
        await a.kill()

        async def a_seen_dead() -> bool:
            return len(await live_owners(database)) < len(owners_before)

        await until(a_seen_dead, 30, "PostgreSQL to end the killed instance's session")
        [a_token] = owners_before - await live_owners(database)
        left_queued = [m for m, token in held.items() if token == a_token]

        async def settled() -> bool:
            counts = await store.counts()
            return counts.get(S.QUEUED, 0) == 0 and counts.get(S.SUBMITTED, 0) == 0

        await until(settled, 180, "B to send everything A left queued")
        counts = await store.counts()
        # Nothing lost: each accepted message is delivered or, written by A and never answered, in doubt.
        assert set(counts) <= {S.DELIVERED, S.MAYBE_SUBMITTED}, counts
        assert sum(counts.values()) == total
        # What A had claimed and not written yet (QUEUED, its token) was sent by B, once.
        assert left_queued, "A held no claim when it was killed: the test proves nothing"
        for message_id in left_queued:
            record = await store.get(message_id)
            assert record is not None
            if record.status is S.DELIVERED:
                assert submits(sim)[record.message.to.lstrip("+")] == 1
        taken_over = [
            m for m in left_queued if (r := await store.get(m)) is not None and r.status is S.DELIVERED
        ]
        assert taken_over
        # Nothing sent twice outside MAYBE_SUBMITTED: a destination submitted twice was left in doubt.
        for destination, n in submits(sim).items():
            if n > 1:
                record = await store.find_by_reference(f"r{int(destination[-7:])}")
                assert record is not None and S.MAYBE_SUBMITTED in {h[1] for h in record.history}, destination
        assert (await b.health())["sent"] > 0
        await b.drain()
