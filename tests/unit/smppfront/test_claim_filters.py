"""``Store.claim_events(formats=..., urls=...)``: the SMPP front claims its own targets only, per account, and
the other formats' worker none of them. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.message import Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.smppfront.receipts import target_for
from msgbridge.store.base import FAILED, EventOutcome, OutboxEntry
from msgbridge.store.sql import SqlStore

TARGETS: dict[str, CallbackTarget] = {
    "json": CallbackTarget("https://app.example/hook"),
    "kannel": CallbackTarget("https://k.example/dlr?id=%i", format="kannel", mask=3),
    "acme": target_for("acme", 1),  # type: ignore[dict-item]
    "acme2": target_for("acme2", 0x11),  # type: ignore[dict-item]
}


async def submitted_to_every_target(store: SqlStore) -> None:
    """One message per target of TARGETS, sent: one SUBMITTED event each."""
    messages = [Message(id=name, to="+77011234567", text="hi", metadata={"callback": t.dumps()})
                for name, t in TARGETS.items()]  # fmt: skip
    await store.enqueue([OutboxEntry(m, f"k:{m.id}") for m in messages])
    claimed = await store.claim(10)
    await store.mark_in_doubt([r.message.id for r in claimed])
    await store.record_results(
        [
            SendResult(message_id=m.id, status=DeliveryStatus.SUBMITTED, native_id=f"n-{m.id}")
            for m in messages
        ],
        link="x",
    )


async def test_the_backlog_counts_the_formats_asked_for(stores: Callable[[], SqlStore]) -> None:
    """What the front shows as receipts held for it: its own format's pending events, not the webhooks'."""
    async with stores() as store:
        await submitted_to_every_target(store)
        assert (await store.event_backlog(formats=["smpp"])).pending == 2
        assert (await store.event_backlog(formats=["json", "kannel"])).pending == 2
        assert (await store.event_backlog(formats=["jasmin"])).pending == 0
        assert (await store.event_backlog(formats=[])).pending == 0
        assert (await store.event_backlog()).pending == len(TARGETS)
        [acme] = await store.claim_events(10, now=time.time(), lease=60, urls=["smpp://acme"])
        await store.events_done([EventOutcome(acme.n, FAILED, None, "no")])
        held = await store.event_backlog(formats=["smpp"])
        assert (held.pending, held.failed) == (1, 1)


async def test_claims_keep_to_the_formats_and_urls_asked_for(stores: Callable[[], SqlStore]) -> None:
    async with stores() as store:
        await submitted_to_every_target(store)
        clock = [time.time() + 1]

        async def ids(**filters: object) -> set[str]:
            """Claimed and given back at once (a lease that ends before the next claim's instant)."""
            clock[0] += 1
            events = await store.claim_events(10, now=clock[0], lease=0.5, **filters)  # type: ignore[arg-type]
            return {str(e.message_id) for e in events}

        assert await ids(formats=["smpp"], urls=["smpp://acme"]) == {"acme"}
        assert await ids(formats=["smpp"], urls=["smpp://acme2", "smpp://acme"]) == {"acme", "acme2"}
        assert await ids(formats=["smpp"], urls=["smpp://acm"]) == set()
        assert await ids(formats=["smpp"], urls=[]) == set()
        assert await ids(formats=["json", "kannel", "jasmin"]) == {"json", "kannel"}
        assert await ids(formats=["smpp"]) == {"acme", "acme2"}
        assert await ids() == set(TARGETS)
