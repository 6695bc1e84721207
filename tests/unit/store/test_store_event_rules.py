"""``Store.want_events``: a status event a target's mask does not ask for is not written (or, with every change
recorded, written without its target); formats and masks nobody registered get every event. SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.base import OutboxEntry, Store, StoredEvent
from msgbridge.store.sql import SqlStore

LINK = "smpp://smsc.example:2775"
FINAL = frozenset(s for s in S if s.is_final)
FAILURES = FINAL - {S.DELIVERED}
RULE = {1: FINAL, 2: FAILURES}
FINAL_ONLY = CallbackTarget("smpp://acme", format="smpp", mask=1)
FAILURES_ONLY = CallbackTarget("smpp://acme", format="smpp", mask=2)
UNREGISTERED_MASK = CallbackTarget("smpp://acme", format="smpp", mask=0x11)
HOOK = CallbackTarget("https://app.example/hook", mask=1)  # another format: the rule is not its


def message(i: int, target: CallbackTarget, campaign: str | None = None) -> Message:
    return Message(
        id=f"m{i:03d}",
        to=f"+7701{i:07d}",
        text=f"hi {i}",
        campaign=campaign,
        metadata={"callback": target.dumps()},
    )


async def sent_and_receipted(store: Store, targets: list[CallbackTarget], receipt: S) -> list[StoredEvent]:
    """One message per target: queued, sent (SUBMITTED), then a receipt of ``receipt``; every event."""
    ids = await store.enqueue([OutboxEntry(message(i, t), f"k:{i}") for i, t in enumerate(targets, 1)])
    claimed = await store.claim(len(ids), ids=ids)
    await store.mark_in_doubt([r.message.id for r in claimed])
    await store.record_results(
        [SendResult(message_id=i, status=S.SUBMITTED, native_id=f"n-{i}") for i in ids], link=LINK
    )
    await store.record_receipts([DeliveryReceipt(f"n-{i}", receipt, "X", link=LINK) for i in ids])
    return await store.events_page(None, 1000)


def shape(events: list[StoredEvent]) -> list[tuple[str | None, S | None]]:
    return [(e.message_id, e.status) for e in events]


async def test_a_change_the_mask_does_not_ask_for_writes_no_event(stores: Callable[[], SqlStore]) -> None:
    async with stores() as store:
        store.want_events("smpp", RULE)
        events = await sent_and_receipted(
            store, [FINAL_ONLY, FAILURES_ONLY, UNREGISTERED_MASK, HOOK], S.DELIVERED
        )
        assert shape(events) == [
            ("m003", S.SUBMITTED), ("m004", S.SUBMITTED),  # no rule for mask 0x11, nor for "json"
            ("m001", S.DELIVERED), ("m003", S.DELIVERED), ("m004", S.DELIVERED),
        ]  # fmt: skip
        assert all(e.state == "pending" for e in events)


async def test_a_failure_is_written_for_a_mask_that_asks_for_failures(stores: Callable[[], SqlStore]) -> None:
    async with stores() as store:
        store.want_events("smpp", RULE)
        events = await sent_and_receipted(store, [FINAL_ONLY, FAILURES_ONLY], S.UNDELIVERABLE)
        assert shape(events) == [("m001", S.UNDELIVERABLE), ("m002", S.UNDELIVERABLE)]


async def test_without_a_rule_every_change_is_an_event(stores: Callable[[], SqlStore]) -> None:
    async with stores() as store:
        events = await sent_and_receipted(store, [FINAL_ONLY], S.DELIVERED)
        assert shape(events) == [("m001", S.SUBMITTED), ("m001", S.DELIVERED)]


async def test_every_change_recorded_keeps_the_unwanted_one_without_its_target(
    stores: Callable[[], SqlStore],
) -> None:
    async with stores() as store:
        store.record_all_events = True
        store.want_events("smpp", RULE)
        events = await sent_and_receipted(store, [FINAL_ONLY], S.DELIVERED)
        assert [(e.status, e.target, e.state) for e in events] == [
            (S.SUBMITTED, None, None),
            (S.DELIVERED, FINAL_ONLY, "pending"),
        ]
        claimed = await store.claim_events(10, now=events[-1].occurred_at + 1, lease=30)
        assert [e.status for e in claimed] == [S.DELIVERED]


async def test_a_cancel_follows_the_rule(stores: Callable[[], SqlStore]) -> None:
    async with stores() as store:
        store.want_events("smpp", {1: frozenset({S.DELIVERED})})
        await store.enqueue([OutboxEntry(message(1, FINAL_ONLY, campaign="c"), "k:1")])
        assert await store.cancel("c") == 1
        assert await store.events_page(None, 10) == []
