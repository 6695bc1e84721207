"""What a front (the HTTP API, the Python client, later a Kannel or SMPP front) may ask of the running gateway.

The fronts know this Protocol and its records only, never the dispatcher or the store's tables, so the
runtime can change how it sends without a front changing, and a front's tests state exactly what they use.
Everything here is plain data: a front turns it into its own wire shapes (pydantic models for HTTP).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from msgbridge.adapters.base import Transport
from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, InboundMessage
from msgbridge.core.phone import PhoneCheck
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.campaign import PrepareReport, Row
from msgbridge.dispatch.plan import CampaignPlan
from msgbridge.store.base import CostTotal, EventBacklog, ExportRecord, MessageRecord, StoredEvent

# The idempotency-key prefix of everything a front queues through the runtime; the rest of the key is
# ``<transport>:<scope>:<reference>`` (or ``<transport>:id:<message id>`` without a reference), so each
# transport's lane claims only its own messages (``Store.claim(origin=...)``) and a reference repeated under
# the same scope (an API key) finds the first submission.
ORIGIN = "api:"

MAX_BATCH = 10_000  # the most messages one accept() call (one POST /v1/messages) may carry


@dataclass(frozen=True, slots=True)
class Submission:
    """One message as a front received it, before any check: the runtime validates and normalises."""

    to: str  # E.164, or national with ``region``
    text: str
    sender: str | None = None
    reference: str | None = None  # the caller's id: the same reference under the same scope is queued once
    transport: str | None = None  # one of ``Gateway.transport_names``; None: the default one
    region: str | None = None
    # Where its status events go: a JSON callback (``callback_url``) or a target of any format (``callback``);
    # not both. Neither: the API key's, else the transport's default, if configured.
    callback_url: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    callback: CallbackTarget | None = None
    validity: timedelta | None = None  # Message.validity: how long the SMSC may keep trying
    scheduled_at: datetime | None = (
        None  # Message.scheduled_at: handed to the transport (SMPP schedule_delivery_time)
    )


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with one submission: ``index`` in the batch, the field by its wire name."""

    index: int
    field: str  # "to", "text", "sender", "transport", ...
    code: ErrorCode  # INVALID_ARGUMENT; INVALID_DESTINATION for a bad phone, INVALID_SENDER for a bad sender
    message: str


class InvalidSubmission(ConfigError):
    """Raised by :meth:`Gateway.accept` before anything is queued: every problem of the batch, by index."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = tuple(errors)
        first = self.errors[0] if self.errors else None
        text = f"{len(self.errors)} invalid submission(s)" + (
            f"; first: [{first.index}].{first.field}: {first.message}" if first else ""
        )
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A submission durably in the outbox (the commit has returned), or the one its reference named."""

    id: str
    status: DeliveryStatus  # QUEUED when new; the current status when ``duplicate``
    transport: str
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class CampaignSubmission:
    name: str
    template: str
    transport: str | None = None  # a configured name; None: the default one
    sender: str | None = None
    region: str | None = None
    phone_check: PhoneCheck = PhoneCheck.STRICT
    strict: bool = (
        False  # refuse the whole campaign if any row is bad (rows are read twice: give a re-iterable)
    )
    options: Mapping[str, str] = field(default_factory=dict)
    callback_url: str | None = None  # every recipient's (a CSV column ``callback_url`` overrides it per row)


@dataclass(frozen=True, slots=True)
class CampaignView:
    name: str
    template: str
    transport: str | None
    created_at: float
    counts: Mapping[DeliveryStatus, int]  # every message of the campaign by status
    total: int
    done: int  # in a final status
    # Expected price and actual cost per currency (``Store.cost_totals``); None where not read (a listing).
    costs: tuple[CostTotal, ...] | None = None


@dataclass(frozen=True, slots=True)
class Latency:
    """A cumulative histogram since start, Prometheus-style: ``counts[i]`` observations ``<= bounds[i]``."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: int
    sum: float


@dataclass(frozen=True, slots=True)
class CircuitHealth:
    """A routed-to transport's circuit (``msgbridge.core.breaker``): while open, routes skip it."""

    state: str  # "closed" | "open" | "half_open" (the cool-down is over: the next routed send probes it)
    failures: int  # consecutive connection-level failures
    opened: int  # times it opened since this process started
    probe_in: float | None = None  # open: seconds until the half-open probe may go


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One ``[[routes]]`` entry as ``GET /v1/transports`` lists it."""

    name: str
    lane: str  # what a submission names to send every message through it: ``route:<name>``
    strategy: str  # "failover" | "weighted" | "cheapest"
    transports: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TransportHealth:
    """One configured transport as ``GET /v1/transports``, ``/readyz`` and ``/metrics`` show it. Counters are
    cumulative since this process started; nothing in here may hold a secret (names and schemes only)."""

    name: str
    scheme: str
    up: bool  # open and usable now (SMPP: at least one bind up)
    binds_up: int | None  # SMPP only
    binds: int | None
    in_flight: int  # requests written and not yet answered
    throttled: bool  # the peer is throttling us right now
    throttle_events: int
    sent: Mapping[DeliveryStatus, int]  # results recorded by this process, by the status they gave
    receipts_matched: int
    receipts_parked: int  # received before their message's send result, or for no message we know
    last_error: ErrorInfo | None
    last_error_at: float | None
    # One observation per chunk the dispatcher sent: seconds from handing its first message to the transport
    # until its last answer (a chunk is what one claim took, up to a window's worth or half a second of work).
    submit_latency: Latency
    circuit: CircuitHealth | None = None  # None: no route names this transport


@dataclass(frozen=True, slots=True)
class FrontHealth:
    """The SMPP front as ``GET /v1/transports`` (its ``smpp_front`` block) and ``/metrics``
    (``msgbridge_smpp_front_*``) show it. Counters are cumulative since the front started; the labels are
    account names (system_id), bind types and command_status values, never a password."""

    sessions: int  # connections open, bound or not
    binds: Mapping[str, Mapping[str, int]]  # system_id -> bind type ("tx", "rx", "trx") -> binds up now
    bind_failures: int  # binds refused (any reason: the ESME is not told which)
    submitted: Mapping[str, int]  # system_id -> messages accepted into the outbox (resends not counted)
    throttled: Mapping[
        str, Mapping[str, int]
    ]  # system_id -> "tps" / "window" -> PDUs answered ESME_RTHROTTLED
    refused: Mapping[int, int]  # command_status -> submit PDUs refused so (the front's own throttles apart)
    receipts_sent: int  # deliver_sm written (resends included)
    receipts_acked: int  # deliver_sm answered deliver_sm_resp OK
    receipts_delivered: int  # events done: every part of the receipt acked
    receipts_waiting: int  # deliver_sm written and not answered yet (the rest are held in the store)
    mo_sent: int  # MO deliver_sm written (resends included)
    mo_delivered: int  # MO events answered deliver_sm_resp OK
    slow_readers_dropped: int  # receivers dropped for not reading what was written
    half_open_closed: int  # links closed after enquire_link went unanswered
    unbound_closed: int  # connections closed for not binding within session_init seconds
    generic_nack_sent: int


class FrontMonitor(Protocol):
    """What the HTTP app reads of a front (:class:`~msgbridge.service.smppfront.server.SmppFront` has it),
    so the API does not depend on the front's package."""

    def health(self) -> FrontHealth: ...


@dataclass(frozen=True, slots=True)
class Event:
    """A status change or an inbound message, as :meth:`Gateway.events` yields them (in-process, live only)."""

    type: Literal["message.status", "message.inbound"]
    occurred_at: float
    message_id: str | None = None
    status: DeliveryStatus | None = None
    reference: str | None = None
    campaign: str | None = None
    to: str | None = None
    error: ErrorInfo | None = None
    inbound: InboundMessage | None = None


class Gateway(Protocol):
    """The running gateway: transports open, the outbox drained, receipts matched whenever they arrive."""

    @property
    def transport_names(self) -> Sequence[str]:
        """What a submission may name: the configured transports, then (with ``[[routes]]``) ``auto`` and
        ``route:NAME`` for each route."""
        ...

    @property
    def default_transport(self) -> str: ...  # where a submission naming none goes: ``auto`` with routes

    def carriers(self, name: str) -> Sequence[str]:
        """The configured transports a submission to ``name`` may go out on: ``name`` itself, or the
        transports of its route(s). An API key limited to some transports may use ``name`` only if it may
        use all of these."""
        ...

    def routes(self) -> Sequence[RouteInfo]: ...  # the [[routes]] in order; empty without

    def ready(self) -> bool: ...  # the store is open and at least one transport is up

    async def accept(self, items: Sequence[Submission], *, scope: str = "") -> list[Accepted]:
        """Validate all, then queue all in one commit shared with concurrent callers (group commit); the
        lanes are woken. Raises InvalidSubmission (nothing queued) or StoreError. At most MAX_BATCH items."""
        ...

    async def message(self, message_id: str) -> MessageRecord | None: ...

    async def start_campaign(
        self, campaign: CampaignSubmission, rows: Iterable[Row], *, scope: str = ""
    ) -> PrepareReport:
        """Stream ``rows`` into the outbox (a reused name raises ConfigError) and return once every row is
        queued or reported; the transport's lane sends meanwhile and afterwards. ``scope``: the API key it
        came with (its default callback, and the secret signing the campaign's callbacks)."""
        ...

    async def plan_campaign(self, campaign: CampaignSubmission, rows: Iterable[Row]) -> CampaignPlan:
        """What ``start_campaign`` would queue, where it would go and what it would cost
        (:mod:`msgbridge.dispatch.plan`); nothing is written or sent."""
        ...

    async def campaign(self, name: str) -> CampaignView | None: ...

    async def campaigns(self, limit: int = 20) -> list[CampaignView]: ...  # the newest first

    async def campaign_messages(
        self, name: str, *, status: DeliveryStatus | None = None, after: int | None = None, limit: int = 100
    ) -> list[ExportRecord]:
        """One page in order; the next page starts ``after`` the last record's ``cursor``."""
        ...

    async def cancel_campaign(self, name: str) -> int:
        """Queued messages of the campaign become CANCELED (never sent); returns how many. Unknown: ConfigError."""
        ...

    async def inbox(
        self, *, after: int | None = None, limit: int = 100
    ) -> tuple[list[InboundMessage], int | None]:
        """One page of MO messages, oldest first, and the cursor of the next page (None: no more)."""
        ...

    async def queue_depth(self) -> Mapping[DeliveryStatus, int]: ...  # the whole store by status

    def health(self) -> list[TransportHealth]: ...

    def throughput(self) -> Sequence[tuple[float, int, int]]:
        """Per second over the last 15 minutes, oldest first: (second, results recorded, receipts stored)."""
        ...

    def events(self) -> AsyncIterator[Event]: ...  # from now on, until the runtime closes

    async def events_page(
        self, after: int | None, limit: int, *, message_id: str | None = None, since: float | None = None
    ) -> list[StoredEvent]:
        """Stored events after cursor ``after`` in commit order (see ``Store.events_page``)."""
        ...

    async def event_backlog(
        self, *, formats: Sequence[str] | None = None
    ) -> EventBacklog: ...  # events still to deliver, and given up on (of ``formats`` only, when given)

    def transport(
        self, name: str
    ) -> Transport | None: ...  # the configured transport so named (None: unknown)

    async def provider_push(
        self,
        transport: str,
        receipts: Sequence[DeliveryReceipt],
        inbound: Sequence[InboundMessage],
        *,
        push_id: str | None = None,
    ) -> None:
        """Record what a provider pushed to ``transport`` (receipts matched or parked, MO stored), then announce
        it; a ``push_id`` already recorded lately (the provider's retry of one push) is recorded no second time."""
        ...

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 -- the deadline is the point
        """Stop claiming, let what is in flight be answered up to ``timeout``, record receipts meanwhile, give
        back what was never written (QUEUED; what may have been written stays MAYBE_SUBMITTED), close."""
        ...
