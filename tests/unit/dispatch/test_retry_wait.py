"""The dispatcher honours a peer's wait up to ``max_retry_wait`` and refuses, naming it, beyond."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.core.errors import ErrorCode
from msgbridge.core.message import Message
from msgbridge.core.ratelimit import DEFAULT_MAX_RETRY_WAIT, Backoff
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

FAST = Backoff(base=0.001, cap=0.01, jitter=False)
GUARD = 60.0  # bounds a run that would wait out the peer's 11.6 days on today's code; times nothing


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "d.db") as s:
        yield s


async def one(store: SqliteStore) -> str:
    message = Message(to="+77010000001", text="hi", campaign="c")
    [mid] = await store.enqueue([OutboxEntry(message=message, idempotency_key="k")])
    return mid


def memory(options: str) -> MemoryTransport:
    t = open_transport(f"memory://?{options}")
    assert isinstance(t, MemoryTransport)
    return t


async def test_a_wait_longer_than_the_cap_ends_the_message_throttled_naming_the_wait(
    store: SqliteStore,
) -> None:
    mid = await one(store)
    async with memory("fail_every=1&fail_code=THROTTLED&retry_after=999999") as t:
        d = Dispatcher(store, t, backoff=FAST)
        stats = await asyncio.wait_for(d.run("c"), GUARD)
    assert d.max_retry_wait == DEFAULT_MAX_RETRY_WAIT
    rec = await store.get(mid)
    assert rec is not None and rec.status is S.FAILED
    assert rec.last_error is not None and rec.last_error.code is ErrorCode.THROTTLED
    assert (
        "asked to wait 999999 s (11.6 days), longer than max_retry_wait=300 s"
        in rec.last_error.native_message
    )
    assert stats.failed == 1 and stats.retried == 0


async def test_a_wait_within_the_cap_is_taken_and_the_message_sent(store: SqliteStore) -> None:
    mid = await one(store)
    async with memory("fail_every=1&fail_times=1&fail_code=THROTTLED&retry_after=0.05") as t:
        stats = await asyncio.wait_for(Dispatcher(store, t, backoff=FAST).run("c"), GUARD)
    rec = await store.get(mid)
    assert rec is not None and rec.status is S.SUBMITTED
    assert stats.retried == 1 and len(t.accepted) == 1


async def test_the_callers_cap_wins_over_the_default(store: SqliteStore) -> None:
    mid = await one(store)
    async with memory("fail_every=1&fail_code=TEMPORARY_FAILURE&retry_after=2") as t:
        await asyncio.wait_for(Dispatcher(store, t, backoff=FAST, max_retry_wait=1).run("c"), GUARD)
    rec = await store.get(mid)
    assert rec is not None and rec.status is S.FAILED
    # a refusal to wait is THROTTLED whatever the code that carried the wait
    assert rec.last_error is not None and rec.last_error.code is ErrorCode.THROTTLED
    assert "asked to wait 2 s, longer than max_retry_wait=1 s" in rec.last_error.native_message


async def test_an_http_transports_max_retry_wait_is_the_dispatchers(store: SqliteStore) -> None:
    async with open_transport("selzy://k@api.selzy.com?max_retry_wait=42") as t:
        assert Dispatcher(store, t).max_retry_wait == 42.0
