"""The delivery worker over real sockets and a real SQLite store: a receiver that is down, then fails,
then is slow, then up gets every event, signed, in order per message; Retry-After is honoured; a dead
receiver's circuit opens while a healthy one's events keep flowing; 410 gives up; private addresses are
refused when the worker connects."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from webhook_receiver import Receiver, receiver

from msgbridge.config import WebhookSettings
from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.base import OutboxEntry, Store, StoredEvent
from msgbridge.store.sqlite import SqliteStore
from msgbridge.webhooks.keys import WebhookSecrets
from msgbridge.webhooks.limiter import origin_of
from msgbridge.webhooks.policy import RetryPolicy
from msgbridge.webhooks.worker import WebhookWorker

LINK = "memory://"
SECRET = "whsec_test"
FAST = RetryPolicy(max_age=3600, base=0.05, cap=0.4)  # retries within a test's patience
SETTINGS = WebhookSettings(secrets=(SECRET,), timeout=1.0, breaker_failures=3, breaker_cooldown=0.5)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with SqliteStore(tmp_path / "w.db") as s:
        yield s


def worker(store: Store, settings: WebhookSettings = SETTINGS, **kwargs: object) -> WebhookWorker:
    w = WebhookWorker(
        store, settings=settings, secrets=WebhookSecrets(settings.secrets), allow_private=True, policy=FAST,
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    w.start()
    return w


async def queue(store: Store, url: str, first: int, count: int) -> list[str]:
    target = CallbackTarget(url).dumps()
    messages = [
        Message(
            id=f"m{i:04d}", to=f"+7701{i:07d}", text="hi", reference=f"r{i}", metadata={"callback": target}
        )
        for i in range(first, first + count)
    ]
    return await store.enqueue([OutboxEntry(m, f"k:{m.id}") for m in messages])


async def submitted(store: Store, ids: Sequence[str]) -> None:
    claimed = await store.claim(len(ids), ids=ids)
    await store.mark_in_doubt([r.message.id for r in claimed])
    await store.record_results(
        [SendResult(message_id=i, status=S.SUBMITTED, native_id=f"n-{i}") for i in ids], link=LINK
    )


async def delivered(store: Store, ids: Sequence[str]) -> None:
    await store.record_receipts(
        [DeliveryReceipt(native_id=f"n-{i}", status=S.DELIVERED, link=LINK) for i in ids]
    )


async def all_events(store: Store) -> list[StoredEvent]:
    return await store.events_page(None, 100_000)


def first_arrivals(r: Receiver) -> list[str]:
    seen: dict[str, None] = {}
    for arrival in r.events:
        seen.setdefault(arrival.event["event_id"], None)
    return list(seen)


async def wait_until_delivered(store: Store, count: int, timeout: float = 60.0) -> list[StoredEvent]:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            events = await all_events(store)
            if sum(e.state == "delivered" for e in events) >= count:
                return events
            await asyncio.sleep(0.05)


def assert_in_order_per_message(events: Sequence[StoredEvent], arrivals: Sequence[str]) -> None:
    position = {event_id: i for i, event_id in enumerate(arrivals)}
    by_message: dict[str | None, list[StoredEvent]] = {}
    for e in events:
        by_message.setdefault(e.message_id, []).append(e)
    for message_id, mine in by_message.items():
        order = [position[e.id] for e in sorted(mine, key=lambda e: e.n)]
        assert order == sorted(order), f"{message_id}: events arrived out of order"


async def test_down_then_failing_then_slow_then_up_loses_nothing(store: Store) -> None:
    async with receiver(SECRET, delay=0.3) as r:
        url = r.url + "/hooks/sms"
        w = worker(store)
        try:
            await r.down()
            ids = await queue(store, url, 0, 20)
            await submitted(store, ids[:10])
            await asyncio.sleep(1.0)
            await r.up()
            r.mode = "fail"
            await submitted(store, ids[10:])
            await delivered(store, ids[:10])
            await asyncio.sleep(1.0)
            r.mode = "slow"
            await delivered(store, ids[10:15])
            await asyncio.sleep(1.0)
            r.mode = "up"
            await delivered(store, ids[15:])
            events = await wait_until_delivered(store, 40)
        finally:
            await w.stop()
    assert len(events) == 40 and {e.state for e in events} == {"delivered"}
    arrivals = first_arrivals(r)
    assert sorted(arrivals) == sorted(e.id for e in events)  # every event arrived
    assert all(a.verified for a in r.events) and all(a.path == "/hooks/sms" for a in r.events)
    assert_in_order_per_message(events, arrivals)
    statuses = {(a.event["message_id"], a.event["status"]) for a in r.events}
    assert statuses == {(i, s) for i in ids for s in ("SUBMITTED", "DELIVERED")}
    assert any(status == 500 for _, status in r.answered)  # the failing phase was really tried
    assert w.stats.retried > 0


async def test_retry_after_is_honoured(store: Store) -> None:
    async with receiver(SECRET, script=deque(["throttle"]), retry_after="1") as r:
        w = worker(store)
        try:
            ids = await queue(store, r.url, 0, 1)
            await submitted(store, ids)
            events = await wait_until_delivered(store, 1)
        finally:
            await w.stop()
    (first, status), (second, ok) = r.answered[:2]
    assert (status, ok) == (429, 200)
    assert second - first >= 0.95  # not before the receiver said (a lower bound: it cannot come early)
    assert events[0].attempts == 2 and events[0].last_error is None


async def test_a_dead_receiver_opens_its_circuit_and_the_healthy_one_keeps_flowing(store: Store) -> None:
    settings = WebhookSettings(secrets=(SECRET,), timeout=1.0, breaker_failures=3, breaker_cooldown=30)
    async with receiver(SECRET, mode="slow", delay=60) as dead, receiver(SECRET) as healthy:
        w = worker(store, settings)
        try:
            stuck = await queue(store, dead.url, 0, 30)
            await submitted(store, stuck)
            await asyncio.sleep(0.2)
            fine = await queue(store, healthy.url, 100, 30)
            await submitted(store, fine)
            await delivered(store, fine)
            await healthy.wait_for(60)  # while the dead one holds its own slots, its requests hanging
            async with asyncio.timeout(20):
                while not w.breaker.is_open(origin_of(dead.url)):  # noqa: ASYNC110 -- the breaker's state
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            # The dead receiver got a few requests (the concurrency limit, until the failures opened its
            # circuit), not one per event.
            assert len(dead.requests) <= SETTINGS.concurrency_per_url + settings.breaker_failures
        finally:
            await w.stop(0)
    events = await all_events(store)
    assert {e.state for e in events if e.message_id in fine} == {"delivered"}
    assert {e.state for e in events if e.message_id in stuck} == {"pending"}
    assert any(e.last_error and "Timeout" in e.last_error for e in events if e.message_id in stuck)


async def test_gone_gives_the_event_up_and_the_next_one_goes(store: Store) -> None:
    async with receiver(SECRET, script=deque(["gone"])) as r:
        w = worker(store)
        try:
            ids = await queue(store, r.url, 0, 1)
            await submitted(store, ids)
            await delivered(store, ids)
            events = await wait_until_delivered(store, 1)
        finally:
            await w.stop()
    submitted_event, delivered_event = sorted(events, key=lambda e: e.n)
    assert submitted_event.state == "failed" and "HTTP 410" in (submitted_event.last_error or "")
    assert delivered_event.state == "delivered" and len(r.requests) == 2


async def test_a_private_address_is_refused_when_connecting(store: Store) -> None:
    async with receiver(SECRET) as r:
        w = WebhookWorker(store, settings=SETTINGS, policy=FAST)  # allow_private is off by default
        w.start()
        try:
            ids = await queue(store, r.url, 0, 1)
            await submitted(store, ids)
            async with asyncio.timeout(30):
                while w.stats.retried < 2:  # noqa: ASYNC110 -- the worker's own counter
                    await asyncio.sleep(0.02)
        finally:
            await w.stop()
    (event,) = await all_events(store)
    assert event.state == "pending" and "loopback" in (event.last_error or "") and r.requests == []


async def test_unsigned_without_a_secret_and_signed_by_the_keys_own(store: Store, tmp_path: Path) -> None:
    from msgbridge.service.apikeys import KeyRing, create_key

    keys = tmp_path / "keys.toml"
    shop, _ = create_key(keys, "shop")
    assert shop.webhook_secret is not None
    async with receiver(shop.webhook_secret) as r:
        w = WebhookWorker(
            store,
            settings=WebhookSettings(),
            secrets=WebhookSecrets((), KeyRing.load(keys)),
            allow_private=True,
        )
        w.start()
        try:
            target = CallbackTarget(r.url, key="shop").dumps()
            plain = CallbackTarget(r.url).dumps()
            messages = [
                Message(id="signed", to="+77010000001", text="a", metadata={"callback": target}),
                Message(id="plain", to="+77010000002", text="b", metadata={"callback": plain}),
            ]
            await store.enqueue([OutboxEntry(m, f"k:{m.id}") for m in messages])
            await submitted(store, ["signed", "plain"])
            await r.wait_for(2)
        finally:
            await w.stop()
    verified = {a.event["message_id"]: a.verified for a in r.events}
    assert verified == {"signed": True, "plain": False}
    plain_request = next(q for q in r.requests if b'"plain"' in q.body)
    assert "msgbridge-signature" not in plain_request.headers
    assert plain_request.headers["msgbridge-event-id"].startswith("evt_")


class CountingStore(SqliteStore):
    """Counts the message reads the worker makes: one at a time, or a batch at once."""

    gets = 0
    batches = 0

    async def get(self, message_id: str):  # type: ignore[no-untyped-def]
        self.gets += 1
        return await super().get(message_id)

    async def get_many(self, message_ids: Sequence[str]):  # type: ignore[no-untyped-def]
        self.batches += 1
        return await super().get_many(message_ids)


async def test_kannel_dlrs_of_one_claim_read_their_messages_in_one_query(tmp_path: Path) -> None:
    # A Kannel dlr-url takes the provider's id (%F) and the sender (%P) from the message row: read with the
    # claim, every event's message in one query, none one at a time when it is sent.
    async with CountingStore(tmp_path / "k.db") as store, receiver(None) as r:
        target = CallbackTarget(r.url + "/dlr?id=%I&f=%F&from=%P&t=%d", format="kannel", method="GET").dumps()
        messages = [
            Message(id=f"k{i:03d}", to=f"+7701{i:07d}", text="hi", sender="Shop", metadata={"callback": target})
            for i in range(30)
        ]
        ids = await store.enqueue([OutboxEntry(m, f"k:{m.id}") for m in messages])
        await submitted(store, ids)  # SUBMITTED: Kannel's type 8 (SMSC submit), in the default mask
        store.gets = store.batches = 0
        w = worker(store)
        try:
            await wait_until_delivered(store, len(ids))
        finally:
            await w.stop()
    got = sorted((q["id"][0], q["f"][0], q["from"][0], q["t"][0]) for q in (req.query for req in r.requests))
    assert got == sorted((i, f"n-{i}", "Shop", "8") for i in ids)
    assert store.gets == 0 and 1 <= store.batches <= 3, (store.gets, store.batches)
