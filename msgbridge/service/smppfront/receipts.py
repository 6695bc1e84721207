"""Receipts and MO to the ESME: deliver_sm from the store's events, until deliver_sm_resp.

Each message the front queues with registered_delivery asking for receipts carries
``CallbackTarget(url="smpp://<system_id>", format="smpp", mask=<registered_delivery>)``, so the store writes
an event for each status change that mask asks for, in the transaction of the change (issue 14's events
table). Nothing is
held in memory: while no receiver of the account is bound the events wait in the store, across restarts.
The pump registers what each mask asks for with the store (:func:`wanted_by_mask`); what it claims it still
checks (an event written before the rule, or by a process without it).
The :class:`ReceiptPump` claims pending "smpp" events of the accounts that have a receiver (or transceiver)
bound, writes one deliver_sm per part id the ESME was given, and marks the event delivered when every part
was answered deliver_sm_resp OK. A refused deliver_sm is tried again after :data:`RETRY_SECONDS`; one on a
link that drops goes back to pending at once; one claimed by a process that died comes back when its lease
(:data:`LEASE_SECONDS`) runs out. The webhooks worker must not claim "smpp" events (it claims other formats).

MO routed to an account (mo.py) are ``message.inbound`` events of the same target, without a mask: the
pump sends each as one deliver_sm with esm_class 0 (``mo_body``) and treats it exactly as a receipt, held,
resent and marked the same way, so an account's receipts and MO share one claim, one window and one order.

registered_delivery (SMPP 3.4 §5.2.17): bits 0-1 = 1 a receipt for the final outcome, 2 for a failure
only; bit 4 intermediate notifications (ENROUTE / ACCEPTD as the message is handed over).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.smppfront.mo import front_target, mo_body
from msgbridge.service.validation import FRONT_FORMAT
from msgbridge.smpp import codec
from msgbridge.smpp.addressing import address
from msgbridge.smpp.receipt_text import STAT_WORDS, format_receipt
from msgbridge.store.base import (
    DELIVERED,
    FAILED,
    INBOUND_EVENT,
    PENDING,
    SKIPPED,
    EventOutcome,
    Quote,
    StoredEvent,
)

if TYPE_CHECKING:
    from msgbridge.service.smppfront.server import SmppFront
    from msgbridge.service.smppfront.session import FrontSession

log = logging.getLogger(__name__)

FORMAT = FRONT_FORMAT
LEASE_SECONDS = 60.0
RETRY_SECONDS = 5.0
IDLE_SECONDS = 0.2
CLAIM = 500

# DeliveryStatus -> message_state (SMPP 3.4 §5.2.28)
MESSAGE_STATE: dict[DeliveryStatus, int] = {
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SUBMITTED: 1,
    DeliveryStatus.MAYBE_SUBMITTED: 1,
    DeliveryStatus.ACCEPTED: 6,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.PARTIALLY_DELIVERED: 5,
    DeliveryStatus.UNDELIVERABLE: 5,
    DeliveryStatus.REJECTED: 8,
    DeliveryStatus.EXPIRED: 3,
    DeliveryStatus.DELETED: 4,
    DeliveryStatus.CANCELED: 4,
    DeliveryStatus.FAILED: 5,
    DeliveryStatus.UNKNOWN: 7,
}


class EventStore(Protocol):
    """The store's event methods the pump uses (``Store`` has them)."""

    async def claim_events(
        self,
        limit: int,
        *,
        now: float,
        lease: float,
        formats: Sequence[str] | None = None,
        urls: Sequence[str] | None = None,
        done: Sequence[EventOutcome] = (),
    ) -> list[StoredEvent]: ...

    async def events_done(self, outcomes: Sequence[EventOutcome]) -> None: ...

    async def quotes(self, message_ids: Sequence[str]) -> dict[str, Quote]: ...

    def want_events(self, format: str, by_mask: Mapping[int | None, frozenset[DeliveryStatus]]) -> None: ...


def target_for(system_id: str, registered_delivery: int) -> CallbackTarget | None:
    """The target a message of ``system_id`` carries, or None when no receipt was asked for."""
    if registered_delivery & 0x13 == 0:
        return None
    return front_target(system_id, registered_delivery & 0x13)


def wanted(status: DeliveryStatus, mask: int) -> bool:
    """Whether registered_delivery ``mask`` asks for a receipt of ``status``."""
    if status.is_final:
        final = mask & 0x03
        return final == 1 or (final == 2 and status is not DeliveryStatus.DELIVERED)
    return bool(mask & 0x10) and status in (DeliveryStatus.SUBMITTED, DeliveryStatus.ACCEPTED)


def wanted_by_mask() -> dict[int | None, frozenset[DeliveryStatus]]:
    """:func:`wanted` as data, for every mask a target can carry: what the pump registers with the store so
    that the events nobody asked for (SUBMITTED for an ESME that wants the final outcome) are not written."""
    return {mask: frozenset(s for s in DeliveryStatus if wanted(s, mask)) for mask in range(0x20)}


def parts_of(reference: str | None) -> int:
    """The part count the front wrote into its reference (``.../N``; none: one part)."""
    if reference and "/" in reference:
        tail = reference.rsplit("/", 1)[1]
        if tail.isdigit():
            return int(tail)
    return 1


@functools.lru_cache(maxsize=16)
def _minute(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%y%m%d%H%M")


def _date(at: float) -> str:
    """``YYMMDDhhmm``: one strftime per minute, not two per receipt (they were a tenth of the pump's time)."""
    return _minute(int(at // 60))


# esm_class to sm_default_msg_id of every receipt: the same octets each time, encoded once from SM_LAYOUT.
_RECEIPT_FIELDS: dict[str, str | int] = {
    "esm_class": codec.ESM_DELIVERY_RECEIPT, "protocol_id": 0, "priority_flag": 0, "schedule_delivery_time": "",
    "validity_period": "", "registered_delivery": 0, "replace_if_present_flag": 0, "data_coding": 0,
    "sm_default_msg_id": 0,
}  # fmt: skip
_RECEIPT_MIDDLE = codec.encode_fields("esm_class", "sm_default_msg_id", _RECEIPT_FIELDS.__getitem__)


def deliver_bodies(
    event: StoredEvent, sender: str | None, text: str, submitted_at: float, receipt_id: str | None = None
) -> list[bytes]:
    """One deliver_sm body per part id of the event's message; each is ``codec.encode_sm`` of its fields
    (tests/unit/smppfront/test_receipt_bodies.py), joined from pieces: the addresses once per event, the
    rest of the fixed fields once for all. ``receipt_id``: the id the ESME was given for the message when
    it is not the message's own (a submit_multi's further destinations, ``session.Multi``)."""
    assert event.message_id is not None and event.status is not None
    n = parts_of(event.reference)
    named = receipt_id or event.message_id
    ids = [named] if n == 1 else [f"{named}.{k}" for k in range(1, n + 1)]
    status = event.status
    state = MESSAGE_STATE.get(status, 7)
    err = 0
    if event.error is not None and event.error.native_code is not None:
        with contextlib.suppress(TypeError, ValueError):
            err = int(str(event.error.native_code), 0)
    to = event.to or ""
    src_ton, src_npi, src = address(to)
    dst_ton, dst_npi, dst = address(sender) if sender else (0, 0, "")
    values: dict[str, str | int] = {
        "service_type": "", "source_addr_ton": src_ton, "source_addr_npi": src_npi, "source_addr": src,
        "dest_addr_ton": dst_ton, "dest_addr_npi": dst_npi, "destination_addr": dst,
    }  # fmt: skip
    head = codec.encode_fields("service_type", "destination_addr", values.__getitem__) + _RECEIPT_MIDDLE
    dlvrd = 1 if status is DeliveryStatus.DELIVERED else 0
    submit_date, done_date, stat, short = (
        _date(submitted_at),
        _date(event.occurred_at),
        STAT_WORDS[state],
        text[:20],
    )
    state_tlv = codec.tlv(codec.TLV_MESSAGE_STATE, bytes((state,)))
    out = []
    for mid in ids:
        receipt = format_receipt(mid, 1, dlvrd, submit_date, done_date, stat, err, short).encode(
            "ascii", "replace"
        )
        if len(receipt) > 254:
            raise codec.CodecError("short_message longer than 254 octets", codec.ESME_RINVMSGLEN)
        tlvs = codec.tlv(codec.TLV_RECEIPTED_MESSAGE_ID, codec.cstr(mid)) + state_tlv
        out.append(b"".join((head, bytes((len(receipt),)), receipt, tlvs)))
    return out


@dataclass(slots=True)
class InFlight:
    """One event's deliver_sm on one link: done when every part is answered."""

    n: int
    waiting: set[int] = field(default_factory=set)
    failed: bool = False
    mo: bool = False  # an MO (counted apart from receipts), not a receipt


class ReceiptPump:
    def __init__(self, front: SmppFront, store: EventStore) -> None:
        self.front = front
        self.store = store
        self.wake = asyncio.Event()
        self.sent = 0  # receipt deliver_sm written (resends included)
        self.acked = 0  # receipt deliver_sm answered deliver_sm_resp OK
        self.delivered = 0  # receipt events every part of which was acked
        self.mo_sent = 0  # MO deliver_sm written (resends included)
        self.mo_delivered = 0  # MO events answered OK
        self._task: asyncio.Task[None] | None = None
        self._outcomes: list[EventOutcome] = []
        store.want_events(FORMAT, wanted_by_mask())

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()

    async def _run(self) -> None:
        while True:
            try:
                busy = await self.turn()
            except Exception as exc:  # the store may be down for a while: keep trying, say why
                log.warning("smpp receipts: %s", exc)
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), IDLE_SECONDS)
                self.wake.clear()

    async def turn(self) -> bool:
        """One claim and its deliver_sm written; True when it found work. The outcomes gathered since the
        last turn are recorded in the claim's own transaction (one commit a turn, not two or three); the
        ones this turn decides (skipped, held) go with the next claim, or :meth:`stop`'s flush."""
        receivers = self.front.receivers()
        if not receivers:
            await self._flush()
            return False
        done, self._outcomes = self._outcomes, []
        try:
            events = await self.store.claim_events(
                CLAIM,
                now=time.time(),
                lease=LEASE_SECONDS,
                formats=(FORMAT,),
                urls=[front_target(s).url for s in receivers],
                done=done,
            )
        except BaseException:
            self._outcomes[:0] = done  # not recorded: the next turn tries them again
            raise
        sendable = [(e, links) for e in events if (links := self._links(e, receivers))]
        # One read for the messages of the receipts that go out now (sender, text, created): a read per
        # event cost as much as the rest, and a skipped or held event needs none. Only what a receipt
        # quotes: whole records (Message models, histories) were a twentieth of the front's time.
        quotes = await self.store.quotes(
            [e.message_id for e, _ in sendable if e.type != INBOUND_EVENT and e.message_id is not None]
        )
        # One write per link for the whole turn: a write each cost a send() system call per deliver_sm.
        writes: dict[FrontSession, list[bytes]] = {}
        for event, links in sendable:
            self._send(event, links, quotes, writes)
        for link, pdus in writes.items():
            link.write(b"".join(pdus))
        return bool(events)

    def _links(self, event: StoredEvent, receivers: dict[str, list[FrontSession]]) -> list[FrontSession]:
        """The open links ``event`` may go out on now; none: its outcome (skipped, held) is recorded."""
        target = event.target
        is_mo = event.type == INBOUND_EVENT
        whole = (
            event.inbound is not None if is_mo else event.status is not None and event.message_id is not None
        )
        if target is None or not whole:
            self._outcomes.append(EventOutcome(event.n, SKIPPED, None, "not a status or inbound event"))
            return []
        if event.status is not None and not is_mo and not wanted(event.status, target.mask or 0):
            self._outcomes.append(EventOutcome(event.n, SKIPPED, None, f"registered_delivery {target.mask}"))
            return []
        links = [s for s in receivers.get(target.url.removeprefix("smpp://"), []) if not s.closed]
        if not links:
            self._outcomes.append(
                EventOutcome(event.n, PENDING, time.time() + RETRY_SECONDS, "no receiver bound")
            )
        return links

    def _send(
        self,
        event: StoredEvent,
        links: list[FrontSession],
        quotes: Mapping[str, Quote],
        writes: dict[FrontSession, list[bytes]],
    ) -> None:
        """Put the event's deliver_sm in ``writes`` for the least busy of ``links``."""
        is_mo = event.type == INBOUND_EVENT
        try:
            bodies = self._bodies(event, quotes)
        except ValueError as exc:  # an MO address SMPP cannot carry: no resend would change that
            self._outcomes.append(EventOutcome(event.n, FAILED, None, f"not sendable as deliver_sm: {exc}"))
            return
        link = min(links, key=lambda s: len(s.unacked))
        flight = InFlight(event.n, mo=is_mo)
        for body in bodies:
            seq = link.next_sequence()
            flight.waiting.add(seq)
            link.unacked[seq] = flight
            writes.setdefault(link, []).append(codec.pdu(codec.DELIVER_SM, 0, seq, body))
            if is_mo:
                self.mo_sent += 1
            else:
                self.sent += 1

    def _bodies(self, event: StoredEvent, quotes: Mapping[str, Quote]) -> list[bytes]:
        """The deliver_sm bodies of one event: the MO itself (mo.py), or one receipt per part id."""
        if event.type == INBOUND_EVENT:
            assert event.inbound is not None
            return [mo_body(event.inbound)]
        assert event.message_id is not None
        quote = quotes.get(event.message_id)
        if quote is None:
            return deliver_bodies(event, None, "", event.occurred_at)
        return deliver_bodies(event, quote.sender, quote.text, quote.created_at, quote.receipt_id)

    def answered(self, flight: InFlight, sequence: int, status: int) -> None:
        flight.waiting.discard(sequence)
        if status != codec.ESME_ROK:
            flight.failed = True
        elif not flight.mo:
            self.acked += 1
        if flight.waiting:
            return
        if flight.failed:
            self._outcomes.append(
                EventOutcome(
                    flight.n, PENDING, time.time() + RETRY_SECONDS, f"deliver_sm_resp 0x{status:08X}"
                )
            )
        else:
            if flight.mo:
                self.mo_delivered += 1
            else:
                self.delivered += 1
            self._outcomes.append(EventOutcome(flight.n, DELIVERED, None, None))
        self.wake.set()

    def dropped(self, flights: Sequence[InFlight]) -> None:
        """A link went away with these unanswered: pending again at once, for the next receiver."""
        for n in sorted({f.n for f in flights}):
            self._outcomes.append(EventOutcome(n, PENDING, time.time(), "the receiver's link dropped"))
        self.wake.set()

    async def _flush(self) -> None:
        if self._outcomes:
            outcomes, self._outcomes = self._outcomes, []
            await self.store.events_done(outcomes)
