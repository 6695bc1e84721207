"""How every HTTP provider ends a request that went wrong: hostile peers on real sockets, port 0.

A 5xx after the provider may have taken the message (never resent blindly),
a 429 whatever its body, a peer that drips one byte at a time (one deadline
per request), a reply nested 100,000 deep (classified, the run goes on) and a
Retry-After of 11.6 days (a clear THROTTLED instead of a blocked send).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from http_peers import (
    PROVIDERS,
    Answer,
    DripPeer,
    Misbehaving,
    Provider,
    bad_gateway,
    nested,
    server_error_json,
)

from msgbridge.adapters.base import Transport, open_transport
from msgbridge.core.errors import ErrorCode
from msgbridge.core.message import Campaign, Message
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.http.server import Response, serve
from msgbridge.store.base import MessageRecord, OutboxEntry
from msgbridge.store.sqlite import SqliteStore

T = TypeVar("T")
FAST = Backoff(base=0.001, cap=0.01, jitter=False)
ALL = sorted(PROVIDERS)
# Generous: these bound a test that would otherwise hang on today's code, they time nothing.
GUARD = 60.0


async def guarded(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, GUARD)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "s.db") as s:
        yield s


def one_message(i: int = 0) -> Message:
    return Message(to=f"+7701{1000000 + i:07d}", text="hello")


async def send_one(store: SqliteStore, t: Transport, **dispatcher: object) -> MessageRecord:
    """What ``msgbridge send`` does: enqueue one message, run the dispatcher for it, read it back."""
    message = one_message()
    [mid] = await store.enqueue([OutboxEntry(message=message, idempotency_key=f"send:{message.id}")])
    d = Dispatcher(store, t, backoff=FAST, **dispatcher)  # type: ignore[arg-type]
    await guarded(d.run(None, message_ids=[mid]))
    rec = await store.get(mid)
    assert rec is not None
    return rec


# --------------------------------------------------------------------------- 5xx on a send


@pytest.mark.parametrize("answer", [bad_gateway, server_error_json], ids=["502-html", "500-json"])
@pytest.mark.parametrize("name", ["selzy", "smsc", "mobizon"])
async def test_a_5xx_after_the_provider_took_the_send_is_in_doubt_and_not_resent(
    store: SqliteStore, name: str, answer: Callable[[], Response]
) -> None:
    provider = PROVIDERS[name]
    emulator = provider.create()
    app = Misbehaving(emulator, always={provider.send_endpoint: Answer(answer, after_taking=True)})
    async with serve(app) as server, open_transport(provider.url(server.url)) as t:
        rec = await send_one(store, t)
    assert emulator.requests[provider.send_endpoint] == 1  # was 5: one SMS sent five times
    assert provider.taken(emulator) == 1
    assert rec.status is DeliveryStatus.MAYBE_SUBMITTED
    assert rec.last_error is not None and rec.last_error.code is ErrorCode.TEMPORARY_FAILURE


@pytest.mark.parametrize("step", ["campaign/addrecipients", "campaign/send"])
async def test_a_5xx_on_a_mobizon_campaign_step_that_sends_is_in_doubt(step: str) -> None:
    provider = PROVIDERS["mobizon"]
    emulator = provider.create()
    app = Misbehaving(emulator)
    app.next(step, Answer(bad_gateway, after_taking=True))
    messages = [one_message(i) for i in range(3)]
    async with serve(app) as server, open_transport(provider.url(server.url)) as t:
        run = await guarded(t.run_campaign(Campaign(name="c", template="hello", sender="Shop"), messages))  # type: ignore[attr-defined]
    assert {r.status for r in run.results} == {DeliveryStatus.MAYBE_SUBMITTED}
    assert emulator.requests[step] == 1


@pytest.mark.parametrize("taken", [True, False], ids=["taken", "not-taken"])
async def test_bsg_resends_after_a_5xx_because_its_reference_id_is_refused_twice(
    store: SqliteStore, taken: bool
) -> None:
    provider = PROVIDERS["bsg"]
    emulator = provider.create()
    app = Misbehaving(emulator)
    app.next(provider.send_endpoint, Answer(bad_gateway, after_taking=taken))
    async with serve(app) as server, open_transport(provider.url(server.url)) as t:
        rec = await send_one(store, t)
    assert emulator.requests[provider.send_endpoint] == 2
    assert provider.taken(emulator) == 1  # the repeat of a taken send was refused as a duplicate
    assert rec.status is DeliveryStatus.SUBMITTED and rec.native_id


# --------------------------------------------------------------------------- 429 whatever the body


@pytest.mark.parametrize(
    "body",
    ["empty", "provider-error", "slow-down", "html"],
)
@pytest.mark.parametrize("name", ALL)
async def test_429_is_throttled_whatever_the_body(name: str, body: str) -> None:
    provider = PROVIDERS[name]
    content = {
        "empty": b"",
        "provider-error": provider.error_body,
        "slow-down": b'{"error":"slow down"}',
        "html": b"<html><body><h1>429 Too Many Requests</h1></body></html>",
    }[body]
    emulator = provider.create()
    refusal = Response(429, content, [("Content-Type", "application/json"), ("Retry-After", "7")])
    app = Misbehaving(emulator, always={provider.send_endpoint: Answer(lambda: refusal)})
    async with serve(app) as server, open_transport(provider.url(server.url, "attempts=1")) as t:
        [result] = await guarded(t.send([one_message()]))
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and result.error.code is ErrorCode.THROTTLED
    assert result.error.native_code == 429 and result.error.retry_after == 7.0
    assert provider.taken(emulator) == 0


# --------------------------------------------------------------------------- slow drip


BSG_LOGIN = b'{"bearer":"a.e30.b"}'  # a token without exp: valid for token_ttl


@pytest.mark.parametrize("drip_from", ["headers", "body"])
@pytest.mark.parametrize("name", ALL)
async def test_a_slow_drip_answer_to_a_send_ends_in_doubt_at_the_deadline(name: str, drip_from: str) -> None:
    provider = PROVIDERS[name]
    peer = DripPeer(drip_from=drip_from, quick={"/api/auth/login": BSG_LOGIN})
    async with peer.running(), open_transport(provider.url(peer.url, "timeout=1&attempts=3")) as t:
        [result] = await guarded(t.send([one_message()]))
    assert result.status is DeliveryStatus.MAYBE_SUBMITTED
    assert result.error is not None and result.error.code is ErrorCode.TIMEOUT
    assert result.error.native_code == "deadline"
    assert peer.requests == 1  # the request left: never repeated


@pytest.mark.parametrize("name", ALL)
async def test_a_slow_drip_answer_to_a_status_poll_is_retried(name: str) -> None:
    provider = PROVIDERS[name]
    peer = DripPeer(drip_from="body", quick={"/api/auth/login": BSG_LOGIN})
    async with peer.running(), open_transport(provider.url(peer.url, "timeout=1&attempts=2")) as t:
        receipts = await guarded(t.status([provider.native_id]))
    assert receipts == []
    assert peer.requests == 2  # a poll changes nothing at the provider: asked again


async def test_the_deadline_before_the_request_left_is_a_network_error() -> None:
    """With the one connection busy, a second send waits for it; at its deadline nothing of it left."""
    provider = PROVIDERS["selzy"]
    peer = DripPeer(drip_from="body")
    async with (
        peer.running(),
        open_transport(provider.url(peer.url, "timeout=5&attempts=1&connections=1")) as t,
    ):
        first = asyncio.create_task(t.send([one_message(1)]))
        await guarded(peer.arrived.wait())
        t.timeout = 1.0  # type: ignore[attr-defined]  # the second request's deadline: before the first ends
        [second] = await guarded(t.send([Message(to="+77012000000", text="other")]))
        assert peer.requests == 1
        [late] = await guarded(first)
    assert second.status is DeliveryStatus.FAILED  # safe to send again: the dispatcher requeues it
    assert second.error is not None and second.error.code is ErrorCode.NETWORK_ERROR
    assert "nothing was sent" in second.error.native_message
    assert late.status is DeliveryStatus.MAYBE_SUBMITTED
    assert late.error is not None and late.error.code is ErrorCode.TIMEOUT


# --------------------------------------------------------------------------- nested JSON


@pytest.mark.parametrize("name", ALL)
async def test_a_reply_nested_100000_deep_to_a_send_is_in_doubt(name: str) -> None:
    provider = PROVIDERS[name]
    emulator = provider.create()
    app = Misbehaving(emulator, always={provider.send_endpoint: Answer(nested, after_taking=True)})
    async with serve(app) as server, open_transport(provider.url(server.url)) as t:
        [result] = await guarded(t.send([one_message()]))
    assert result.status is DeliveryStatus.MAYBE_SUBMITTED
    assert result.error is not None and result.error.code is ErrorCode.PROTOCOL_ERROR
    assert "nested deeper" in result.error.native_message
    assert emulator.requests[provider.send_endpoint] == 1


@pytest.mark.parametrize("name", ALL)
async def test_a_nested_reply_in_a_campaign_run_costs_one_batch_and_the_run_goes_on(
    store: SqliteStore, name: str
) -> None:
    provider = PROVIDERS[name]
    emulator = provider.create()
    app = Misbehaving(emulator)
    app.next(provider.send_endpoint, Answer(nested, after_taking=True))
    entries = [
        OutboxEntry(message=m, idempotency_key=f"c:{m.to}")
        for m in (one_message(i).model_copy(update={"campaign": "c"}) for i in range(30))
    ]
    await store.enqueue(entries)
    async with serve(app) as server, open_transport(provider.url(server.url)) as t:
        stats = await guarded(Dispatcher(store, t, batch_size=10, backoff=FAST).send_pending("c"))
    counts = await store.counts("c")
    per_request = 1 if name == "mobizon" else 10  # Mobizon sends one message per request
    assert counts.get(DeliveryStatus.MAYBE_SUBMITTED) == per_request
    assert counts.get(DeliveryStatus.QUEUED, 0) == 0
    assert stats.submitted == 30 - per_request
    assert provider.taken(emulator) == 30


# --------------------------------------------------------------------------- Retry-After beyond the cap


@pytest.mark.parametrize("name", ALL)
async def test_retry_after_of_eleven_days_ends_throttled_at_once(store: SqliteStore, name: str) -> None:
    provider = PROVIDERS[name]
    emulator = provider.create()
    refusal = Response(429, b"", [("Retry-After", "999999")])
    app = Misbehaving(emulator, always={provider.send_endpoint: Answer(lambda: refusal)})
    async with serve(app) as server, open_transport(provider.url(server.url)) as t:
        rec = await send_one(store, t)
    assert rec.status is DeliveryStatus.FAILED
    assert rec.last_error is not None and rec.last_error.code is ErrorCode.THROTTLED
    assert "999999 s (11.6 days)" in rec.last_error.native_message
    assert "max_retry_wait=300 s" in rec.last_error.native_message
    assert emulator.requests[provider.send_endpoint] == 1


async def test_retry_after_within_the_cap_is_waited_for_and_sent(store: SqliteStore) -> None:
    provider: Provider = PROVIDERS["selzy"]
    emulator = provider.create()
    app = Misbehaving(emulator)
    app.next(provider.send_endpoint, Answer(lambda: Response(429, b"", [("Retry-After", "0.2")])))
    async with serve(app) as server, open_transport(provider.url(server.url)) as t:
        rec = await send_one(store, t)
    assert rec.status is DeliveryStatus.SUBMITTED
    assert emulator.requests[provider.send_endpoint] == 2
    assert provider.taken(emulator) == 1


async def test_max_retry_wait_in_the_url_is_the_cap(store: SqliteStore) -> None:
    provider = PROVIDERS["smsc"]
    emulator = provider.create()
    refusal = Response(429, b"", [("Retry-After", "2")])
    app = Misbehaving(emulator, always={provider.send_endpoint: Answer(lambda: refusal)})
    async with serve(app) as server, open_transport(provider.url(server.url, "max_retry_wait=1")) as t:
        rec = await send_one(store, t)
    assert rec.status is DeliveryStatus.FAILED
    assert rec.last_error is not None and "asked to wait 2 s, longer than max_retry_wait=1 s" in (
        rec.last_error.native_message
    )
    assert emulator.requests[provider.send_endpoint] == 1
