"""The dispatcher against ``CallbackTransport``: each message's answer said exactly, in code.

``memory://`` injects faults by URL options and by counting; these tests name
the answer per message (by phone number) and check what the store ends with,
what the dispatcher counted, and which batches the transport was handed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from msgbridge.adapters.base import (
    InboundMessages,
    ProviderCampaigns,
    ReceiptPush,
    ReferenceLookup,
    StatusPolling,
    features,
)
from msgbridge.adapters.callback import CallbackTransport
from msgbridge.core.errors import AuthError, ErrorCode, ErrorInfo, TransportError
from msgbridge.core.message import Message, SendResult
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


def phone(i: int) -> str:
    return f"+7701{i:07d}"


async def fill(store: SqliteStore, n: int, campaign: str = "c") -> list[str]:
    entries = [
        OutboxEntry(
            message=Message(to=phone(i), text="hi", campaign=campaign, reference=f"{campaign}:{i}"),
            idempotency_key=f"{campaign}:{i}",
        )
        for i in range(n)
    ]
    return await store.enqueue(entries)


def accepted(m: Message) -> SendResult:
    return SendResult(message_id=m.id, status=S.SUBMITTED, native_id=f"n-{m.to}")


def refused(m: Message, code: ErrorCode, retry_after: float | None = None) -> SendResult:
    error = ErrorInfo(code=code, native_message=f"{code.value} for {m.to}", retry_after=retry_after)
    return SendResult(message_id=m.id, status=S.FAILED, error=error)


async def test_a_callback_transport_has_only_the_base_contract() -> None:
    t = CallbackTransport(accepted)
    for protocol in (StatusPolling, ReferenceLookup, ReceiptPush, InboundMessages, ProviderCampaigns):
        assert not isinstance(t, protocol)
    assert not any(features(t).values()) and not any(features(CallbackTransport).values())
    async with t:
        [result] = await t.send([Message(to=phone(1), text="x")])
    assert result.native_id == f"n-{phone(1)}" and t.closed


async def test_each_answer_ends_as_the_dispatcher_rules_say(store: SqliteStore) -> None:
    ids = await fill(store, 6)
    tries: dict[str, int] = {}

    def answer(m: Message) -> SendResult:
        tries[m.to] = tries.get(m.to, 0) + 1
        if m.to == phone(1):  # refused for good
            return replace(refused(m, ErrorCode.INVALID_DESTINATION), status=S.REJECTED)
        if m.to == phone(2) and tries[m.to] == 1:  # throttled once, then taken
            return refused(m, ErrorCode.THROTTLED)
        if m.to == phone(3):  # the answer was lost: it may have been sent
            error = ErrorInfo(code=ErrorCode.TIMEOUT, native_message="no answer")
            return SendResult(message_id=m.id, status=S.MAYBE_SUBMITTED, error=error)
        if m.to == phone(4):  # always retryable: gives up after max_attempts
            return refused(m, ErrorCode.TEMPORARY_FAILURE)
        return accepted(m)

    t = CallbackTransport(answer, max_batch=4)
    stats = await Dispatcher(store, t, concurrency=1, max_attempts=3, backoff=FAST).send_pending("c")
    records = {i: await store.get(i) for i in ids}
    status = {rec.message.to: rec.status for rec in records.values() if rec is not None}
    assert status == {
        phone(0): S.SUBMITTED,
        phone(1): S.REJECTED,
        phone(2): S.SUBMITTED,
        phone(3): S.MAYBE_SUBMITTED,
        phone(4): S.FAILED,
        phone(5): S.SUBMITTED,
    }
    assert tries == {phone(0): 1, phone(1): 1, phone(2): 2, phone(3): 1, phone(4): 3, phone(5): 1}
    assert (stats.submitted, stats.failed, stats.in_doubt, stats.retried) == (3, 2, 1, 3)
    assert stats.errors == {"INVALID_DESTINATION": 1, "THROTTLED": 1, "TIMEOUT": 1, "TEMPORARY_FAILURE": 3}
    assert [len(b) for b in t.batches[:2]] == [4, 2]  # max_batch per send() call, in claim order


async def test_a_wait_longer_than_allowed_ends_the_message_throttled(store: SqliteStore) -> None:
    [mid] = await fill(store, 1)
    t = CallbackTransport(lambda m: refused(m, ErrorCode.TEMPORARY_FAILURE, retry_after=999_999))
    await Dispatcher(store, t, max_retry_wait=60).send_pending("c")
    rec = await store.get(mid)
    assert rec is not None and rec.status is S.FAILED and rec.last_error is not None
    assert rec.last_error.code is ErrorCode.THROTTLED
    assert "longer than max_retry_wait=60 s: not retried" in (rec.last_error.native_message or "")
    assert len(t.batches) == 1


async def test_a_send_that_raises_a_network_error_is_sent_again(store: SqliteStore) -> None:
    await fill(store, 3)
    calls = 0

    async def answer(m: Message) -> SendResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TransportError("connection reset before the request was written")
        return accepted(m)

    t = CallbackTransport(answer)
    stats = await Dispatcher(store, t, concurrency=1, backoff=FAST).send_pending("c")
    assert await store.counts("c") == {S.SUBMITTED: 3}
    assert stats.retried == 3 and [len(b) for b in t.batches] == [3, 3]


async def test_refused_credentials_stop_the_run_with_nothing_marked_sent(store: SqliteStore) -> None:
    await fill(store, 5)

    def answer(m: Message) -> SendResult:
        raise AuthError("bad password")

    t = CallbackTransport(answer, max_batch=2)
    with pytest.raises(AuthError):
        await Dispatcher(store, t, concurrency=1).send_pending("c")
    assert await store.counts("c") == {S.QUEUED: 5} and len(t.batches) == 1


async def test_without_lookup_what_is_in_doubt_stays_so(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    await fill(store, 2)
    lost = CallbackTransport(
        lambda m: SendResult(
            message_id=m.id, status=S.MAYBE_SUBMITTED, error=ErrorInfo(code=ErrorCode.TIMEOUT)
        )
    )
    await Dispatcher(store, lost).send_pending("c")
    assert await store.counts("c") == {S.MAYBE_SUBMITTED: 2}
    again = CallbackTransport(accepted)
    caplog.set_level(logging.WARNING, logger="msgbridge.dispatch.dispatcher")
    stats = await Dispatcher(store, again).send_pending("c")
    assert again.batches == [] and stats.settled_sent == stats.settled_unsent == 0
    assert "callback:// cannot look them up" in caplog.text
    resent = await Dispatcher(store, again).send_pending("c", include_maybe=True)
    assert resent.resent_maybe == 2 and await store.counts("c") == {S.SUBMITTED: 2}
