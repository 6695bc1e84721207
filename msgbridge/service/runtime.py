"""The running gateway: the store open, every transport open in its lane, receipts stored whenever they come.

:class:`Runtime` implements :class:`~msgbridge.service.contract.Gateway`, which is all a front (the HTTP API,
the Python :class:`~msgbridge.service.client.Client`) sees. ``accept()`` checks a whole batch first and
queues it in one commit shared with concurrent callers (``GroupCommit``), so an answer means the messages
are durably in the outbox; then the lane of each transport concerned is woken and claims them at once.

Callbacks: a message carries the target its status events go to (``metadata["callback"]``, kept by the store
in a column of its own): its own (``Submission.callback`` or ``callback_url``; a campaign row's
``callback_url`` column), else the API key's default (``callback_url`` in the key file), the campaign's, or
the transport's (``[transports.NAME] callback_url``). What a caller names is checked against SSRF here
(``core.callbacks``), names resolved off the event loop; defaults are the operator's, checked for form.

Routes: with ``[[routes]]`` (``routing``) the runtime also has a lane ``auto`` and one ``route:NAME`` per
route, each sending through a routed transport over the plain lanes' transports (:mod:`msgbridge.service.routes`);
a submission that names no transport goes to ``auto``.

Keys: a submission is queued under ``api:<transport>:<scope>:<reference>`` (or ``api:<transport>:id:<id>``
without a reference), a campaign started here under ``api:<transport>:c:<campaign>:<e164>``; each lane
claims origin ``api:<transport>:``. So a retried reference finds its first message, a restart resumes
exactly what this service queued, and the CLI's own campaigns and sends (other keys) are never taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Self

from msgbridge.adapters.base import ReportsHealth, Transport, open_transport
from msgbridge.config import Config, EventSettings, WebhookSettings
from msgbridge.core.callbacks import CallbackTarget, RowCallbacks, target_problem
from msgbridge.core.errors import ConfigError, ErrorCode, MessagingError
from msgbridge.core.message import CALLBACK, Campaign, DeliveryReceipt, InboundMessage, Message
from msgbridge.core.status import FINAL, DeliveryStatus
from msgbridge.core.template import check as check_template
from msgbridge.dispatch.campaign import PrepareReport, Row, message_ids, validate_rows, write_rows
from msgbridge.dispatch.plan import CampaignPlan, Decisions, PlanVia, plan_rows, plan_via
from msgbridge.inbound.group_commit import GroupCommit
from msgbridge.routing.config import RoutingConfig
from msgbridge.routing.transport import AUTO, RoutedTransport
from msgbridge.service.apikeys import KeyRing, read_keys
from msgbridge.service.contract import (
    ORIGIN,
    Accepted,
    CampaignSubmission,
    CampaignView,
    CircuitHealth,
    Gateway,
    RouteInfo,
    Submission,
    TransportHealth,
)
from msgbridge.service.events import EventHub, Subscription
from msgbridge.service.lane import IDLE, Lane
from msgbridge.service.routes import RouteTable, circuits
from msgbridge.service.throughput import Throughput
from msgbridge.service.validation import (
    FRONT_FORMAT,
    check_batch,
    front_target_problem,
    own_target,
    sender_problem,
)
from msgbridge.store import open_store
from msgbridge.store.base import (
    CampaignRecord,
    EventBacklog,
    ExportRecord,
    MessageRecord,
    OutboxEntry,
    Store,
    StoredEvent,
)
from msgbridge.webhooks.worker import WebhookWorker, WorkerFactory, configured, worker_factory

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = 10.0  # what ``async with Runtime(...)`` gives in-flight requests on exit
PUSHES_REMEMBERED = 10_000  # provider push ids kept to tell a provider's retry of a recorded push


class NotAccepting(MessagingError):
    """The runtime is draining or closed: nothing new is queued (a front answers 503)."""

    default_code = ErrorCode.TEMPORARY_FAILURE


def lane_origin(transport: str) -> str:
    """The idempotency-key prefix the lane of ``transport`` claims."""
    return f"{ORIGIN}{transport}:"


def submission_key(transport: str, scope: str, reference: str | None, message_id: str) -> str:
    if reference is not None:
        return f"{lane_origin(transport)}{scope}:{reference}"
    return f"{lane_origin(transport)}id:{message_id}"


def campaign_prefix(transport: str) -> str:
    """What goes in front of ``<campaign>:<e164>`` for a campaign started through the runtime."""
    return f"{lane_origin(transport)}c:"


class Runtime:
    """The gateway as a long-running service (``async with Runtime(store=..., transports={...}) as rt``).

    ``transports`` maps configured names to URLs (or to Transport instances not yet opened); ``default``
    is the one a submission without a transport goes to (when not given: ``auto`` with ``routing``'s routes,
    else the first name). ``routing`` adds the routed lanes (``service.routes``). ``tps`` caps each
    lane's rate; ``concurrency`` is each dispatcher's number of workers. ``events`` says which changes are
    kept as events and where callbacks may go; ``transport_callbacks`` are the transports' default callback
    URLs, ``keys`` the API keys whose ``callback_url`` is the default of what is sent with them.
    """

    def __init__(
        self,
        *,
        store: str | Store | None = None,
        transports: Mapping[str, str | Transport],
        default: str | None = None,
        tps: float | Mapping[str, float] | None = None,
        concurrency: int = 4,
        idle: float = IDLE,
        drain_timeout: float = DRAIN_TIMEOUT,
        webhooks: WorkerFactory | None = None,
        events: EventSettings | None = None,
        transport_callbacks: Mapping[str, str] | None = None,
        keys: KeyRing | None = None,
        routing: RoutingConfig | None = None,
    ) -> None:
        if not transports:
            raise ConfigError("a runtime needs at least one transport")
        names = [n.lower() for n in transports]
        self.route_table = RouteTable(routing or RoutingConfig(), names)
        every = [*names, *self.route_table.names]
        chosen = (default or (AUTO if self.route_table else names[0])).lower()
        if chosen not in every:
            raise ConfigError(f"default transport {default!r} is not among {', '.join(every)}")
        self._default = chosen
        self._names = [*((chosen,) if chosen in names else ()), *(n for n in names if n != chosen)]
        self._lane_names = frozenset(every)
        self._specs = {n.lower(): spec for n, spec in transports.items()}
        self._store_spec = store
        self._tps = tps
        self.concurrency = concurrency
        self.idle = idle
        self.drain_timeout = drain_timeout
        self.event_settings = events or EventSettings()
        self._transport_callbacks = {n.lower(): url for n, url in (transport_callbacks or {}).items()}
        self._keys = keys
        self.hub = EventHub()
        self.meter = Throughput()
        self.lanes: dict[str, Lane] = {}  # the plain lanes first, then the routed ones
        self.routed: dict[str, RoutedTransport] = {}
        self._store: Store | None = None
        self._commit: GroupCommit | None = None
        self._accepting = False
        self._closed = False
        self._webhooks = webhooks  # makes the callback worker once the store is open (None: default settings)
        self.webhooks: WebhookWorker | None = None
        self._pushed: OrderedDict[tuple[str, str], None] = OrderedDict()  # (transport, push id) recorded

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        names: Sequence[str] | None = None,
        default: str | None = None,
        store: str | None = None,
        tps: float | Mapping[str, float] | None = None,
        concurrency: int = 4,
        idle: float = IDLE,
        drain_timeout: float = DRAIN_TIMEOUT,
    ) -> Runtime:
        """Every transport configured (or those ``names``), on the configured store unless ``store`` is given."""
        chosen = [n.lower() for n in names] if names else list(config.transports)
        if not chosen:
            raise ConfigError(
                "no transport configured (add [transports] to msgbridge.toml or set MSGBRIDGE_TRANSPORT_<NAME>)"
            )
        transports: dict[str, str | Transport] = {n: config.resolve_via(n) for n in chosen}
        return cls(
            routing=config.routing,
            store=store or config.store,
            transports=transports,
            default=default,
            tps=tps,
            concurrency=concurrency,
            idle=idle,
            drain_timeout=drain_timeout,
            webhooks=configured(config),
            events=config.events,
            transport_callbacks=config.transport_callbacks,
            keys=KeyRing(read_keys(config.apikeys_file).values(), path=config.apikeys_file),
        )

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            raise NotAccepting("the runtime is not started")
        return self._store

    async def start(self) -> None:
        """Open the store and start every lane; transports open in the background (see :meth:`ready`)."""
        transports = {
            n: spec if isinstance(spec, Transport) else open_transport(spec)
            for n, spec in self._specs.items()
        }  # bad URLs refused before the store is touched
        store = self._store_spec if isinstance(self._store_spec, Store) else open_store(self._store_spec)
        await store.open()
        settings = self.event_settings
        store.record_all_events = settings.record_all
        store.inbound_target = CallbackTarget(settings.inbound_url) if settings.inbound_url else None
        self._store = store
        self._commit = GroupCommit(store)
        for name in self._names:
            self._start_lane(name, transports[name], inbound=True)
        self.routed = self.route_table.transports(transports)
        for name, routed in self.routed.items():
            carriers = {self.lanes[n].transport.link: self.lanes[n] for n in routed.children}
            self._start_lane(name, routed, receipts=False, carriers=carriers)
        make = self._webhooks or worker_factory(
            WebhookSettings(), ring=self._keys, allow_private=self.event_settings.allow_private_callbacks
        )
        self.webhooks = make(store, self.hub)
        self.webhooks.start()
        self._accepting = True

    def _start_lane(
        self,
        name: str,
        transport: Transport,
        *,
        inbound: bool = False,
        receipts: bool = True,
        carriers: Mapping[str, Lane] | None = None,
    ) -> None:
        assert self._store is not None
        tps = self._tps.get(name) if isinstance(self._tps, Mapping) else self._tps
        lane = Lane(
            self._store,
            transport,
            origin=lane_origin(name),
            name=name,
            tps=tps,
            concurrency=self.concurrency,
            idle=self.idle,
            receipts=receipts,
            inbound=inbound,
            hub=self.hub,
            carriers=carriers,
        )
        self.lanes[name] = lane
        self.meter.attach(lane.dispatcher)
        lane.start()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.drain(self.drain_timeout)

    async def wait_ready(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109 -- a bounded wait is the point
        """Wait until :meth:`ready` (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 -- the deadline is the point
        """Stop accepting and claiming; in flight answered up to ``timeout``; receipts stored; all closed."""
        if self._closed:
            return
        self._closed = True
        self._accepting = False
        deadline = time.monotonic() + timeout
        try:
            # Every lane stops claiming at once; the plain lanes close their transports only once the routed
            # lanes, which send through them, have had their in-flight answered.
            routed = [n for n in self.lanes if n in self.routed]
            plain = [n for n in self.lanes if n not in self.routed]
            sending = asyncio.ensure_future(
                asyncio.gather(*(self.lanes[n].drain(timeout) for n in routed), return_exceptions=True)
            )
            closing = await asyncio.gather(
                *(self.lanes[n].drain(timeout, before_close=sending) for n in plain), return_exceptions=True
            )
            outcomes = [*await sending, *closing]
            for name, outcome in zip([*routed, *plain], outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    log.error("%s: drain failed: %s", name, outcome)
            if self.webhooks is not None:  # after the lanes: their last results' events may still go out
                await self.webhooks.stop(max(0.0, deadline - time.monotonic()))
        finally:
            self.hub.close()
            if self._store is not None:
                await self._store.close()

    # -- Gateway ------------------------------------------------------------------------------------

    @property
    def transport_names(self) -> Sequence[str]:
        return (*self._names, *self.route_table.names)

    @property
    def default_transport(self) -> str:
        return self._default

    def carriers(self, name: str) -> Sequence[str]:
        lowered = name.lower()
        return self.route_table.carriers(lowered) if lowered in self.route_table.routes else (lowered,)

    def routes(self) -> Sequence[RouteInfo]:
        return self.route_table.infos()

    def ready(self) -> bool:
        return self._accepting and self._store is not None and any(lane.up for lane in self.lanes.values())

    def _resolve(self, name: str | None) -> str | None:
        if name is None:
            return self._default
        lowered = name.lower()
        return lowered if lowered in self._lane_names else None

    async def accept(self, items: Sequence[Submission], *, scope: str = "") -> list[Accepted]:
        if not self._accepting or self._commit is None:
            raise NotAccepting("not accepting messages: the runtime is draining or not started")
        named = {t for item in items if (t := own_target(item, scope)) is not None}
        problems = await self._target_problems(named, scope) if named else {}
        checked = check_batch(items, self._resolve, scope=scope, callback_problem=problems.__getitem__)
        entries: list[OutboxEntry] = []
        # With price tables, each message records what it is expected to cost, as a campaign's do.
        priced = bool(self.route_table.routing.prices)
        plans: dict[str, PlanVia] = {}
        for c, mid in zip(checked, message_ids(len(checked)), strict=True):
            item = c.submission
            metadata = dict(item.options)
            target = c.callback or self._default_target(scope, c.transport)
            if target is not None:
                metadata[CALLBACK] = target.dumps()
            message = Message(
                id=mid,
                to=c.to,
                text=item.text,
                sender=item.sender,
                reference=item.reference,
                metadata=metadata,
                validity=item.validity,
                scheduled_at=item.scheduled_at,
            )
            price = None
            if priced:
                via = plans.get(c.transport)
                if via is None:
                    via = plans[c.transport] = self._plan_via(c.transport)
                price = via.expected_price(message, c.segments)
            key = submission_key(c.transport, scope, item.reference, mid)
            entries.append(OutboxEntry(message, key, price=price))
        ids = await self._commit.enqueue(entries) if entries else []
        out: list[Accepted] = []
        woken: set[str] = set()
        for c, entry, mid in zip(checked, entries, ids, strict=True):
            if mid == entry.message.id:
                out.append(Accepted(id=mid, status=DeliveryStatus.QUEUED, transport=c.transport))
                woken.add(c.transport)
                continue
            rec = await self.store.get(mid)
            status = rec.status if rec is not None else DeliveryStatus.QUEUED
            out.append(Accepted(id=mid, status=status, transport=c.transport, duplicate=True))
        for name in woken:
            self.lanes[name].wake()
        return out

    async def _target_problems(
        self, targets: Collection[CallbackTarget], scope: str
    ) -> dict[CallbackTarget, str | None]:
        """What is wrong with each target a caller named; a host name is resolved, in a thread. An ``smpp``
        target is the SMPP front's: its URL is an account, not an address, so only the scope decides."""
        allow = self.event_settings.allow_private_callbacks
        problems = {t: front_target_problem(t, scope) for t in targets if t.format == FRONT_FORMAT}
        addressed = [t for t in targets if t.format != FRONT_FORMAT]

        def check() -> dict[CallbackTarget, str | None]:
            return {t: target_problem(t, allow_private=allow) for t in addressed}

        if addressed:  # the SMPP front's own targets resolve nothing: no thread for each of its batches
            problems.update(check() if allow else await asyncio.to_thread(check))
        return problems

    def _default_target(self, scope: str, transport: str) -> CallbackTarget | None:
        """The target of a message that names none: its API key's default, else its transport's."""
        url = self._keys.callback_url(scope) if self._keys is not None and scope else None
        if url is None:
            url = self._transport_callbacks.get(transport)
        return CallbackTarget(url, key=scope or None) if url else None

    async def message(self, message_id: str) -> MessageRecord | None:
        return await self.store.get(message_id)

    async def start_campaign(
        self, campaign: CampaignSubmission, rows: Iterable[Row], *, scope: str = ""
    ) -> PrepareReport:
        if not self._accepting:
            raise NotAccepting("not accepting campaigns: the runtime is draining or not started")
        name = self._resolve(campaign.transport)
        if name is None:
            raise ConfigError(f"no transport named {campaign.transport!r} is configured")
        check_template(campaign.template)
        if not campaign.name.strip() or not campaign.name.isprintable():
            raise ConfigError(f"campaign name {campaign.name!r}: printable text, not empty")
        why = sender_problem(campaign.sender) if campaign.sender is not None else None
        if why is not None:
            raise ConfigError(f"sender {campaign.sender!r}: {why}", code=ErrorCode.INVALID_SENDER)
        own = CallbackTarget(campaign.callback_url, key=scope or None) if campaign.callback_url else None
        if own is not None:
            why = (await self._target_problems([own], scope))[own]
            if why is not None:
                raise ConfigError(f"callback_url {campaign.callback_url!r}: {why}")
        callbacks = RowCallbacks(
            default=own or self._default_target(scope, name),
            key=scope or None,
            allow_private=self.event_settings.allow_private_callbacks,
        )
        store = self.store
        if await store.get_campaign(campaign.name) is not None:
            raise ConfigError(f"campaign {campaign.name!r} already exists; give this one its own name")
        model = Campaign(
            name=campaign.name,
            template=campaign.template,
            sender=campaign.sender,
            transport=name,
            options=dict(campaign.options),
        )
        report = PrepareReport(campaign=campaign.name)
        if campaign.strict:
            rows = list(rows) if iter(rows) is rows else rows  # read twice: a one-shot iterator is kept
            validate_rows(
                model,
                rows,
                report,
                region=campaign.region,
                phone_check=campaign.phone_check,
                callbacks=callbacks,
            )
        lane = self.lanes[name]

        async def pace(_: PrepareReport) -> None:
            lane.wake()  # each chunk is sent while the next is prepared

        await write_rows(
            store,
            model,
            rows,
            report,
            region=campaign.region,
            phone_check=campaign.phone_check,
            pace=pace,
            stopping=lambda: not self._accepting,
            key_prefix=campaign_prefix(name),
            callbacks=callbacks,
            price=Decisions(self._plan_via(name)).expected_price,
        )
        lane.wake()
        return report

    def _plan_via(self, name: str) -> PlanVia:
        """How a campaign on lane ``name`` is planned and priced: by its route (``auto``: the first matching
        one), or through its one transport with that transport's price table."""
        routing = self.route_table.routing
        if name in self.route_table.routes:
            route = self.route_table.routes[name]
            return PlanVia(name, routing, route=route, auto=route is None)
        return plan_via(name, routing, self._specs)

    async def plan_campaign(self, campaign: CampaignSubmission, rows: Iterable[Row]) -> CampaignPlan:
        """The rows judged as ``start_campaign`` judges them, then routed and priced as it would record
        them; in a thread, since nothing here waits on the loop. A row's own ``callback_url`` is not
        checked (that needs the callback checks' lookups): a bad one is a bad row only when it is sent."""
        name = self._resolve(campaign.transport)
        if name is None:
            raise ConfigError(f"no transport named {campaign.transport!r} is configured")
        check_template(campaign.template)
        model = Campaign(name=campaign.name, template=campaign.template, sender=campaign.sender, transport=name)
        via = self._plan_via(name)
        return await asyncio.to_thread(
            plan_rows, model, rows, via, region=campaign.region, phone_check=campaign.phone_check
        )

    async def campaign(self, name: str) -> CampaignView | None:
        record = await self.store.get_campaign(name)
        # With its costs here, not in a listing: the totals read the campaign's rows once more.
        return await self._view(record, costs=True) if record is not None else None

    async def campaigns(self, limit: int = 20) -> list[CampaignView]:
        return [await self._view(record) for record in await self.store.list_campaigns(limit)]

    async def _view(self, record: CampaignRecord, *, costs: bool = False) -> CampaignView:
        counts = await self.store.counts(record.name)
        return CampaignView(
            costs=tuple(await self.store.cost_totals(record.name)) if costs else None,
            name=record.name,
            template=record.template,
            transport=record.transport,
            created_at=record.created_at,
            counts=counts,
            total=sum(counts.values()),
            done=sum(n for status, n in counts.items() if status in FINAL),
        )

    async def campaign_messages(
        self, name: str, *, status: DeliveryStatus | None = None, after: int | None = None, limit: int = 100
    ) -> list[ExportRecord]:
        return await self.store.export_page(name, status=status, after=after or 0, limit=limit)

    async def cancel_campaign(self, name: str) -> int:
        if await self.store.get_campaign(name) is None:
            raise ConfigError(f"no campaign named {name!r}")
        return await self.store.cancel(name)

    async def inbox(
        self, *, after: int | None = None, limit: int = 100
    ) -> tuple[list[InboundMessage], int | None]:
        rows = await self.store.inbound_page(after, limit)
        messages = [m for _, m in rows]
        nxt = rows[-1][0] if len(rows) >= limit and rows else None
        return messages, nxt

    async def queue_depth(self) -> Mapping[DeliveryStatus, int]:
        return await self.store.counts()

    def health(self) -> list[TransportHealth]:
        """The plain transports (a route's sends are counted on the transport that carried them), each
        with its circuit when a route names it."""
        shown = circuits(self.routed)
        return [self._health(n, self.lanes[n], shown.get(n)) for n in self._names if n in self.lanes]

    def _health(self, name: str, lane: Lane, circuit: CircuitHealth | None) -> TransportHealth:
        transport = lane.transport
        stats = lane.dispatcher.stats
        link = transport.health() if isinstance(transport, ReportsHealth) and lane.opened else None
        last_error = lane.last_error
        last_error_at = lane.last_error_at
        return TransportHealth(
            name=name,
            scheme=transport.scheme,
            up=lane.up,
            binds_up=link.binds_up if link is not None else None,
            binds=link.binds if link is not None else None,
            in_flight=link.in_flight if link is not None else 0,
            throttled=link.throttled if link is not None else False,
            throttle_events=(link.throttle_events if link is not None else 0) + stats.slowed,
            sent=dict(lane.sent),
            receipts_matched=stats.receipts_matched,
            receipts_parked=max(0, stats.receipts - stats.receipts_matched),
            last_error=last_error,
            last_error_at=last_error_at,
            submit_latency=lane.latency.snapshot(),
            circuit=circuit,
        )

    async def events_page(
        self, after: int | None, limit: int, *, message_id: str | None = None, since: float | None = None
    ) -> list[StoredEvent]:
        return await self.store.events_page(after, limit, message_id=message_id, since=since)

    async def event_backlog(self, *, formats: Sequence[str] | None = None) -> EventBacklog:
        return await self.store.event_backlog(formats=formats)

    def throughput(self) -> list[tuple[float, int, int]]:
        return self.meter.series()

    def events(self) -> Subscription:
        """Every event from this call on (subscribed at once, before the first read) until the runtime closes."""
        return self.hub.subscribe()

    def transport(self, name: str) -> Transport | None:
        lowered = name.lower()
        lane = self.lanes.get(lowered) if lowered in self._specs else None
        return lane.transport if lane is not None else None

    async def provider_push(
        self,
        transport: str,
        receipts: Sequence[DeliveryReceipt],
        inbound: Sequence[InboundMessage],
        *,
        push_id: str | None = None,
    ) -> None:
        """As a lane records what its transport pushes: receipts through the store's merge rule (one for a
        native id no result names yet is parked and matched when that result is recorded, as an early SMPP
        receipt is), counted in the lane's health and announced through the lane's hook; MO stored, then
        announced. Only once all is stored is ``push_id`` remembered, so a push that failed is taken again."""
        name = transport.lower()
        lane = self.lanes.get(name) if name in self._specs else None
        if lane is None:
            raise ConfigError(f"no transport named {transport!r} is configured")
        key = (name, push_id) if push_id is not None else None
        if key is not None and key in self._pushed:
            self._pushed.move_to_end(key)
            log.debug("%s: push %s already recorded", name, push_id)
            return
        store = self.store
        if receipts:
            matched = await store.record_receipts(receipts)
            stats = lane.dispatcher.stats
            stats.receipts += len(receipts)
            stats.receipts_matched += matched
            hook = lane.dispatcher.receipts.on_receipts
            if hook is not None:
                hook(receipts)
        if inbound:
            await store.add_inbound(inbound)
            self.hub.inbound(inbound)
        if key is not None:
            self._pushed[key] = None
            while len(self._pushed) > PUSHES_REMEMBERED:
                self._pushed.popitem(last=False)


def as_gateway(runtime: Runtime) -> Gateway:
    """``runtime`` as the fronts see it (and, for mypy, the proof that a Runtime is a Gateway)."""
    return runtime
