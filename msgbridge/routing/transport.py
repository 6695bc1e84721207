"""The routed transport: one Transport made of named child transports, a route table and a breaker each.

The dispatcher sees one transport and gives it the same guarantees as any other; this class decides,
message by message, which child carries it (``RoutingConfig.route_for``, or one forced route for
``--via route:NAME``) and in which order the route's children are tried (``choose.candidates``).

A send goes in rounds. Each message goes to the first of its candidates whose circuit lets a call
through; the children are called concurrently (each in batches of its own ``max_batch``); then each
result is judged by the message's route (docs/routing.md has the table):

- success (or a definite answer that is not an error) is the result;
- an outcome that may have been carried out (TIMEOUT, MAYBE_SUBMITTED, an exception from the child) is
  the result, MAYBE_SUBMITTED: moving it on could send it twice. Only ``failover_on_timeout`` moves it;
- TEMPORARY_FAILURE goes back to the dispatcher (which requeues it with its backoff) ``temporary_retries``
  times per message and child; after that the message moves on, and stays off that child;
- any other code in the route's ``failover_on`` moves the message to the next candidate in the next
  round, the failed attempt kept in ``SendResult.attempts``;
- anything else, or nothing left to try, is the result (with the attempts before it).

A child that raises ``MessagingError`` for a whole batch gives every message of it that error, judged
by the same rules (``ErrorCode.outcome_unknown``: MAYBE_SUBMITTED, never moved on by default). Only
when every message of the call ended refused that way by every child it went to, with an error a retry
cannot heal (AUTH_FAILED ...), does ``send()`` raise it, as a single transport would: nothing was
written, and the dispatcher stops the run and gives the messages back instead of failing them for good.

``writes_in_groups`` stays False: the dispatcher marks every message MAYBE_SUBMITTED before ``send()``,
so a crash in the middle of a failover leaves the messages in doubt, never sent twice without a trace.
Where every child is a ``ReferenceLookup`` the routed transport is one too (``lookup`` asks them all),
so a re-run settles what a killed run left in doubt.

Circuit breaker (``msgbridge.core.breaker``, one key per child): a call that raised (other than a
throttle) or answered any message with a connection-level code (NETWORK_ERROR, AUTH_FAILED,
WRONG_SERVER) is a failure, any other call a success; a failed ``open()`` is a failure too. An open
circuit's child is skipped; after the cool-down one call is the probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Self, cast

from msgbridge.adapters.base import (
    AcknowledgesReceipts,
    Capabilities,
    LinkHealth,
    ReceiptPush,
    ReferenceLookup,
    ReportsHealth,
    StatusPolling,
    Transport,
)
from msgbridge.core.breaker import Breaker, CircuitInfo, CircuitState
from msgbridge.core.encoding import info
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo, MessagingError
from msgbridge.core.message import Attempt, DeliveryReceipt, Message, SendResult
from msgbridge.core.ratelimit import TokenBucket
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import TransportURL
from msgbridge.routing.choose import candidates
from msgbridge.routing.config import RateUnit, Route, RoutingConfig

log = logging.getLogger(__name__)

AUTO = "auto"
ROUTE_PREFIX = "route:"
# The codes that say the link itself is failing (not this message): they count against the circuit.
CONNECTION_LEVEL: frozenset[ErrorCode] = frozenset(
    {ErrorCode.NETWORK_ERROR, ErrorCode.AUTH_FAILED, ErrorCode.WRONG_SERVER}
)
# A whole batch refused this way came from a peer that is up and answering.
_PEER_ANSWERED: frozenset[ErrorCode] = frozenset({ErrorCode.THROTTLED, ErrorCode.QUEUE_FULL})
# Bounds of the per-message bookkeeping: native id -> child (for status()), TEMPORARY_FAILURE counts.
MAX_TRACKED = 200_000


_RESULT_FIELDS = tuple(f.name for f in fields(SendResult))
_set = object.__setattr__


def relinked(result: SendResult, link: str, attempts: tuple[Attempt, ...]) -> SendResult:
    """``replace(result, link=link, attempts=attempts)`` at a tenth of its cost: a field-by-field copy.

    Every message a routed transport sends gets one; ``dataclasses.replace`` (which rebuilds the keyword
    arguments and calls ``__init__``) measured as the largest single cost of routing a message.
    """
    copy = object.__new__(SendResult)
    for name in _RESULT_FIELDS:
        _set(copy, name, getattr(result, name))
    _set(copy, "link", link)
    _set(copy, "attempts", attempts)
    return copy


def _bounded_put(table: OrderedDict[str, object], key: str, value: object) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > MAX_TRACKED:
        table.popitem(last=False)


@dataclass(slots=True)
class _Pending:
    """One message of a send() call while it is being routed."""

    index: int
    message: Message
    route: Route
    order: tuple[str, ...]
    next: int = 0  # index into ``order`` of the next candidate to consider
    attempts: list[Attempt] = field(default_factory=list)
    last: SendResult | None = None  # the latest failed result, the answer when nothing is left to try
    answers: int = 0  # answers it had from children
    refusals: int = 0  # of which a whole batch refused before anything was written (a raised error)
    refused_by: MessagingError | None = None  # the latest such error


class RoutedTransport(Transport):
    scheme = "routed"
    summary = "routes each message to one of several transports ([[routes]]), with failover and breakers"

    def __new__(
        cls,
        children: Mapping[str, Transport],
        routing: RoutingConfig,
        *,
        route: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        close_children: bool = True,
        breaker: Breaker | None = None,
    ) -> Self:
        """An instance that can look references up (a ReferenceLookup) only where every child can: an
        answer "not sent" from children that cannot be asked would send a message twice."""
        kind: type[RoutedTransport] = cls
        if children and all(isinstance(c, ReferenceLookup) for c in children.values()):
            kind = _RoutedWithLookup if cls is RoutedTransport else cls
        return cast(Self, super().__new__(kind))

    def __init__(
        self,
        children: Mapping[str, Transport],
        routing: RoutingConfig,
        *,
        route: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        close_children: bool = True,
        breaker: Breaker | None = None,
    ) -> None:
        """``children``: every transport the routes in use name, constructed, not yet opened. ``route``:
        the one route every message takes (``--via route:NAME``); None: the first matching (``auto``).

        A service runs several routed transports over the same children, each child also in a lane of its
        own that closes it: ``close_children=False`` leaves closing them to their owner, and ``breaker``
        (another routed transport's) gives every routed transport of the process the same circuit per
        child, whichever route uses it. A child that does not open counts against its circuit once, by the
        routed transport that made the breaker: every routed lane opens the same children, and a transport
        down at start is one failure, not one per route that names it."""
        super().__init__(TransportURL.parse(f"{self.scheme}://{AUTO if route is None else 'route'}"))
        self.routing = routing
        self.forced = routing.route(route) if route is not None else None
        used = {t for r in ((self.forced,) if self.forced else routing.routes) for t in r.transports}
        missing = sorted(used - set(children))
        if missing:
            raise ConfigError(f"no transport given for {', '.join(missing)}, named by the routes")
        if not used:
            raise ConfigError("no [[routes]] configured: --via auto needs at least one route")
        self.children: dict[str, Transport] = dict(children)
        self.clock = clock
        self.close_children = close_children
        b = routing.breaker
        self._counts_opening = breaker is None
        self.breaker = breaker or Breaker(
            failures=b.failures,
            cooldown=b.cooldown,
            probe_wait=b.cooldown,
            error_rate=b.error_rate,
            window=b.window,
            min_calls=b.min_calls,
            keep_closed=True,
        )
        kids = list(self.children.values())
        self.capabilities = Capabilities(  # type: ignore[misc]  # per instance: the children decide
            max_batch=max(c.capabilities.max_batch for c in kids),
            status_poll=max(c.capabilities.status_poll for c in kids),
        )
        self.max_retry_wait = max(c.max_retry_wait for c in kids)
        self._buckets: dict[str, TokenBucket] = {}
        self._links = {name: child.link for name, child in self.children.items()}
        # native id -> child name, for status(): kept only where a child can be polled
        self._polled = any(isinstance(c, StatusPolling) for c in kids)
        self._native: OrderedDict[str, object] = OrderedDict()
        self._temporary: OrderedDict[str, object] = OrderedDict()  # "child\0message id" -> count
        self._receipts: asyncio.Queue[DeliveryReceipt | None] | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self._ended = 0  # pumps whose child's stream has ended

    @property
    def link(self) -> str:
        return f"{self.scheme}://{self.forced.name if self.forced else AUTO}"

    @property
    def resends(self) -> int:
        return sum(c.resends for c in self.children.values())

    # -- open / close ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open every child at once. One that fails counts against its circuit; only when none opens does
        this raise (the first child's error)."""
        names = list(self.children)
        outcomes = await asyncio.gather(*(self.children[n].open() for n in names), return_exceptions=True)
        errors: list[BaseException] = []
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                if self._counts_opening:
                    log.warning("transport %s did not open: %s", name, outcome)
                    self.breaker.failed(name, self.clock())
                errors.append(outcome)
        if len(errors) == len(names):
            raise errors[0]

    async def aclose(self) -> None:
        if not self.close_children:
            return
        outcomes = await asyncio.gather(*(c.aclose() for c in self.children.values()), return_exceptions=True)
        for name, outcome in zip(self.children, outcomes, strict=True):
            if isinstance(outcome, Exception):
                log.warning("transport %s did not close cleanly: %s", name, outcome)

    # -- sending --------------------------------------------------------------------------------------

    def route_of(self, message: Message) -> Route | None:
        return self.forced or self.routing.route_for(message)

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        active: list[_Pending] = []
        for i, message in enumerate(messages):
            route = self.route_of(message)
            if route is None:
                results[i] = SendResult(message.id, DeliveryStatus.FAILED, error=self._unrouted(message))
                continue
            active.append(_Pending(i, message, route, candidates(route, message, self.routing.prices)))
        routed = list(active)
        while active:
            groups = self._group(active, results)
            calls = [self._call(name, items) for name, items in groups.items()]
            answered = await asyncio.gather(*calls)
            active = []
            for name, items, answers, refused in answered:
                for item, answer in zip(items, answers, strict=True):
                    item.answers += 1
                    if refused is not None:
                        item.refusals += 1
                        item.refused_by = refused
                    if self._judge(name, item, answer):
                        active.append(item)
                    else:
                        results[item.index] = self._final(item, name, answer)
        out = [r for r in results if r is not None]
        self._raise_if_refused(routed, out)
        return out

    @staticmethod
    def _raise_if_refused(routed: list[_Pending], out: list[SendResult]) -> None:
        """Where every child the messages went to refused its whole batch before writing anything, with
        an error that another try cannot heal (AUTH_FAILED, ACCOUNT_BLOCKED, ...), raise it as one
        transport would: the dispatcher stops the run and gives the messages back instead of failing
        them for good (fix the credentials, run again). Never when anything may have been written."""
        if not out or len(routed) != len(out):
            return
        if not all(item.answers and item.refusals == item.answers for item in routed):
            return
        refused = routed[0].refused_by
        if refused is None or refused.code.retryable or refused.code.outcome_unknown:
            return
        raise refused

    def _unrouted(self, message: Message) -> ErrorInfo:
        names = ", ".join(r.name for r in self.routing.routes)
        return ErrorInfo(
            ErrorCode.UNSUPPORTED,
            "no_route",
            f"no route matches this message (to {message.to}, routes: {names}): add a default route "
            "(one without match keys) or send with --via route:NAME",
        )

    def _temporary_key(self, child: str, message: Message) -> str:
        return f"{child}\0{message.id}"

    def _group(self, active: list[_Pending], results: list[SendResult | None]) -> dict[str, list[_Pending]]:
        """Each message to its next usable candidate; one that has none gets its answer now."""
        now = self.clock()
        allowed: dict[str, float | None] = {}  # child -> None (may be called) or when its circuit allows
        groups: dict[str, list[_Pending]] = {}
        for item in active:
            chosen, skipped = self._pick(item, allowed, now)
            if chosen is None and skipped and not item.attempts:
                # Every candidate had its TEMPORARY_FAILURE retries: start over on all of them.
                self._forget_temporary(item)
                item.next = 0
                chosen, _ = self._pick(item, allowed, now)
            if chosen is not None:
                groups.setdefault(chosen, []).append(item)
                continue
            if skipped:
                self._forget_temporary(item)  # the next send starts over on every candidate
            results[item.index] = self._none_left(item, allowed, now)
        return groups

    def _pick(self, item: _Pending, allowed: dict[str, float | None], now: float) -> tuple[str | None, bool]:
        """The next candidate whose circuit lets a call through, and whether one was skipped as exhausted."""
        skipped = False
        while item.next < len(item.order):
            name = item.order[item.next]
            item.next += 1
            if self._exhausted(name, item):
                skipped = True
                continue
            if name not in allowed:  # asked once per round: a granted probe is one call
                allowed[name] = self.breaker.blocked_until(name, now)
            if allowed[name] is None:
                return name, skipped
        return None, skipped

    def _forget_temporary(self, item: _Pending) -> None:
        for name in item.order:
            self._temporary.pop(self._temporary_key(name, item.message), None)

    def _exhausted(self, name: str, item: _Pending) -> bool:
        if not self._temporary:
            return False
        count = self._temporary.get(self._temporary_key(name, item.message))
        return isinstance(count, int) and count > item.route.temporary_retries

    def _none_left(self, item: _Pending, allowed: Mapping[str, float | None], now: float) -> SendResult:
        if item.last is not None:
            return self._final(item, None, item.last)
        waits = [t - now for t in allowed.values() if t is not None]
        error = ErrorInfo(
            ErrorCode.NETWORK_ERROR,
            "circuits_open",
            f"route {item.route.name}: every transport's circuit is open ({', '.join(item.order)})",
            retry_after=max(0.0, min(waits)) if waits else None,
        )
        return SendResult(item.message.id, DeliveryStatus.FAILED, error=error)

    async def _call(
        self, name: str, items: list[_Pending]
    ) -> tuple[str, list[_Pending], list[SendResult], MessagingError | None]:
        """Send ``items`` through child ``name`` in its batch size, or, under a route's rate cap, in slices
        of a tenth of a second's worth, each waiting for its tokens (messages or segments)."""
        child = self.children[name]
        size = max(1, child.capabilities.max_batch)
        caps = [item.route.rate for item in items if item.route.rate is not None]
        if caps:  # about a tenth of a second's worth per call, so the cap shapes the flow, not its bursts
            size = min(size, max(1, int(min(caps) / 10)))
        answers: list[SendResult] = []
        failed = False
        finished = False
        refused: MessagingError | None = None  # set while every part was refused as a whole
        every_part_refused = True
        try:
            for start in range(0, len(items), size):
                if caps:
                    await self._pace(items[start : start + size])
                part = [item.message for item in items[start : start + size]]
                got, broke, whole = await self._send_part(name, child, part)
                answers.extend(got)
                failed = failed or broke
                every_part_refused = every_part_refused and whole is not None
                refused = whole if every_part_refused else None
            finished = True
        finally:
            if not finished:
                self.breaker.abandoned(name)  # cancelled: a granted probe was never answered
        now = self.clock()
        if failed:
            self.breaker.failed(name, now)
        else:
            self.breaker.succeeded(name, now)
        return name, items, answers, refused

    async def _send_part(
        self, name: str, child: Transport, part: list[Message]
    ) -> tuple[list[SendResult], bool, MessagingError | None]:
        """The child's results for ``part`` (a raised error made into one per message), whether the call
        counts as a connection-level failure, and the error when the child refused it as a whole (raised
        an error that says nothing was sent)."""
        try:
            results = await child.send(part)
            if len(results) != len(part):
                raise MessagingError(
                    f"{name} returned {len(results)} results for {len(part)} messages",
                    code=ErrorCode.PROTOCOL_ERROR,
                )
        except MessagingError as exc:
            log.warning("transport %s: send of %d messages failed: %s", name, len(part), exc.info)
            status = DeliveryStatus.MAYBE_SUBMITTED if exc.code.outcome_unknown else DeliveryStatus.FAILED
            if exc.code is ErrorCode.PROTOCOL_ERROR:
                status = DeliveryStatus.MAYBE_SUBMITTED  # it answered nonsense: what it did is unknown
            results = [SendResult(m.id, status, error=exc.info) for m in part]
            return results, exc.code not in _PEER_ANSWERED, exc if status is DeliveryStatus.FAILED else None
        except Exception as exc:
            log.exception("transport %s: send of %d messages raised", name, len(part))
            error = ErrorInfo(ErrorCode.PROTOCOL_ERROR, type(exc).__name__, f"{name} raised: {exc}")
            return [SendResult(m.id, DeliveryStatus.MAYBE_SUBMITTED, error=error) for m in part], True, None
        broke = any(r.error is not None and r.error.code in CONNECTION_LEVEL for r in results)
        return results, broke, None

    async def _pace(self, items: list[_Pending]) -> None:
        """The per-route rate caps: messages, or segments, of each capped route in this call."""
        wanted: dict[str, tuple[Route, float]] = {}
        for item in items:
            route = item.route
            if route.rate is None:
                continue
            tokens = 1.0
            if route.rate_unit is RateUnit.SEGMENTS and item.message.channel == "sms":
                tokens = float(info(item.message.text).segments)
            wanted[route.name] = (route, wanted.get(route.name, (route, 0.0))[1] + tokens)
        for name, (route, tokens) in wanted.items():
            bucket = self._buckets.get(name)
            if bucket is None:
                assert route.rate is not None
                bucket = self._buckets[name] = TokenBucket(route.rate)
            await bucket.acquire(tokens)

    def _judge(self, name: str, item: _Pending, answer: SendResult) -> bool:
        """Whether ``item`` moves on to its next candidate after ``answer`` from child ``name``."""
        error = answer.error
        in_doubt = answer.status is DeliveryStatus.MAYBE_SUBMITTED or (
            error is not None and error.code.outcome_unknown
        )
        if error is None and not in_doubt:
            return False
        route = item.route
        if in_doubt:
            move = route.failover_on_timeout
        else:
            assert error is not None
            move = error.code in route.failover_on
            if move and error.code is ErrorCode.TEMPORARY_FAILURE:
                key = self._temporary_key(name, item.message)
                count = self._temporary.get(key)
                seen = (count if isinstance(count, int) else 0) + 1
                _bounded_put(self._temporary, key, seen)
                move = seen > route.temporary_retries
        if not move or item.next >= len(item.order):
            return False
        item.attempts.append(Attempt(name, self.children[name].link, error, time.time()))
        item.last = replace(answer, link=answer.link or self.children[name].link)
        return True

    def _final(self, item: _Pending, name: str | None, answer: SendResult) -> SendResult:
        """``answer`` as the dispatcher gets it: the child's link, the attempts before it."""
        if name is None:  # the last failed attempt, already carrying its link
            attempts = tuple(item.attempts[:-1])
            return replace(answer, attempts=attempts)
        link = answer.link or self._links[name]
        if answer.error is None and self._polled:
            for native in (answer.native_id, *answer.native_ids):
                if native:
                    _bounded_put(self._native, native, name)
        return relinked(answer, link, tuple(item.attempts) if item.attempts else ())

    # -- receipts and status --------------------------------------------------------------------------

    async def receipts(self) -> AsyncIterator[DeliveryReceipt]:
        """The children's pushed receipts, merged; ends once every child's stream has ended (after close).

        May be called again after a reader was cancelled (the dispatcher reads once while sending and
        again through the close): the streams' ends are counted here, not per call.
        """
        if self._receipts is None:
            self._receipts = asyncio.Queue()
            pushers = [c for c in self.children.values() if isinstance(c, ReceiptPush)]
            self._pumps = [asyncio.create_task(self._pump(c), name=f"receipts-{c.link}") for c in pushers]
        queue = self._receipts
        while self._ended < len(self._pumps):
            item = await queue.get()
            if item is None:
                self._ended += 1
                continue
            yield item

    def hold_receipt_acks(self) -> None:
        """Passed on to every child that acknowledges receipts (SMPP: deliver_sm_resp), so each receipt is
        acknowledged to its SMSC only once the store has it, as with that child alone."""
        for child in self.children.values():
            if isinstance(child, AcknowledgesReceipts):
                child.hold_receipt_acks()

    def receipts_stored(self, receipts: Sequence[DeliveryReceipt]) -> None:
        """Each acknowledging child answers the receipts of this batch that it owes (it knows its own, the
        very objects it handed out, and passes over the others)."""
        for child in self.children.values():
            if isinstance(child, AcknowledgesReceipts):
                child.receipts_stored(receipts)

    async def _pump(self, child: ReceiptPush) -> None:
        assert self._receipts is not None
        try:
            async for receipt in child.receipts():
                self._receipts.put_nowait(receipt)
        except MessagingError as exc:
            log.warning("receipt stream of %s ended: %s", child, exc)
        finally:
            self._receipts.put_nowait(None)

    async def status(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        """Asks the child each native id came from (sent through this instance) where it can be polled."""
        by_child: dict[str, list[str]] = {}
        for native in native_ids:
            name = self._native.get(native)
            if isinstance(name, str):
                by_child.setdefault(name, []).append(native)
        out: list[DeliveryReceipt] = []
        for name, ids in by_child.items():
            child = self.children[name]
            if isinstance(child, StatusPolling):
                out.extend(await child.status(ids))
        return out

    def parts(self) -> Sequence[Transport]:
        """The children, each with its own link: what is polled for receipts is polled child by child."""
        return list(self.children.values())

    # -- health ---------------------------------------------------------------------------------------

    def circuits(self) -> list[CircuitInfo]:
        """Per child: name, state (closed/open/half_open), consecutive failures, times opened."""
        now = self.clock()
        return [self.breaker.info(name, now) for name in self.children]

    def health(self) -> LinkHealth:
        """Up while any child is usable (its circuit not open and, where it reports health, up)."""
        now = self.clock()
        ups: list[bool] = []
        in_flight = events = 0
        throttled = False
        last_error: str | None = None
        for name, child in self.children.items():
            usable = self.breaker.state(name, now) is not CircuitState.OPEN
            if isinstance(child, ReportsHealth):
                h = child.health()
                usable = usable and h.up
                in_flight += h.in_flight
                events += h.throttle_events
                throttled = throttled or h.throttled
                if h.last_error and last_error is None:
                    last_error = f"{name}: {h.last_error}"
            elif not usable and last_error is None:
                last_error = f"{name}: circuit open"
            ups.append(usable)
        return LinkHealth(
            up=any(ups),
            in_flight=in_flight,
            throttled=throttled,
            throttle_events=events,
            last_error=last_error,
        )

    async def __aenter__(self) -> RoutedTransport:
        await super().__aenter__()
        return self

    def __repr__(self) -> str:
        return f"<RoutedTransport {self.link} {', '.join(self.children)}>"


class _RoutedWithLookup(RoutedTransport):
    """Every child is a ReferenceLookup: a re-run settles what a killed run left in doubt by asking them."""

    async def lookup(self, references: Sequence[str]) -> dict[str, SendResult]:
        """What any child accepted under each reference (the first child in the route table's order that
        knows it), with that child's link; raises where a child cannot be asked, as each child does."""
        names = list(self.children)
        answers = await asyncio.gather(
            *(cast(ReferenceLookup, self.children[n]).lookup(references) for n in names)
        )
        found: dict[str, SendResult] = {}
        for name, answer in zip(names, answers, strict=True):
            link = self.children[name].link
            for ref, result in answer.items():
                if ref not in found:
                    found[ref] = replace(result, link=result.link or link)
        return found
