"""The store interface: SQLite by default, PostgreSQL where several workers share a queue.

The store is where "never sent twice, never silently dropped" is enforced:
- every message is written (with its idempotency key) before it is sent;
- a claim makes a message *owned*, not in doubt: it stays QUEUED with its
  owner's token (``claimed_by``), and no other process claims, settles or
  resends it while that owner is live (SQLite: a lease in ``owners``,
  renewed while the store is open; PostgreSQL: a session advisory lock);
- a message is moved to MAYBE_SUBMITTED, durably, just before its request may
  be written (:meth:`Store.mark_in_doubt`), so a crash between the write and
  the answer leaves it in doubt, and a crash before the write leaves it
  queued, for the next run to claim as if it had never been claimed;
- receipts update status only through :func:`msgbridge.core.status.merge`;
- a receipt whose native id is not known yet is kept and matched when the
  send result that names that id is recorded.

Native ids are matched exactly on ``(link, native_id)``; a transport whose
peer spells one id two ways (SMPP hex vs decimal) normalises both sides
before they reach the store.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ErrorInfo, MessagingError
from msgbridge.core.message import RECEIPT_ID, DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.money import amount
from msgbridge.core.status import DeliveryStatus


class StoreError(MessagingError):
    """The database refused or failed a store call (cannot open the file, disk full, a broken table).

    Raised by every backend in place of its driver's own errors (``sqlite3.Error``,
    ``asyncpg.PostgresError``), so a caller handles one type whichever store it was given.
    """


@dataclass(frozen=True)
class OutboxEntry:
    """A message to write to the outbox, keyed for idempotency.

    ``idempotency_key`` is ``campaign + normalised recipient`` for campaigns,
    or the caller's reference; a second entry with the same key is ignored.
    """

    message: Message
    idempotency_key: str
    row: int | None = None
    # The expected price, (micros for all its segments, currency): recorded on the message's row.
    price: tuple[int, str] | None = None


# A history note of an earlier attempt on another transport (``SendResult.attempts``), before the result's.
ATTEMPT = "attempt via "


def attempt_note(transport: str, error: ErrorInfo | None) -> str:
    return f"{ATTEMPT}{transport}: {error}" if error is not None else f"{ATTEMPT}{transport}"


def attempt_of(note: str) -> tuple[str, str] | None:
    """(transport, what it said) of an attempt's note; None for any other note."""
    if not note.startswith(ATTEMPT):
        return None
    transport, _, said = note[len(ATTEMPT) :].partition(": ")
    return transport, said


@dataclass(slots=True)
class MessageRecord:
    """A message as the store holds it. Built for every message a claim hands out, so a plain slotted
    dataclass: a frozen one pays an ``object.__setattr__`` per field. Treat it as read-only all the same."""

    message: Message
    status: DeliveryStatus
    attempts: int
    native_id: str | None
    native_ids: tuple[str, ...]
    link: str | None
    segments: int
    last_error: ErrorInfo | None
    created_at: float
    updated_at: float
    history: tuple[tuple[float, DeliveryStatus, str], ...] = field(default=())
    # Read by ``Store.get`` only (a claim leaves them None): (micros, currency) expected and charged.
    price: tuple[int, str] | None = None
    cost: tuple[int, str] | None = None

    def tried(self) -> list[tuple[float, str, str]]:
        """Attempts on other transports before a result, from the history: (at, transport, what it said)."""
        return [(at, *found) for at, _, note in self.history if (found := attempt_of(note)) is not None]


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One recipient of a campaign as ``campaign export`` writes it; ``cursor`` pages on from it."""

    cursor: int
    csv_row: int | None
    phone: str
    message_id: str
    native_id: str | None
    status: DeliveryStatus
    error_code: str | None
    error_native_code: str | None  # JSON, as the peer gave it
    error_text: str | None
    segments: int
    created_at: float
    updated_at: float
    price: tuple[int, str] | None = None  # expected, (micros, currency)
    cost: tuple[int, str] | None = None  # what the provider said it charged


@dataclass(frozen=True, slots=True)
class CostTotal:
    """What a campaign's messages cost in one currency, in millionths of it (exact sums).

    ``price`` is the expected price of the ``priced`` messages queued with one; ``cost`` what providers
    said they charged for the ``costed`` ones whose answer says (a provider that reports nothing leaves
    ``costed`` at 0, which is not a cost of 0).
    """

    currency: str
    price: int
    priced: int
    cost: int
    costed: int

    def as_json(self) -> dict[str, object]:
        """Exact decimals for people, micros for programs (integers: sums stay exact); null for none known."""
        return {
            "currency": self.currency,
            "price": amount(self.price) if self.priced else None,
            "price_micros": self.price if self.priced else None,
            "priced": self.priced,
            "cost": amount(self.cost) if self.costed else None,
            "cost_micros": self.cost if self.costed else None,
            "costed": self.costed,
        }


@dataclass(frozen=True)
class CampaignRecord:
    name: str
    template: str
    sender: str | None
    transport: str | None  # redacted URL or config name
    created_at: float
    options: dict[str, str]


@dataclass(frozen=True)
class DoubtCounts:
    """MAYBE_SUBMITTED messages by whose they are: what a warning about them must tell apart."""

    left: int  # by a run that is gone (killed, crashed) or by this one: to settle
    held: int  # by another run that is still live: in flight there, never touched here


STATUS_EVENT = "message.status"
INBOUND_EVENT = "message.inbound"
# An event's delivery state (``StoredEvent.state``); None: recorded for GET /v1/events only.
PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
EVENT_STATES = (PENDING, DELIVERED, FAILED, SKIPPED)


class Quote(NamedTuple):
    """The little of a message a delivery receipt carries (:meth:`Store.quotes`)."""

    sender: str | None
    text: str
    created_at: float
    receipt_id: str | None = None  # the id the receipt names in the message's stead (``RECEIPT_ID``)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A status change or an inbound message as the store keeps it: written in the transaction that made
    the change, so there is no change without its event; delivered (at least once) from here."""

    n: int  # the cursor: increasing in commit order (GET /v1/events?cursor= pages by it)
    id: str  # event_id, "evt_" + 26 chars, unique, stable across redeliveries
    type: str  # "message.status" | "message.inbound"
    occurred_at: float
    message_id: str | None  # the message (status) / the inbound message id (inbound)
    status: DeliveryStatus | None
    native_status: str | None
    error: ErrorInfo | None
    segments: int | None
    reference: str | None  # read from the message row at read time (they never change)
    campaign: str | None
    to: str | None
    inbound: InboundMessage | None
    target: CallbackTarget | None  # None: recorded for GET /v1/events only, nothing to deliver
    # "pending" | "delivered" | "failed" (gave up) | "skipped" (format/mask said no); None: no target
    state: str | None
    attempts: int
    next_at: float | None  # when the worker may try it (pending only)
    last_error: str | None  # the last attempt's outcome, e.g. "HTTP 500: <first 1 KB of the body>"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What one delivery attempt of event ``n`` came to (:meth:`Store.events_done`).

    ``state`` "pending": try again at ``next_at`` (attempts + 1); "delivered", "failed" (given up),
    "skipped" (the target's format or mask wants no call for it) are final.
    """

    n: int
    state: str
    next_at: float | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class EventBacklog:
    pending: int  # events with a target not delivered yet (retries waiting included)
    failed: int  # given up on
    oldest_pending_at: float | None  # when the oldest pending one occurred


class Wakeups(Protocol):
    """What :meth:`Store.watch` returns: an async iterator of wake-ups that is its own async context manager."""

    def __aiter__(self) -> Wakeups: ...

    async def __anext__(self) -> None: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Wakeups: ...

    async def __aexit__(self, *exc: object) -> None: ...


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _translating(method: F) -> F:
    """``method`` raising :class:`StoreError` where its driver raised one of ``driver_errors``."""

    @functools.wraps(method)
    async def translated(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except self.driver_errors as exc:
            raise StoreError(self.error_text(exc)) from exc

    translated.__dict__["translated"] = True
    return translated  # type: ignore[return-value]


class Store(ABC):
    # What the backend's driver raises; every public coroutine of a subclass turns them into StoreError.
    driver_errors: ClassVar[tuple[type[Exception], ...]] = ()
    # Where inbound messages' events go (``[events] inbound_url``): set by the runtime before use. None: an
    # inbound message gets an event only when every change is recorded (``record_all_events``).
    inbound_target: CallbackTarget | None = None
    # Where one inbound message goes instead, when it says (the SMPP front routes MO by destination prefix to
    # its accounts, ``service/smppfront/mo.py``): called inside ``add_inbound``'s transaction, so it must be
    # quick and must not touch the store; None from it (or no router): ``inbound_target``.
    inbound_router: Callable[[InboundMessage], CallbackTarget | None] | None = None
    # ``[events] record = "all"``: every status change gets an event, for GET /v1/events, even of messages
    # with no target ("callbacks", the default: only those with one, so a store without callbacks pays
    # nothing for them).
    record_all_events: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if name.startswith("_") or not inspect.iscoroutinefunction(value):
                continue
            if not value.__dict__.get("translated"):
                setattr(cls, name, _translating(value))

    def inbound_target_of(self, message: InboundMessage) -> CallbackTarget | None:
        """The target of ``message``'s event: the router's when it names one, else ``inbound_target``."""
        if self.inbound_router is not None:
            routed = self.inbound_router(message)
            if routed is not None:
                return routed
        return self.inbound_target

    @abstractmethod
    def want_events(self, format: str, by_mask: Mapping[int | None, frozenset[DeliveryStatus]]) -> None:
        """Status events for targets of ``format`` only where ``by_mask[target.mask]`` holds the status (a
        mask not in it: every one), decided as the change is written (``eventrules.py``). A front registers
        what its masks mean; the store knows none of them."""

    def error_text(self, exc: Exception) -> str:
        """What a StoreError made from the driver's ``exc`` says: the driver's words, and where."""
        return str(exc)

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # campaigns
    @abstractmethod
    async def save_campaign(self, record: CampaignRecord) -> None: ...

    @abstractmethod
    async def get_campaign(self, name: str) -> CampaignRecord | None: ...

    @abstractmethod
    async def list_campaigns(self, limit: int) -> list[CampaignRecord]:
        """The ``limit`` campaigns created last, the newest first."""

    # outbox
    @abstractmethod
    async def enqueue(self, entries: Sequence[OutboxEntry]) -> list[str]:
        """Write entries in one transaction; return the ids of the messages now queued for them.

        For a key already present the existing message id is returned and
        nothing is written, so enqueueing the same campaign twice is harmless.
        """

    @abstractmethod
    async def claim(
        self,
        limit: int,
        *,
        campaign: str | None = None,
        include_maybe: bool = False,
        now: float | None = None,
        ids: Sequence[str] | None = None,
        origin: str | None = None,
    ) -> list[MessageRecord]:
        """Take up to ``limit`` QUEUED messages (due for retry at ``now``) for this store's owner, durably.

        The messages stay QUEUED: owned, not in doubt, until
        :meth:`mark_in_doubt` says their request may be written. Messages
        another live owner holds are never taken; a dead owner's are.
        With ``include_maybe`` messages already in MAYBE_SUBMITTED (and not
        held by a live owner) are taken too: the user has asked to resend
        what may have been sent. ``ids`` restricts the claim to those
        messages (a one-off send must not drain whatever else is queued);
        ``origin`` to messages whose idempotency key starts with it (the SMTP
        gateway's ``smtp:``), so a runner sends only what it queued.
        """

    @abstractmethod
    async def mark_in_doubt(self, message_ids: Sequence[str]) -> None:
        """Claimed messages whose request may be written now: MAYBE_SUBMITTED, durably, before the write."""

    @abstractmethod
    async def release(self, message_ids: Sequence[str]) -> None:
        """Claimed messages that were never written: unowned and QUEUED again, the claim's attempt undone."""

    @abstractmethod
    async def record_results(self, results: Sequence[SendResult], *, link: str) -> None:
        """Record send outcomes in one transaction, then match parked receipts for their native ids."""

    @abstractmethod
    async def requeue(
        self, message_ids: Sequence[str], *, not_before: float, error: ErrorInfo | None
    ) -> None:
        """Put messages back to QUEUED for a retry no earlier than ``not_before``."""

    @abstractmethod
    async def record_receipts(self, receipts: Sequence[DeliveryReceipt]) -> int:
        """Apply receipts through the merge rule; park unmatched ones. Returns how many matched."""

    @abstractmethod
    async def get(self, message_id: str) -> MessageRecord | None: ...

    async def get_many(self, message_ids: Sequence[str]) -> dict[str, MessageRecord]:
        """The records of those of ``message_ids`` the store knows, by id: one query where the store can,
        for a caller (an event pump) that needs a batch of messages at once."""
        found: dict[str, MessageRecord] = {}
        for message_id in dict.fromkeys(message_ids):
            record = await self.get(message_id)
            if record is not None:
                found[message_id] = record
        return found

    async def quotes(self, message_ids: Sequence[str]) -> dict[str, Quote]:
        """What a receipt quotes of each message the store knows (sender, text, when it was queued), by id:
        the SMPP front's pump reads one per receipt, and a whole record costs several times as much."""
        return {
            i: Quote(r.message.sender, r.message.text, r.created_at, r.message.metadata.get(RECEIPT_ID))
            for i, r in (await self.get_many(message_ids)).items()
        }

    async def csv_rows(self, message_ids: Sequence[str]) -> dict[str, int | None]:
        """The CSV line each message was queued from (``OutboxEntry.row``), for those the store knows.

        ``campaign run`` reads it for a phone its key says is queued already: a line of this file before
        the current one is a repeat within the file, anything else was queued by an earlier run. A store
        that does not keep the line returns {} and every such phone counts as queued before.
        """
        return {}

    @abstractmethod
    async def find_by_reference(self, reference: str) -> MessageRecord | None: ...

    @abstractmethod
    async def counts(self, campaign: str | None = None) -> dict[DeliveryStatus, int]: ...

    @abstractmethod
    async def cost_totals(self, campaign: str) -> list[CostTotal]:
        """The campaign's expected price and actual cost, one entry per currency either is in, by currency."""

    @abstractmethod
    async def pending_native_ids(self, link: str, limit: int) -> list[str]:
        """Native ids of messages on ``link`` not yet final: what a status poller asks about."""

    async def in_doubt(
        self, limit: int, *, campaign: str | None = None, origin: str | None = None
    ) -> list[MessageRecord]:
        """Up to ``limit`` MAYBE_SUBMITTED messages no other live owner holds: what a re-run must settle."""
        raise NotImplementedError

    async def doubt_counts(self, campaign: str | None = None, origin: str | None = None) -> DoubtCounts:
        """MAYBE_SUBMITTED messages: how many were left by owners that are gone, how many live ones hold."""
        raise NotImplementedError

    async def held_elsewhere(self, campaign: str | None = None, origin: str | None = None) -> int:
        """QUEUED messages another live run has claimed: in flight there, so neither unsent nor ours to send."""
        raise NotImplementedError

    async def next_due(self, *, campaign: str | None = None, origin: str | None = None) -> float | None:
        """When the earliest unowned QUEUED message becomes due (a retry waiting out its backoff), or None."""
        raise NotImplementedError

    async def export_page(
        self, campaign: str, *, status: DeliveryStatus | None = None, after: int = 0, limit: int = 1000
    ) -> list[ExportRecord]:
        """Up to ``limit`` of the campaign's messages after cursor ``after`` (0: from the first), in queue order."""
        raise NotImplementedError

    @abstractmethod
    async def cancel(self, campaign: str) -> int:
        """The campaign's QUEUED messages no live owner holds become CANCELED (final, never sent); returns
        how many.

        A retry waiting out its backoff is QUEUED too, so it is canceled. What a live owner has claimed is
        left alone, and so is MAYBE_SUBMITTED: its request may be on the wire already, and its result or
        receipt settles it. A message another store is changing at this very moment (a row locked in
        PostgreSQL) is left as well rather than waited for; a second call takes it if it is still queued.
        """

    # inbound
    @abstractmethod
    async def add_inbound(self, messages: Sequence[InboundMessage]) -> None: ...

    @abstractmethod
    async def list_inbound(self, limit: int = 100) -> list[InboundMessage]: ...

    @abstractmethod
    async def inbound_page(self, after: int | None, limit: int) -> list[tuple[int, InboundMessage]]:
        """Up to ``limit`` inbound messages stored after cursor ``after`` (None: from the first), oldest
        first, each with its cursor; the next page starts after the last one's.

        The cursor is the order rows were stored in (keyset pagination, like :meth:`export_page`): each
        page costs the same however far in, and a message stored while a reader pages on comes after
        the ones it has seen, never before them.
        """

    # events (written by record_results, record_receipts, cancel and add_inbound in their transactions)
    @abstractmethod
    async def events_page(
        self, after: int | None, limit: int, *, message_id: str | None = None, since: float | None = None
    ) -> list[StoredEvent]:
        """Up to ``limit`` events after cursor ``after`` (None: from the first), in cursor order; those of
        ``message_id`` only, or those that occurred at ``since`` or later, when given.

        The cursor follows commit order: an event committed while a reader pages on comes after the ones
        it has seen, never before them, so a receiver catching up by cursor misses none.
        """

    @abstractmethod
    async def claim_events(
        self,
        limit: int,
        *,
        now: float,
        lease: float,
        formats: Sequence[str] | None = None,
        urls: Sequence[str] | None = None,
        done: Sequence[EventOutcome] = (),
    ) -> list[StoredEvent]:
        """Pending events due at ``now``, at most one per (message, target): the lowest one not yet
        delivered, failed or skipped, so a later event never overtakes an earlier one. Each is leased to
        this store until ``now + lease`` (another store's claim leaves it alone meanwhile). ``formats`` /
        ``urls``: only targets of those formats / URLs (the SMPP front claims its own "smpp" ones).
        ``done``: outcomes of earlier claims, recorded first in the same transaction (as
        :meth:`events_done` records them), so a worker that claims again commits once, not twice."""

    @abstractmethod
    async def events_done(self, outcomes: Sequence[EventOutcome]) -> None:
        """Record delivery outcomes in one transaction; one whose lease another store has taken since (or
        that a replay made pending again) is left as it is."""

    @abstractmethod
    async def replay_events(self, *, since: float, message_id: str | None = None) -> int:
        """Events with a target that occurred at ``since`` or later (of ``message_id`` only, when given)
        become pending again, due now, attempts from zero; returns how many."""

    @abstractmethod
    async def event_backlog(self, *, formats: Sequence[str] | None = None) -> EventBacklog:
        """Events still to deliver and given up on; ``formats``: of those target formats only."""

    # wake-ups
    def watch(self) -> Wakeups:
        """Wake-ups for a process that drains the outbox, from other processes on the same store.

        An async iterator, also an async context manager (``async with store.watch() as wakes``), to
        iterate from one task and close when done. Its first step returns as soon as it listens (whatever
        was queued before that is for the caller to look for then); each later one once per burst of
        notifications: several arriving while the caller handles one wake-up give one more, not one each.
        A step may be waited for with a bound (``asyncio.wait_for``): cancelled, it loses nothing. The
        iteration ends when the store closes. A wake-up says "look now", never what changed: the caller
        claims as it would after a poll, so a lost one costs only latency, and a caller polls as well, at
        a slow pace, whatever this does.

        What notifies: :meth:`enqueue` when it queued anything new, :meth:`release` (messages given back,
        claimable now), :meth:`requeue` when the retry is due already (``not_before`` has passed); a
        retry due later is found by the caller's own :meth:`next_due`.

        Raises NotImplementedError where the backend has no notifications (SQLite: a process wakes its own
        lanes in-process when it queues, and another process's queueing is found by polling).
        """
        raise NotImplementedError(f"{type(self).__name__} sends no notifications: poll the outbox")
