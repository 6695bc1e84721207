"""The HTTP API's wire shapes: pydantic models, from which FastAPI writes the OpenAPI document.

Requests are checked here for shape only (types, lengths, unknown fields refused); what a value means
(is it a phone number, is the sender allowed, does the text fit) is the runtime's check, reported in the
same error shape. Responses are built from the contract's records by the ``from_*`` functions, so the
mapping from our records to the wire lives in this one module. The examples are made up and hold no key.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import InboundMessage
from msgbridge.core.money import amount
from msgbridge.core.phone import PhoneCheck
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.campaign import PrepareReport
from msgbridge.service.contract import (
    MAX_BATCH,
    Accepted,
    CampaignView,
    CircuitHealth,
    FrontHealth,
    RouteInfo,
    TransportHealth,
)
from msgbridge.service.front_metrics import command_status
from msgbridge.store.base import CostTotal, ExportRecord, MessageRecord

MAX_TEXT = 40_800  # 255 segments of 160 characters: the longest SMS any peer takes
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # transport and campaign names
MAX_PAGE = 1000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=MAX_TEXT)


class MessageIn(Strict):
    to: str = Field(min_length=1, max_length=64, examples=["+77011234567"])
    text: str = Field(max_length=MAX_TEXT, examples=["Your code is 1234"])
    sender: str | None = Field(default=None, max_length=64, examples=["Shop"])
    reference: str | None = Field(
        default=None, min_length=1, max_length=256, examples=["order-1001"],
        description="Your id for the message: the same reference under the same API key is queued once.",
    )  # fmt: skip
    transport: str | None = Field(
        default=None, max_length=128, examples=["sms", "auto", "route:kz"],
        description="A configured transport, `auto` (the first matching route) or `route:NAME`. "
        "Default: `auto` when routes are configured, else the first transport.",
    )  # fmt: skip
    region: str | None = Field(
        default=None, pattern=r"^[A-Za-z]{2}$", examples=["KZ"], description="For national numbers."
    )
    callback_url: str | None = Field(
        default=None, max_length=2048, examples=["https://app.example/sms-status"]
    )
    options: dict[str, str] = Field(default_factory=dict, max_length=64)


class BatchIn(Strict):
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_BATCH)


class AcceptedOut(BaseModel):
    id: str
    status: DeliveryStatus
    transport: str
    duplicate: bool = Field(
        description="The reference named an earlier message: this is its id and current status."
    )


class BatchOut(BaseModel):
    messages: list[AcceptedOut]


class ErrorOut(BaseModel):
    code: ErrorCode
    native_code: str | int | None = None
    native_message: str = ""


class HistoryOut(BaseModel):
    at: float
    status: DeliveryStatus
    note: str


class AmountOut(BaseModel):
    amount: str = Field(description="an exact decimal", examples=["0.05"])
    micros: int = Field(description="the same in millionths of the currency")
    currency: str = Field(examples=["EUR"])


def amount_out(value: tuple[int, str] | None) -> AmountOut | None:
    return None if value is None else AmountOut(amount=amount(value[0]), micros=value[0], currency=value[1])


class MessageOut(BaseModel):
    id: str
    to: str
    text: str
    sender: str | None
    reference: str | None
    campaign: str | None
    status: DeliveryStatus
    native_id: str | None
    native_ids: list[str]
    segments: int
    attempts: int
    created_at: float
    updated_at: float
    last_error: ErrorOut | None
    history: list[HistoryOut]
    price: AmountOut | None = Field(None, description="expected price, from the price tables, when queued")
    cost: AmountOut | None = Field(None, description="what the provider said it charged, where it says")


class RecipientIn(Strict):
    phone: str = Field(min_length=1, max_length=64, examples=["+77011234567"])
    fields: dict[str, str] = Field(default_factory=dict, max_length=256, examples=[{"name": "Aigerim"}])


class CampaignSpec(Strict):
    name: str = Field(pattern=NAME_PATTERN, examples=["spring-sale"])
    template: str = Field(min_length=1, max_length=MAX_TEXT, examples=["Hello {name}, 20% off today"])
    transport: str | None = Field(default=None, max_length=128, examples=["sms"])
    sender: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    phone_check: PhoneCheck = PhoneCheck.STRICT
    strict: bool = Field(default=False, description="Refuse the whole campaign if any recipient is bad.")
    options: dict[str, str] = Field(default_factory=dict, max_length=64)
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Every recipient's status events go here (a CSV column "
        "`callback_url` overrides it per row).",
    )


class CampaignIn(CampaignSpec):
    recipients: list[RecipientIn] = Field(min_length=1)


class CsvUploadForm(CampaignSpec):
    """The multipart form of a CSV upload: the campaign's fields, the file's reading options, and ``file``."""

    phone_column: str = Field(default="phone", min_length=1, max_length=128)
    encoding: str = Field(
        default="utf-8-sig", pattern=r"^[A-Za-z0-9_.-]{1,32}$", examples=["utf-8-sig", "cp1251"]
    )


class ProblemOut(BaseModel):
    line: int | None
    phone: str
    code: ErrorCode
    reason: str


class CampaignStartedOut(BaseModel):
    name: str
    rows: int
    queued: int
    already: int = Field(description="Recipients already queued by an earlier submission: not queued again.")
    skipped: int
    repeated: int
    segments: int
    problems: list[ProblemOut] = Field(description="The first bad rows (all are counted in skipped).")


class CostOut(BaseModel):
    currency: str
    price: str | None = Field(description="expected price of the priced messages, an exact decimal")
    price_micros: int | None = Field(description="the same in millionths of the currency")
    priced: int = Field(description="messages queued with an expected price in this currency")
    cost: str | None = Field(description="what providers said they charged, an exact decimal")
    cost_micros: int | None
    costed: int = Field(description="messages whose provider reported a cost (others are not a cost of 0)")


class CampaignOut(BaseModel):
    name: str
    template: str
    transport: str | None
    created_at: float
    counts: dict[DeliveryStatus, int]
    total: int
    done: int
    progress: float = Field(description="done / total, 0..1")
    costs: list[CostOut] | None = Field(
        default=None, description="per currency; in GET /v1/campaigns/{name} only (null in a listing)"
    )


class RecipientResultOut(BaseModel):
    cursor: int
    csv_row: int | None
    phone: str
    message_id: str
    native_id: str | None
    status: DeliveryStatus
    error_code: str | None
    error_native_code: str | None
    error_text: str | None
    segments: int
    updated_at: float


class RecipientPage(BaseModel):
    messages: list[RecipientResultOut]
    next_cursor: int | None = Field(description="Pass as ?cursor= for the next page; null: no more.")


class CanceledOut(BaseModel):
    name: str
    canceled: int


class InboundOut(BaseModel):
    id: str
    source: str
    destination: str
    text: str
    link: str
    received_at: float
    parts: int


class InboxPage(BaseModel):
    messages: list[InboundOut]
    next_cursor: int | None


class EventErrorOut(BaseModel):
    code: ErrorCode
    native_code: str | int | None
    native_text: str


class EventInboundOut(BaseModel):
    id: str
    source: str
    destination: str
    text: str
    link: str
    received_at: str = Field(description="ISO 8601, UTC")
    parts: int


class EventOut(BaseModel):
    """One event, exactly as a JSON callback posts it (``msgbridge.webhooks.payload.event_json``)."""

    event_id: str = Field(description="Unique and the same on every delivery: dedupe on it.")
    type: str = Field(examples=["message.status", "message.inbound"])
    message_id: str | None
    reference: str | None
    campaign: str | None
    to: str | None
    status: DeliveryStatus | None
    native_status: str | None
    error: EventErrorOut | None
    segments: int | None
    occurred_at: str = Field(description="ISO 8601, UTC", examples=["2026-12-03T08:26:33.123Z"])
    inbound: EventInboundOut | None = Field(
        default=None, description="message.inbound only (absent otherwise)"
    )


class EventPage(BaseModel):
    events: list[EventOut]
    next_cursor: int = Field(
        description="Pass as ?cursor= for the next page: the last event's cursor, or the one given when no "
        "event is newer (poll again with it later)."
    )


class LatencyOut(BaseModel):
    bounds: list[float]
    counts: list[int]
    total: int
    sum: float


class CircuitOut(BaseModel):
    """The transport's circuit breaker, shared by every route that names it ([breaker])."""

    state: str = Field(
        examples=["closed"], description="closed | open (routes skip it) | half_open (the next routed send probes it)"
    )
    failures: int = Field(description="consecutive connection-level failures")
    opened: int = Field(description="times it opened since the service started")
    probe_in: float | None = Field(description="open: seconds until the half-open probe may go; else null")


class RouteOut(BaseModel):
    name: str
    transport: str = Field(
        examples=["route:kz"], description="what a message's `transport` names to send it by this route"
    )
    strategy: str = Field(examples=["failover"], description="failover | weighted | cheapest")
    transports: list[str]


class TransportOut(BaseModel):
    name: str
    scheme: str
    up: bool
    binds_up: int | None
    binds: int | None
    in_flight: int
    throttled: bool
    throttle_events: int
    sent: dict[DeliveryStatus, int]
    receipts_matched: int
    receipts_parked: int
    last_error: ErrorOut | None
    last_error_at: float | None
    submit_latency: LatencyOut
    circuit: CircuitOut | None = Field(default=None, description="null when no route names this transport")


class SmppFrontOut(BaseModel):
    """The SMPP front's counters (cumulative since it started) and what it holds now."""

    sessions: int = Field(description="connections open, bound or not")
    binds: dict[str, dict[str, int]] = Field(description="binds up now: system_id -> tx / rx / trx -> count")
    bind_failures: int
    submitted: dict[str, int] = Field(description="messages accepted into the outbox, by system_id")
    throttled: dict[str, dict[str, int]] = Field(
        description="submits answered ESME_RTHROTTLED: system_id -> tps / window -> count"
    )
    refused: dict[str, int] = Field(description="other refused submits, by command_status (0x%08X)")
    receipts_held: int = Field(description="receipt events pending in the store for the front's accounts")
    receipts_sent: int = Field(description="deliver_sm written, resends included")
    receipts_acked: int = Field(description="deliver_sm answered deliver_sm_resp OK")
    receipts_delivered: int = Field(description="receipt events done (every part acked)")
    receipts_waiting: int = Field(description="deliver_sm written, not answered yet")
    mo_sent: int = Field(description="MO deliver_sm written to the accounts, resends included")
    mo_delivered: int = Field(description="MO events answered deliver_sm_resp OK")
    slow_readers_dropped: int
    half_open_closed: int
    unbound_closed: int
    generic_nack_sent: int


class TransportsOut(BaseModel):
    transports: list[TransportOut]
    routes: list[RouteOut] = Field(
        default_factory=list,
        description="the [[routes]] in order (a message naming transport `auto` takes the first that matches)",
    )
    smpp_front: SmppFrontOut | None = Field(
        default=None, description="the SMPP front when `[smpp_front]` is configured, else null"
    )


class HealthOut(BaseModel):
    status: str = "ok"


class ReadyOut(BaseModel):
    ready: bool
    draining: bool
    transports: dict[str, bool]


def accepted_json(a: Accepted) -> dict[str, object]:
    """One accepted message as its JSON object: built directly, a batch of 10,000 is built on the hot path."""
    return {"id": a.id, "status": a.status.value, "transport": a.transport, "duplicate": a.duplicate}


def from_error(e: ErrorInfo | None) -> ErrorOut | None:
    if e is None:
        return None
    return ErrorOut(code=e.code, native_code=e.native_code, native_message=e.native_message)


def from_record(r: MessageRecord) -> MessageOut:
    m = r.message
    return MessageOut(
        id=m.id, to=m.to, text=m.text, sender=m.sender, reference=m.reference, campaign=m.campaign,
        status=r.status, native_id=r.native_id, native_ids=list(r.native_ids), segments=r.segments,
        attempts=r.attempts, created_at=r.created_at, updated_at=r.updated_at, last_error=from_error(r.last_error),
        history=[HistoryOut(at=at, status=s, note=note) for at, s, note in r.history],
        price=amount_out(r.price), cost=amount_out(r.cost),
    )  # fmt: skip


def from_report(r: PrepareReport) -> CampaignStartedOut:
    return CampaignStartedOut(
        name=r.campaign, rows=r.rows, queued=r.queued, already=r.already, skipped=r.skipped,
        repeated=r.repeated, segments=r.segments,
        problems=[ProblemOut(line=p.line, phone=p.phone, code=p.code, reason=p.reason) for p in r.problems[:100]],
    )  # fmt: skip


def from_view(v: CampaignView) -> CampaignOut:
    return CampaignOut(
        name=v.name, template=v.template, transport=v.transport, created_at=v.created_at,
        counts=dict(v.counts), total=v.total, done=v.done, progress=(v.done / v.total) if v.total else 0.0,
        costs=None if v.costs is None else [from_cost(t) for t in v.costs],
    )  # fmt: skip


def from_cost(t: CostTotal) -> CostOut:
    return CostOut.model_validate(t.as_json())


def from_export(r: ExportRecord) -> RecipientResultOut:
    return RecipientResultOut(
        cursor=r.cursor, csv_row=r.csv_row, phone=r.phone, message_id=r.message_id, native_id=r.native_id,
        status=r.status, error_code=r.error_code, error_native_code=r.error_native_code,
        error_text=r.error_text, segments=r.segments, updated_at=r.updated_at,
    )  # fmt: skip


def from_inbound(m: InboundMessage) -> InboundOut:
    return InboundOut(
        id=m.id, source=m.source, destination=m.destination, text=m.text, link=m.link,
        received_at=m.received_at, parts=m.parts,
    )  # fmt: skip


def from_front(h: FrontHealth, *, held: int) -> SmppFrontOut:
    return SmppFrontOut(
        sessions=h.sessions, binds={k: dict(v) for k, v in h.binds.items()}, bind_failures=h.bind_failures,
        submitted=dict(h.submitted), throttled={k: dict(v) for k, v in h.throttled.items()},
        refused={command_status(k): v for k, v in sorted(h.refused.items())}, receipts_held=held,
        receipts_sent=h.receipts_sent, receipts_acked=h.receipts_acked, receipts_delivered=h.receipts_delivered,
        receipts_waiting=h.receipts_waiting, mo_sent=h.mo_sent, mo_delivered=h.mo_delivered,
        slow_readers_dropped=h.slow_readers_dropped,
        half_open_closed=h.half_open_closed, unbound_closed=h.unbound_closed, generic_nack_sent=h.generic_nack_sent,
    )  # fmt: skip


def from_route(r: RouteInfo) -> RouteOut:
    return RouteOut(name=r.name, transport=r.lane, strategy=r.strategy, transports=list(r.transports))


def from_circuit(c: CircuitHealth | None) -> CircuitOut | None:
    if c is None:
        return None
    return CircuitOut(state=c.state, failures=c.failures, opened=c.opened, probe_in=c.probe_in)


def from_health(h: TransportHealth) -> TransportOut:
    lat = h.submit_latency
    return TransportOut(
        name=h.name, scheme=h.scheme, up=h.up, binds_up=h.binds_up, binds=h.binds, in_flight=h.in_flight,
        throttled=h.throttled, throttle_events=h.throttle_events, sent=dict(h.sent),
        receipts_matched=h.receipts_matched, receipts_parked=h.receipts_parked,
        last_error=from_error(h.last_error), last_error_at=h.last_error_at,
        submit_latency=LatencyOut(bounds=list(lat.bounds), counts=list(lat.counts), total=lat.total, sum=lat.sum),
        circuit=from_circuit(h.circuit),
    )  # fmt: skip
