"""What the running service asks of the store beyond a campaign's: cancel a campaign, page the inbox,
and (PostgreSQL) be woken when another process queues. Run against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import InboundMessage, Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.base import OutboxEntry, Store
from msgbridge.store.sqlite import SqliteStore

LINK = "smpp://smsc.example:2775"


async def drop_schema(dsn: str, schema: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def entries(n: int, campaign: str = "c1") -> list[OutboxEntry]:
    return [
        OutboxEntry(
            Message(to=f"+7701{i:07d}", text=f"hi {i}", campaign=campaign), f"{campaign}:+7701{i:07d}"
        )
        for i in range(n)
    ]


def inbound(i: int, received_at: float) -> InboundMessage:
    return InboundMessage(
        id=f"i{i}",
        source=f"+7702{i:07d}",
        destination="ACME",
        text=f"reply {i}",
        link=LINK,
        received_at=received_at,
    )


# -- cancel ------------------------------------------------------------------------


async def status_of(store: Store, message_id: str) -> S:
    record = await store.get(message_id)
    assert record is not None
    return record.status


async def test_cancel_takes_the_queued_and_leaves_what_is_claimed_or_in_doubt(
    stores: Callable[[], Store],
) -> None:
    async with stores() as a, stores() as b:
        ids = await a.enqueue(entries(7))
        other = await a.enqueue(entries(2, campaign="c2"))
        [mine] = await a.claim(1, campaign="c1")  # claimed here, not written yet
        [theirs] = await b.claim(1, campaign="c1")  # claimed by another live store
        [doubt] = await a.claim(1, campaign="c1")
        await a.mark_in_doubt([doubt.message.id])  # may be on the wire
        [retry] = await a.claim(1, campaign="c1")
        await a.requeue([retry.message.id], not_before=4e9, error=ErrorInfo(code=ErrorCode.THROTTLED))
        [answered] = await a.claim(1, campaign="c1")
        await a.record_results(
            [SendResult(message_id=answered.message.id, status=S.SUBMITTED, native_id="n1")], link=LINK
        )
        claimed = {mine.message.id, theirs.message.id, doubt.message.id, answered.message.id}
        queued = [i for i in ids if i not in claimed]
        assert retry.message.id in queued and len(queued) == 3

        assert await a.cancel("c1") == 3
        for message_id in queued:
            record = await a.get(message_id)
            assert record is not None and record.status is S.CANCELED
            assert record.history[-1][1:] == (S.CANCELED, "canceled")
        assert [await status_of(a, i) for i in (mine.message.id, theirs.message.id)] == [S.QUEUED, S.QUEUED]
        assert await status_of(a, doubt.message.id) is S.MAYBE_SUBMITTED
        assert await status_of(a, answered.message.id) is S.SUBMITTED
        assert {await status_of(a, i) for i in other} == {S.QUEUED}  # another campaign: untouched
        # Final: never claimed again, not even as a due retry, and a second cancel finds nothing left.
        assert await a.claim(10, campaign="c1", now=5e9) == []
        assert await a.cancel("c1") == 0
        assert await a.counts("c1") == {S.CANCELED: 3, S.QUEUED: 2, S.MAYBE_SUBMITTED: 1, S.SUBMITTED: 1}
        # What this store had claimed and gives back is queued again, so a later cancel takes it.
        await a.release([mine.message.id])
        assert await a.cancel("c1") == 1


async def test_cancel_takes_what_a_store_that_has_gone_had_claimed(stores: Callable[[], Store]) -> None:
    async with stores() as a:
        await a.enqueue(entries(3))
        async with stores() as b:
            assert len(await b.claim(2, campaign="c1")) == 2
        # b closed without an answer: its claims were never written, so they are anyone's queue again.
        assert await a.cancel("c1") == 3
        assert await a.counts("c1") == {S.CANCELED: 3}


async def test_cancel_of_an_unknown_campaign_changes_nothing(stores: Callable[[], Store]) -> None:
    async with stores() as a:
        await a.enqueue(entries(2))
        assert await a.cancel("nope") == 0
        assert await a.counts("c1") == {S.QUEUED: 2}


# -- the inbox, page by page -------------------------------------------------------------


async def test_inbound_pages_run_in_the_order_stored_and_go_on_after_the_last(
    stores: Callable[[], Store],
) -> None:
    async with stores() as a:
        # received_at out of step with the order they are stored in: the cursor follows storage.
        await a.add_inbound([inbound(0, 300.0), inbound(1, 100.0)])
        await a.add_inbound([inbound(2, 200.0)])
        first = await a.inbound_page(None, 2)
        assert [m.id for _, m in first] == ["i0", "i1"]
        assert first[0][0] < first[1][0]
        await a.add_inbound([inbound(3, 50.0), inbound(0, 999.0)])  # i0 again: kept once, not renumbered
        rest = await a.inbound_page(first[-1][0], 10)
        assert [m.id for _, m in rest] == ["i2", "i3"]
        assert rest[0][1] == inbound(2, 200.0)
        assert await a.inbound_page(rest[-1][0], 10) == []
        whole = await a.inbound_page(None, 100)
        assert [m.id for _, m in whole] == ["i0", "i1", "i2", "i3"]
        assert whole[0][1].received_at == 300.0
        cursors = [n for n, _ in whole]
        assert cursors == sorted(set(cursors))


async def test_an_inbox_is_paged_the_same_from_another_store(stores: Callable[[], Store]) -> None:
    async with stores() as a, stores() as b:
        await a.add_inbound([inbound(i, 1000.0 + i) for i in range(5)])
        page = await b.inbound_page(None, 3)
        assert [m.id for _, m in page] == ["i0", "i1", "i2"]
        assert [m.id for _, m in await b.inbound_page(page[-1][0], 3)] == ["i3", "i4"]


async def test_sqlite_has_no_wake_ups(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "w.db") as store:
        with pytest.raises(NotImplementedError, match="poll"):
            store.watch()


# -- a service's claims: by origin, however much it has sent ---------------------------------------


async def claim_steps(tmp_path: Path, sent: int) -> int:
    """SQLite VM steps of one origin claim of 10 fresh messages, with ``sent`` sent ones before them."""
    async with SqliteStore(tmp_path / f"origin-{sent}.db", checkpoint_interval=0) as store:

        def api(start: int, n: int) -> list[OutboxEntry]:
            return [
                OutboxEntry(Message(to=f"+7701{i:07d}", text="hi"), f"api:sms:id:{i}")
                for i in range(start, start + n)
            ]

        await store.enqueue(api(0, sent))
        claimed = await store.claim(sent, origin="api:sms:")
        await store.record_results(
            [
                SendResult(message_id=r.message.id, status=S.SUBMITTED, native_id=f"n{i}")
                for i, r in enumerate(claimed)
            ],
            link=LINK,
        )
        await store.enqueue(api(sent, 10))
        steps = 0

        def step() -> int:
            nonlocal steps
            steps += 1
            return 0

        store.db.set_progress_handler(step, 1)
        try:
            assert len(await store.claim(10, origin="api:sms:")) == 10
        finally:
            store.db.set_progress_handler(None, 1)
        return steps


async def test_an_origin_claim_reads_the_queue_not_everything_the_origin_sent(tmp_path: Path) -> None:
    """A long-running service claims by its key prefix: what it has sent already must not be read again."""
    few, many = await claim_steps(tmp_path, 100), await claim_steps(tmp_path, 3000)
    assert many < few * 1.5, (few, many)
