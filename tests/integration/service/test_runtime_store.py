"""The runtime's store-backed calls: campaigns under its own keys, cancel, the inbox pages, PostgreSQL wake-ups."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from runtime_helpers import until

from msgbridge.adapters.memory import MemoryTransport
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.message import InboundMessage, Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.contract import CampaignSubmission
from msgbridge.service.runtime import Runtime
from msgbridge.store.base import OutboxEntry
from msgbridge.store.postgres import PostgresStore


async def test_a_campaign_started_here_is_keyed_for_its_lane_and_can_be_canceled(tmp_path: Path) -> None:
    # A slow peer, one message per request: most of the campaign is still queued when it is canceled.
    rt = Runtime(
        store=str(tmp_path / "rt.db"),
        transports={"slow": "memory://?latency_ms=200&max_batch=1"},
        concurrency=1,
    )
    async with rt:
        rows = [(i + 2, f"+7701000{i:04d}", {"name": f"n{i}"}, None) for i in range(200)]
        report = await rt.start_campaign(CampaignSubmission(name="promo", template="Hi {name}"), rows)
        assert report.queued == 200
        with pytest.raises(ConfigError):
            await rt.start_campaign(CampaignSubmission(name="promo", template="Hi {name}"), rows)
        with pytest.raises(ConfigError) as bad:
            await rt.start_campaign(
                CampaignSubmission(name="other", template="Hi", sender="far too long a sender"), rows
            )
        assert bad.value.code is ErrorCode.INVALID_SENDER and await rt.campaign("other") is None
        transport = rt.lanes["slow"].transport
        assert isinstance(transport, MemoryTransport)

        async def one_sent() -> bool:
            return len(transport.sent) >= 1

        await until(one_sent, what="the first message sent")
        # At most the chunk in hand (claimed: left alone) and what was sent escape the cancel.
        canceled = await rt.cancel_campaign("promo")
        assert 0 < canceled < 200
        view = await rt.campaign("promo")
        assert view is not None and view.total == 200 and view.transport == "slow"
        assert view.counts[DeliveryStatus.CANCELED] == canceled
        page = await rt.campaign_messages("promo", status=DeliveryStatus.CANCELED, limit=500)
        assert len(page) == canceled
        with pytest.raises(ConfigError):
            await rt.cancel_campaign("nope")
    # Nothing canceled was sent; the rest went through the lane that claims ``api:slow:``.
    async with Runtime(store=str(tmp_path / "rt.db"), transports={"slow": "memory://"}) as again:

        async def settled() -> bool:
            view = await again.campaign("promo")
            return view is not None and view.counts.get(DeliveryStatus.QUEUED, 0) == 0

        await until(settled, what="the rest of the campaign sent")
        view = await again.campaign("promo")
        assert view is not None
        assert view.counts[DeliveryStatus.CANCELED] == canceled
        # memory:// receipts end with its instance: what the first run sent last may stay SUBMITTED.
        assert set(view.counts) <= {
            DeliveryStatus.CANCELED,
            DeliveryStatus.DELIVERED,
            DeliveryStatus.SUBMITTED,
        }
        second = again.lanes["slow"].transport
        assert isinstance(second, MemoryTransport)
        sent = [m.id for m in transport.sent] + [m.id for m in second.sent]
        assert len(sent) == len(set(sent)) == 200 - canceled


async def test_the_inbox_pages_with_a_cursor(tmp_path: Path) -> None:
    async with Runtime(store=str(tmp_path / "rt.db"), transports={"m": "memory://"}) as rt:
        await rt.store.add_inbound(
            [InboundMessage(source=f"+7701000000{i}", destination="7000", text=f"t{i}") for i in range(5)]
        )
        first, cursor = await rt.inbox(limit=3)
        assert [m.text for m in first] == ["t0", "t1", "t2"] and cursor is not None
        rest, end = await rt.inbox(after=cursor, limit=3)
        assert [m.text for m in rest] == ["t3", "t4"] and end is None


@pytest.fixture
async def pg_schema(pg_dsn: str) -> AsyncIterator[str]:
    schema = f"rt_{uuid.uuid4().hex[:10]}"
    yield schema
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def test_on_postgresql_another_process_queueing_wakes_the_lane(pg_dsn: str, pg_schema: str) -> None:
    # idle=600: only the store's notification can make the lane look within the deadline.
    store = PostgresStore(pg_dsn, schema=pg_schema)
    async with Runtime(store=store, transports={"sms": "memory://"}, idle=600) as rt:
        assert await rt.wait_ready()
        async with PostgresStore(pg_dsn, schema=pg_schema) as other:
            message = Message(to="+77011234567", text="from elsewhere")
            [mid] = await other.enqueue([OutboxEntry(message, f"api:sms:id:{message.id}")])
            queued_at = time.monotonic()

            async def sent() -> bool:
                rec = await rt.message(mid)
                return rec is not None and rec.status is not DeliveryStatus.QUEUED

            await until(sent, seconds=30, what="claimed after the other process's commit")
        assert time.monotonic() - queued_at < 600


async def test_two_runtimes_on_one_postgresql_share_the_outbox_and_each_others_receipts(
    pg_dsn: str, pg_schema: str
) -> None:
    from runtime_helpers import USERS, sim_url

    from msgbridge.service.contract import Submission
    from msgbridge.simulators.smsc import SmscSimulator

    sim = SmscSimulator(users=USERS, dlr_delay_ms=50, seed=11)
    async with sim.serve("127.0.0.1", 0):
        url = sim_url(sim)
        a = Runtime(store=PostgresStore(pg_dsn, schema=pg_schema), transports={"sms": url})
        b = Runtime(store=PostgresStore(pg_dsn, schema=pg_schema), transports={"sms": url})
        async with a, b:
            assert await a.wait_ready() and await b.wait_ready()
            ids = [
                x.id
                for x in await a.accept([Submission(to=f"+7701100{i:04d}", text=f"a{i}") for i in range(150)])
            ]
            ids += [
                x.id
                for x in await b.accept([Submission(to=f"+7701200{i:04d}", text=f"b{i}") for i in range(150)])
            ]

            async def all_delivered() -> bool:
                return (await a.queue_depth()).get(DeliveryStatus.DELIVERED, 0) == 300

            await until(all_delivered, seconds=60, what="every message delivered")
            matched = [h.receipts_matched for h in (*a.health(), *b.health())]
    texts = [s.short_message for s in sim.submitted]
    assert len(texts) == len(set(texts)) == 300  # each sent once, by one of the two
    # The SMSC hands receipts to the binds in turn, whichever bind sent the message: both runtimes stored
    # receipts, and all 300 matched (those stored before their send result was are matched by it, later).
    assert min(matched) > 0 and sum(matched) <= 300
