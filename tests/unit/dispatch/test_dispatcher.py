from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from msgbridge.adapters.base import ReceiptPush, StatusPolling, open_transport
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.core.errors import AuthError, ErrorCode, TransportError
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

FAST = Backoff(base=0.001, cap=0.01, jitter=False)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "d.db") as s:
        yield s


async def fill(store: SqliteStore, n: int, campaign: str = "c", text: str = "hello") -> list[str]:
    entries = []
    for i in range(n):
        phone = f"+7701{i:07d}"
        ref = f"{campaign}:{phone}"
        msg = Message(to=phone, text=text, campaign=campaign, reference=ref)
        entries.append(OutboxEntry(message=msg, idempotency_key=ref, row=i + 2))
    return await store.enqueue(entries)


def memory(options: str) -> MemoryTransport:
    t = open_transport(f"memory://?{options}")
    assert isinstance(t, MemoryTransport)
    return t


async def test_campaign_end_to_end_in_batches(store: SqliteStore) -> None:
    await fill(store, 250)
    seen: list[int] = []
    async with memory("max_batch=50&dlr_delay_ms=1") as t:
        d = Dispatcher(store, t, backoff=FAST, progress=lambda s: seen.append(s.done))
        stats = await d.run("c", wait_receipts=10)
    assert stats.submitted == 250 and stats.failed == 0 and stats.retried == 0
    assert t.batch_sizes == [50] * 5
    assert len({m.id for m in t.accepted}) == 250
    assert await store.counts("c") == {S.DELIVERED: 250}
    assert seen and seen[-1] == 250


async def test_outcome_mix_reaches_the_store(store: SqliteStore) -> None:
    await fill(store, 300)
    async with memory("mix=delivered:0.6,undeliverable:0.2,expired:0.2&seed=7&dlr_delay_ms=1") as t:
        await Dispatcher(store, t).run("c", wait_receipts=10)
    counts = await store.counts("c")
    assert set(counts) == {S.DELIVERED, S.UNDELIVERABLE, S.EXPIRED}
    assert sum(counts.values()) == 300
    assert 120 < counts[S.DELIVERED] < 240  # 60 % of 300, loosely


async def test_retryable_refusals_are_retried_and_sent_once(store: SqliteStore) -> None:
    await fill(store, 40)
    async with memory("fail_every=3&fail_code=THROTTLED&fail_times=6&retry_after=0.001&max_batch=10") as t:
        stats = await Dispatcher(store, t, backoff=FAST).run("c", wait_receipts=10)
    assert stats.retried == 6 and stats.errors == {"THROTTLED": 6}
    assert Counter(m.to for m in t.accepted) == Counter(f"+7701{i:07d}" for i in range(40))
    assert await store.counts("c") == {S.DELIVERED: 40}
    # the retried ones remember why they were late and how many attempts they took
    attempts = Counter([(await store.get(m.id)).attempts for m in t.accepted])  # type: ignore[union-attr]
    assert attempts == {1: 34, 2: 6}


async def test_permanent_refusal_is_recorded_not_retried(store: SqliteStore) -> None:
    ids = await fill(store, 5)
    async with memory("fail=%2B77010000002") as t:
        stats = await Dispatcher(store, t, backoff=FAST).run("c", wait_receipts=10)
    assert stats.failed == 1 and stats.retried == 0
    rec = await store.get(ids[2])
    assert rec is not None and rec.status is S.REJECTED
    assert rec.last_error is not None and rec.last_error.code is ErrorCode.INVALID_DESTINATION


async def test_retries_give_up_after_max_attempts(store: SqliteStore) -> None:
    ids = await fill(store, 1)
    async with memory("fail_every=1&fail_code=QUEUE_FULL") as t:
        stats = await Dispatcher(store, t, backoff=FAST, max_attempts=3).run("c")
    assert len(t.sent) == 3 and stats.retried == 2 and stats.failed == 1
    rec = await store.get(ids[0])
    assert rec is not None and rec.status is S.FAILED and rec.attempts == 3
    assert rec.last_error is not None and rec.last_error.code is ErrorCode.QUEUE_FULL


async def test_transport_down_then_up(store: SqliteStore) -> None:
    await fill(store, 20)
    async with memory("down_times=2&max_batch=20") as t:
        stats = await Dispatcher(store, t, backoff=FAST, concurrency=1).run("c", wait_receipts=10)
    assert stats.errors == {"NETWORK_ERROR": 40} and stats.submitted == 20
    assert len(t.accepted) == 20
    assert await store.counts("c") == {S.DELIVERED: 20}


async def test_lost_answers_stay_in_doubt_then_settle_by_lookup(store: SqliteStore, tmp_path: Path) -> None:
    journal = tmp_path / "j.log"
    ids = await fill(store, 12)
    async with memory(f"lost_every=4&journal={journal}&dlr_delay_ms=1") as t:
        stats = await Dispatcher(store, t).run("c", wait_receipts=10)
        assert stats.in_doubt == 3
    assert await store.counts("c") == {S.DELIVERED: 9, S.MAYBE_SUBMITTED: 3}
    # a re-run asks the peer (the journal) instead of resending
    async with memory(f"journal={journal}&dlr_delay_ms=1") as t2:
        stats2 = await Dispatcher(store, t2).run("c", wait_receipts=0)
        assert stats2.settled_sent == 3 and stats2.settled_unsent == 0 and t2.sent == []
    counts = await store.counts("c")
    # their receipts were parked while the native id was unknown; settling matched them
    assert counts == {S.DELIVERED: 12}
    rec = await store.get(ids[3])
    assert rec is not None and rec.native_id is not None


async def test_in_doubt_without_lookup_is_left_unless_resend(store: SqliteStore) -> None:
    await fill(store, 4)
    async with memory("lost_every=2&dlr_delay_ms=1") as t:
        await Dispatcher(store, t).run("c", wait_receipts=10)
    assert (await store.counts("c"))[S.MAYBE_SUBMITTED] == 2
    async with memory("") as t2:
        stats = await Dispatcher(store, t2).run("c")
        assert t2.sent == [] and stats.settled_sent == 0
    async with memory("dlr_delay_ms=1") as t3:
        stats = await Dispatcher(store, t3).run("c", wait_receipts=10, include_maybe=True)
        assert stats.resent_maybe == 2 and len(t3.sent) == 2
    assert (await store.counts("c"))[S.DELIVERED] == 4


def kill(owner: SqliteStore) -> None:
    """What a SIGKILL leaves: the owner's row and claims stay, its lease is over."""
    owner.db.execute("UPDATE owners SET lease_until = 0 WHERE token = ?", (owner.token,))


async def test_settle_requeues_what_the_peer_never_saw(store: SqliteStore, tmp_path: Path) -> None:
    journal = tmp_path / "j.log"
    await fill(store, 5)
    async with SqliteStore(store.path) as dead:
        # marked in doubt for writing, then the process died before the requests left
        await dead.mark_in_doubt([r.message.id for r in await dead.claim(5, campaign="c")])
        kill(dead)
    async with memory(f"journal={journal}&dlr_delay_ms=1") as t:
        stats = await Dispatcher(store, t).run("c", wait_receipts=10)
    assert stats.settled_unsent == 5 and len(t.sent) == 5
    assert await store.counts("c") == {S.DELIVERED: 5}


class Exploding(MemoryTransport):
    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        raise RuntimeError("bug in the middle of a send")


async def test_exception_mid_send_leaves_messages_in_doubt(store: SqliteStore) -> None:
    await fill(store, 3)
    t = Exploding.from_url("memory://")
    with pytest.raises(RuntimeError):
        await Dispatcher(store, t, concurrency=1).send_pending("c")
    assert await store.counts("c") == {S.MAYBE_SUBMITTED: 3}


class Refused(MemoryTransport):
    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        raise AuthError("bad password")


async def test_auth_failure_stops_the_run_and_requeues(store: SqliteStore) -> None:
    await fill(store, 30)
    t = Refused.from_url("memory://?max_batch=10")
    with pytest.raises(AuthError):
        await Dispatcher(store, t, concurrency=1).send_pending("c")
    assert await store.counts("c") == {S.QUEUED: 30}
    # given back unowned: the campaign's next run (and only a runner for it) picks them up
    assert store.db.execute("SELECT COUNT(*) FROM messages WHERE claimed_by IS NOT NULL").fetchone() == (0,)


async def test_auth_failure_of_a_one_off_send_fails_the_message(store: SqliteStore) -> None:
    ids = await fill(store, 3)
    t = Refused.from_url("memory://")
    with pytest.raises(AuthError):
        await Dispatcher(store, t, concurrency=1).send_pending(None, message_ids=ids[:1])
    rec = await store.get(ids[0])
    # the command reported a failure: the message says so, and no later process sends it
    assert rec is not None and rec.status is S.FAILED
    assert rec.last_error is not None and rec.last_error.code is ErrorCode.AUTH_FAILED
    assert await store.counts("c") == {S.FAILED: 1, S.QUEUED: 2}


class StopsAfterOneSend(MemoryTransport):
    """Asks its dispatcher to stop while its first send is in flight, as a SIGINT would."""

    dispatcher: Dispatcher | None = None

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        if self.dispatcher is not None:
            self.dispatcher.request_stop()
        return await super().send(messages)


async def test_a_stop_gives_back_what_was_claimed_and_never_written(store: SqliteStore) -> None:
    await fill(store, 40)
    t = StopsAfterOneSend.from_url("memory://?max_batch=5")
    assert isinstance(t, StopsAfterOneSend)
    async with t:
        d = t.dispatcher = Dispatcher(store, t, concurrency=1, batch_size=20)
        stats = await d.send_pending("c")
    counts = await store.counts("c")
    assert stats.interrupted and stats.released == 15  # the rest of the chunk; 20 were never claimed
    assert counts.get(S.MAYBE_SUBMITTED, 0) == 0  # nothing written was left unanswered
    assert counts[S.SUBMITTED] == len(t.sent) < 40
    assert counts[S.QUEUED] == 40 - len(t.sent)
    assert store.db.execute("SELECT COUNT(*) FROM messages WHERE claimed_by IS NOT NULL").fetchone() == (0,)
    assert all(r.attempts == 0 for r in [await store.get(i) for i in await queued_ids(store)] if r)


async def queued_ids(store: SqliteStore) -> list[str]:
    return [r[0] for r in store.db.execute("SELECT id FROM messages WHERE status = 'QUEUED'")]


async def test_message_ids_limit_what_is_sent(store: SqliteStore) -> None:
    ids = await fill(store, 10)
    async with memory("dlr_delay_ms=1") as t:
        await Dispatcher(store, t).run(None, wait_receipts=10, message_ids=ids[:2])
    assert [m.id for m in t.sent] == ids[:2]
    assert await store.counts("c") == {S.DELIVERED: 2, S.QUEUED: 8}


async def test_status_polling_when_nothing_is_pushed(store: SqliteStore) -> None:
    await fill(store, 20)
    async with memory("poll=yes&dlr_delay_ms=1") as t:
        assert not isinstance(t, ReceiptPush) and isinstance(t, StatusPolling) and t.capabilities.status_poll
        stats = await Dispatcher(store, t, poll_interval=0.01).run("c", wait_receipts=10)
    assert stats.receipts_matched >= 20
    assert await store.counts("c") == {S.DELIVERED: 20}


async def test_long_messages_aggregate_segment_receipts(store: SqliteStore) -> None:
    ids = await fill(store, 3, text="x" * 400)  # 3 GSM-7 segments
    async with memory("segment_ids=yes&dlr_delay_ms=1") as t:
        await Dispatcher(store, t).run("c", wait_receipts=10)
    rec = await store.get(ids[0])
    assert rec is not None and rec.segments == 3 and len(rec.native_ids) == 3
    assert await store.counts("c") == {S.DELIVERED: 3}


async def test_tps_bounds_the_claim_size(store: SqliteStore) -> None:
    t = memory("max_batch=1000")
    assert Dispatcher(store, t).claim_size == 500
    assert Dispatcher(store, t, tps=20).claim_size == 20
    assert Dispatcher(store, memory("max_batch=1")).send_size == 1
    one = Dispatcher(store, memory("max_batch=1"))
    assert one.claim_size == 10  # never a transaction per message
    one._adapt(10, 10.0)  # a slow peer: one second per message
    assert one.claim_size == 10
    one._adapt(100, 0.01)  # a fast one
    assert one.claim_size == 500
    fast = Dispatcher(store, t)
    fast._adapt(500, 5.0)  # 10 ms a message: 50 would be half a second, but a batch API keeps 100
    assert fast.claim_size == 100


async def test_settling_only_the_given_messages(store: SqliteStore, tmp_path: Path) -> None:
    journal = tmp_path / "j.log"
    ids = await fill(store, 3)
    async with memory(f"lost_every=1&journal={journal}") as t:
        await Dispatcher(store, t).run("c")
    assert await store.counts("c") == {S.MAYBE_SUBMITTED: 3}
    async with memory(f"journal={journal}") as t2:
        stats = await Dispatcher(store, t2).run(None, message_ids=ids[:1])
        assert stats.settled_sent == 1 and t2.sent == []
    assert await store.counts("c") == {S.SUBMITTED: 1, S.MAYBE_SUBMITTED: 2}


class BrokenReceipts(MemoryTransport):
    async def receipts(self) -> AsyncIterator[DeliveryReceipt]:
        async for r in super().receipts():
            yield r
            raise TransportError("link lost")


async def test_a_broken_receipt_stream_does_not_stop_sending(store: SqliteStore) -> None:
    await fill(store, 30)
    t = BrokenReceipts.from_url("memory://?dlr_delay_ms=1&max_batch=10")
    async with t:
        stats = await Dispatcher(store, t, concurrency=1).run("c", wait_receipts=0.5)
    assert stats.submitted == 30 and stats.receipts == 1
    counts = await store.counts("c")
    assert counts[S.DELIVERED] == 1 and counts[S.SUBMITTED] == 29


async def test_throttling_halves_the_rate_then_wins_it_back(store: SqliteStore) -> None:
    await fill(store, 60)
    async with memory("fail_every=7&fail_code=THROTTLED&fail_times=2&max_batch=10") as t:
        d = Dispatcher(store, t, tps=2000, batch_size=10, backoff=FAST)
        rates: list[float] = []
        d.progress = lambda _: rates.append(d.bucket.rate)  # type: ignore[union-attr]
        stats = await d.run("c")
    assert stats.slowed == 2 and stats.retried == 2
    assert min(rates) <= 1000 and max(rates) <= 2000
    assert d.bucket is not None and d.bucket.rate <= 2000
    assert Counter(m.to for m in t.accepted) == Counter(f"+7701{i:07d}" for i in range(60))


async def test_resend_maybe_leaves_a_live_runs_claims_alone(
    store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await fill(store, 6)
    async with SqliteStore(store.path) as live, SqliteStore(store.path) as gone:
        # a run that is still sending: 2 written and unanswered, 1 claimed and not written yet
        held = sorted(r.message.id for r in await live.claim(3, ids=ids[:3]))
        await live.mark_in_doubt(held[:2])
        # a run that was killed after writing one
        await gone.mark_in_doubt([r.message.id for r in await gone.claim(1, ids=ids[3:4])])
        kill(gone)
        async with memory("dlr=no") as t:
            stats = await Dispatcher(store, t).send_pending("c", include_maybe=True)
            sent = {m.id for m in t.sent}
        assert stats.resent_maybe == 1  # only what the killed run left
        assert sent == set(ids) - set(held)  # the live run's claims, written or not, are its own
        counts = await store.counts("c")
        assert counts == {S.SUBMITTED: 3, S.MAYBE_SUBMITTED: 2, S.QUEUED: 1}
    text = caplog.text
    assert "2 messages are in flight in another run that is still live" in text
    assert "earlier run" not in text


async def test_the_warning_about_doubt_tells_live_runs_from_gone_ones(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await fill(store, 4)
    async with SqliteStore(store.path) as live, SqliteStore(store.path) as gone:
        await live.mark_in_doubt([r.message.id for r in await live.claim(2, ids=ids[:2])])
        await gone.mark_in_doubt([r.message.id for r in await gone.claim(1, ids=ids[2:3])])
        kill(gone)
        async with memory("dlr=no") as t:
            await Dispatcher(store, t).send_pending("c")
    assert "2 messages are in flight in another run that is still live" in caplog.text
    assert "1 messages may have been sent by a run that ended" in caplog.text


async def test_fail_unsent_fails_only_what_was_never_written(store: SqliteStore) -> None:
    ids = await fill(store, 3)
    await store.mark_in_doubt([r.message.id for r in await store.claim(1, ids=ids[:1])])
    error = AuthError("bad password").info
    async with memory("dlr=no") as t:
        d = Dispatcher(store, t)
        await d.fail_unsent(ids[1:2], error, keep=True)  # a retryable failure of a named send: kept
        assert await store.counts("c") == {S.MAYBE_SUBMITTED: 1, S.QUEUED: 2}
        await d.fail_unsent(ids, error)
    assert await store.counts("c") == {S.MAYBE_SUBMITTED: 1, S.FAILED: 2}  # in doubt stays in doubt
