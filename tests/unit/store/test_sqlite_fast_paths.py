"""The SQLite store's shortcuts give what the general paths give.

claim() builds records for messages this process wrote without reading their
bodies back, and status changes are appended to the message's own row instead
of a history table (which a file written earlier still has, and is read).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from pathlib import Path

from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.base import OutboxEntry
from msgbridge.store.rows import MessageRow, message_of
from msgbridge.store.sqlite import SqliteStore

LINK = "smpp://test"


def entry(i: int) -> OutboxEntry:
    msg = Message(to=f"+7701{i:07d}", text=f"hi {i}", campaign="c")
    return OutboxEntry(message=msg, idempotency_key=f"c:{msg.to}")


async def test_claimed_record_equals_the_general_one(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        await store.enqueue([entry(1)])
        (fast,) = await store.claim(10)
        async with SqliteStore(store.path) as other:  # nothing cached: the general path
            await other.requeue([fast.message.id], not_before=0.0, error=None)
            (slow,) = await other.claim(10)
    assert fast.message == slow.message
    assert (fast.status, fast.attempts, fast.native_id, fast.native_ids, fast.link, fast.segments) == (
        S.QUEUED,
        1,
        None,
        (),
        None,
        1,
    )
    assert (slow.status, slow.attempts, slow.last_error, slow.history) == (S.QUEUED, 2, None, ())


def test_claimed_keeps_every_column() -> None:
    msg = Message(to="+77010000001", text="x")
    err = ErrorInfo(code=ErrorCode.THROTTLED, native_code=88, native_message="slow down", retry_after=1.5)
    row = MessageRow(msg.id, "MAYBE_SUBMITTED", 3, "n2", '["n1", "n2"]', LINK, 2, "THROTTLED", "88",
                     "slow down", 1.5, 10.0, 11.0)  # fmt: skip
    rec = row.record(msg)  # the message this process wrote
    assert rec == row.record(message_of(msg.model_dump_json()))  # the body read back
    assert (rec.native_ids, rec.last_error, rec.created_at, rec.updated_at) == (("n1", "n2"), err, 10.0, 11.0)


async def test_result_and_parked_receipt_in_one_call_keep_both_history_entries(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        (mid,) = await store.enqueue([entry(1)])
        await store.claim(10)
        # The receipt comes first and is parked; the result then matches it inside record_results.
        assert (
            await store.record_receipts([DeliveryReceipt(native_id="77", status=S.DELIVERED, link=LINK)]) == 0
        )
        await store.record_results(
            [SendResult(message_id=mid, status=S.SUBMITTED, native_id="77")], link=LINK
        )
        rec = await store.get(mid)
    assert rec is not None
    assert [h[1] for h in rec.history] == [S.QUEUED, S.SUBMITTED, S.DELIVERED]
    assert rec.status is S.DELIVERED


async def test_two_results_for_one_message_in_one_call_are_both_kept_in_order(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        (mid,) = await store.enqueue([entry(1)])
        await store.claim(10)
        await store.record_results(
            [
                SendResult(message_id=mid, status=S.MAYBE_SUBMITTED),
                SendResult(message_id=mid, status=S.SUBMITTED, native_id="5"),
            ],
            link=LINK,
        )
        await store.requeue([mid, mid], not_before=0.0, error=None)  # not movable any more: no entry
        rec = await store.get(mid)
    assert rec is not None
    assert [h[1] for h in rec.history] == [S.QUEUED, S.MAYBE_SUBMITTED, S.SUBMITTED]


async def test_history_times_strictly_increase_between_calls(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        ids = await store.enqueue([entry(i) for i in range(3)])
        await store.claim(10)
        for _ in range(20):  # faster than the clock ticks on some systems
            await store.requeue(ids, not_before=0.0, error=None)
            await store.claim(10)
        rec = await store.get(ids[0])
    assert rec is not None
    times = [h[0] for h in rec.history[1:]]
    assert len(times) == 20 and times == sorted(times) and len(set(times)) == 20


async def test_background_checkpoint_copies_the_wal_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SqliteStore(path, checkpoint_interval=0.02) as store:
        checkpointer = store._checkpointer
        assert checkpointer is not None
        ids = await store.enqueue([entry(i) for i in range(50)])
        seen = checkpointer.count
        deadline = time.monotonic() + 10
        while checkpointer.count < seen + 2:  # one full round after the write committed
            assert time.monotonic() < deadline, "no background checkpoint ran"
            await asyncio.sleep(0.01)
        # The database file alone (no WAL beside it) already holds the messages: SQLite's own
        # checkpoint (at 10,000 pages) cannot have run for 50 of them.
        copy = tmp_path / "copy.db"
        shutil.copyfile(path, copy)
        db = sqlite3.connect(copy)
        try:
            assert db.execute("SELECT COUNT(*) FROM messages").fetchone() == (50,)
        finally:
            db.close()
        assert (await store.get(ids[0])) is not None
    assert not checkpointer._thread.is_alive()


async def test_no_background_checkpoint_when_turned_off(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db", checkpoint_interval=0) as store:
        assert store._checkpointer is None
        assert await store.enqueue([entry(1)])


async def test_a_file_from_before_the_trail_column_keeps_its_history(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    e = entry(1)
    mid, created = e.message.id, time.time()
    # What an earlier version left: no trail column, its status changes in ``history``.
    db = sqlite3.connect(path)
    db.executescript((Path(__file__).parent / "fixtures" / "v1_sqlite_schema.sql").read_text())
    db.execute("ALTER TABLE messages DROP COLUMN trail")
    db.execute(
        "INSERT INTO messages (id, idempotency_key, campaign, status, attempts, created_at, updated_at) "
        "VALUES (?, ?, 'c', 'MAYBE_SUBMITTED', 1, ?, ?)",
        (mid, e.idempotency_key, created, created),
    )
    db.execute("INSERT INTO bodies (id, body) VALUES (?, ?)", (mid, e.message.model_dump_json()))
    db.execute(
        "INSERT INTO history (message_id, at, seq, status, note) VALUES (?, ?, 0, 'MAYBE_SUBMITTED', 'old')",
        (mid, created + 0.001),
    )
    db.commit()
    db.close()
    async with SqliteStore(path) as store:
        await store.record_results([SendResult(message_id=mid, status=S.SUBMITTED, native_id="9")], link=LINK)
        await store.record_receipts([DeliveryReceipt(native_id="9", status=S.DELIVERED, link=LINK)])
        rec = await store.get(mid)
    assert rec is not None
    assert [(h[1], h[2]) for h in rec.history] == [
        (S.QUEUED, "enqueued"),
        (S.MAYBE_SUBMITTED, "old"),
        (S.SUBMITTED, "result"),
        (S.DELIVERED, "receipt DELIVERED"),
    ]


async def test_trail_notes_with_newlines_and_quotes_read_back(tmp_path: Path) -> None:
    err = ErrorInfo(code=ErrorCode.THROTTLED, native_code='0x58"', native_message='slow\ndown "now"')
    async with SqliteStore(tmp_path / "s.db") as store:
        (mid,) = await store.enqueue([entry(1)])
        await store.claim(10)
        await store.requeue([mid], not_before=0.0, error=err)
        rec = await store.get(mid)
    assert rec is not None
    assert [h[1] for h in rec.history] == [S.QUEUED, S.QUEUED]
    assert rec.history[1][2] == f"requeued: {err}" and "\n" in rec.history[1][2]
