"""The delivery worker: claims due events from the store, calls their targets, records what became of them.

One loop claims (``Store.claim_events``: due, pending, the lowest of each message and target, leased to this
store) and hands each event to its receiver's queue (``limiter.OriginQueues``: at most
``concurrency_per_url`` requests in flight per ``scheme://host:port``, each origin on tasks of its own). A
delivery builds the request with the target's format, asks the origin's circuit (``breaker``), sends
(``sender``: one deadline, 1 KB of the answer kept, the address checked at connect), and queues the
outcome; one task records outcomes in batches (``Store.events_done``, one transaction each).

Order per message holds because the store hands out a message's next event for a target only once the
previous one's outcome is recorded: nothing here needs to know about messages. Events are at least once: a
crash after a receiver answered and before its outcome is recorded delivers that event again (the receiver
dedupes on ``event_id``), and the lease (``lease``, a few timeouts) is how long such an event waits before
another claim takes it.

What the worker holds in memory is bounded (:data:`MAX_HELD`): it claims only while it holds fewer. An event
whose lease would end before it can be sent and recorded is let go (it stays leased in the store and the
next claim after the lease takes it), never sent on an expired lease.

Wake-ups: the runtime's event hub (a status change committed in this process) and each recorded outcome
(the message's next event may be due) start a claim within :data:`GATHER`; otherwise the store is polled every
:data:`POLL` seconds, which is what finds events another process wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from msgbridge.config import Config, WebhookSettings
from msgbridge.core.breaker import Breaker
from msgbridge.core.callbacks import address_problem
from msgbridge.service.apikeys import KeyRing, read_keys
from msgbridge.service.events import EventHub, EventsLost, Subscription
from msgbridge.store.base import (
    DELIVERED,
    FAILED,
    PENDING,
    SKIPPED,
    EventOutcome,
    MessageRecord,
    Store,
    StoredEvent,
)
from msgbridge.webhooks.formats import FORMATS, CallbackFormat, CallbackRequest, JsonFormat
from msgbridge.webhooks.keys import WebhookSecrets
from msgbridge.webhooks.limiter import OriginQueues, origin_of
from msgbridge.webhooks.policy import RetryPolicy, Verdict, verdict
from msgbridge.webhooks.sender import Sender

log = logging.getLogger(__name__)

POLL = 0.2  # seconds between claims when nothing woke the worker
CLAIM_BATCH = 500
# Events in memory (queued or being sent), over every origin: claims stop at this many. Enough for a few
# seconds of requests, far less than a lease's worth, so a busy receiver's events are sent well before
# their leases end; a receiver that hangs holds at most this many until its circuit opens and they are
# put back.
MAX_HELD = 2_000
DEPTH_PER_ORIGIN = MAX_HELD
MIN_LEASE = 5.0
RECORD_MARGIN = 2.0  # seconds kept between a request's deadline and its lease's end, to record the outcome
# Each claim and each recorded batch is a commit; at one per outcome the commits, not the requests, would
# set the pace. So outcomes are gathered for this long before they are recorded, and claims made at most
# this often unless the last one came back full: a message's next event waits up to about twice this.
GATHER = 0.05
SHORT_WAIT = 1.0  # an origin blocked for less than this is waited for in its queue, not rescheduled
DEFER_JITTER = 1.0  # seconds spread over events put back behind an open circuit


@dataclass(slots=True)
class WorkerStats:
    """What the worker did since it started (``msgbridge serve``'s metrics and the benchmark read it)."""

    requests: int = 0
    delivered: int = 0
    retried: int = 0  # failed tries put back for later
    failed: int = 0  # given up
    skipped: int = 0  # the format wanted no call
    deferred: int = 0  # put back without a request (circuit open) or left to their lease
    recorded: int = 0


@dataclass(slots=True)
class _Held:
    event: StoredEvent
    until: float  # wall clock: when this claim's lease ends
    message: MessageRecord | None = None  # read with its claim, for a format that needs the message


class WebhookWorker:
    """``await worker.start()`` ... ``await worker.stop(timeout)``; see the module's docstring."""

    def __init__(
        self,
        store: Store,
        *,
        settings: WebhookSettings | None = None,
        secrets: WebhookSecrets | None = None,
        allow_private: bool = False,
        hub: EventHub | None = None,
        formats: Mapping[str, CallbackFormat] | None = None,
        poll: float = POLL,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        s = settings or WebhookSettings()
        self.store = store
        self.settings = s
        self.secrets = secrets or WebhookSecrets(s.secrets)
        self.hub = hub
        self.formats = formats if formats is not None else FORMATS
        self.poll = poll
        self.clock = clock
        self.rng = rng or random.Random()
        self.policy = policy or RetryPolicy(max_age=s.max_age)
        self.breaker = Breaker(failures=s.breaker_failures, cooldown=s.breaker_cooldown, probe_wait=s.timeout)
        self.lease = max(MIN_LEASE, 4 * s.timeout + RECORD_MARGIN)
        self.sender = Sender(timeout=s.timeout, refuse=None if allow_private else address_problem)
        self.queues: OriginQueues[_Held] = OriginQueues(
            self._deliver, concurrency=s.concurrency_per_url, depth=DEPTH_PER_ORIGIN
        )
        self.stats = WorkerStats()
        self._inflight: set[int] = set()  # event numbers held here, until their outcome is recorded
        self._outcomes: list[EventOutcome] = []
        self._have_outcomes = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._warned_unsigned = False
        self._claimed_nothing = False  # the last claim found nothing due
        self._settled = asyncio.Event()  # set after each claim and each recorded batch

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._claim_loop()), loop.create_task(self._record_loop())]

    def wake(self) -> None:
        """Claim now rather than at the next poll (something was committed)."""
        self._wake.set()

    async def settle(self, timeout: float) -> bool:  # noqa: ASYNC109 -- a bounded wait is the point
        """Until a claim finds nothing due and nothing is held or unrecorded (True), or ``timeout`` (False).

        What a short-lived process (``campaign run``) waits for before it stops: the events of its last
        status changes, delivered while it is still there when their receivers answer.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not (self._claimed_nothing and self.queues.held == 0 and not self._inflight):
                    self._settled.clear()
                    self._wake.set()
                    await self._settled.wait()
                return True
        return False

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 -- the drain's bound is the point
        """Stop claiming; let what is being sent finish up to ``timeout``; record outcomes; close.

        What is still held then is let go: it stays leased in the store and is delivered after a restart
        (perhaps twice, if a request was out when it was cut).
        """
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        claim, record = self._tasks or (None, None)
        if claim is not None:
            await claim
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.queues.idle()
        await self.queues.close()
        if record is not None:
            self._have_outcomes.set()
            await record
        await self.sender.aclose()

    # -- claiming ------------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        sub = self.hub.subscribe() if self.hub is not None else None
        try:
            while not self._stopping:
                self._wake.clear()
                free = MAX_HELD - self.queues.held
                claimed = 0
                if free > 0:
                    try:
                        events = await self.store.claim_events(
                            min(CLAIM_BATCH, free),
                            now=self.clock(),
                            lease=self.lease,
                            formats=tuple(self.formats),
                        )  # only formats built here: the SMPP front claims its own
                    except Exception as exc:  # the store may be briefly unavailable: try at the next poll
                        log.warning("webhooks: claiming events failed: %s", exc)
                        events = []
                    messages = await self._messages(events)
                    for event in events:
                        self._take(event, messages.get(event.message_id) if event.message_id else None)
                    claimed = len(events)
                    self._claimed_nothing = not events
                    self._settled.set()
                if claimed < CLAIM_BATCH or free <= claimed:
                    sub = await self._sleep(sub)
                    if not self._stopping:
                        await asyncio.sleep(
                            GATHER
                        )  # whatever else is committed meanwhile comes in this claim
        finally:
            if sub is not None:
                sub.close()

    async def _sleep(self, sub: Subscription | None) -> Subscription | None:
        """Until woken (hub, an outcome recorded, stop) or ``poll`` seconds; returns the subscription to go on with."""
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(self._wake.wait())]
        if sub is not None:
            waits.append(asyncio.ensure_future(sub.wait()))
        try:
            await asyncio.wait(waits, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if sub is not None:
            try:
                while sub.get_nowait() is not None:
                    pass  # a wake-up says "look now", not what changed
            except EventsLost:
                sub.close()
                sub = self.hub.subscribe() if self.hub is not None else None
            if sub is not None and sub.ended and self.hub is not None and self.hub.closed:
                sub = None  # the hub closed (the runtime is stopping): poll from here on
        return sub

    async def _messages(self, events: Sequence[StoredEvent]) -> dict[str, MessageRecord]:
        """The messages of a claim's events whose format builds its call from the message (Kannel's and
        Jasmin's DLRs), read in one query; a failed read leaves each to be read when it is sent."""
        wanted = [
            e.message_id
            for e in events
            if e.message_id is not None and e.target is not None and self._needs_message(e.target.format)
        ]
        if not wanted:
            return {}
        try:
            return await self.store.get_many(wanted)
        except Exception as exc:  # the store may be briefly unavailable: each is read again at send time
            log.warning("webhooks: reading the messages of claimed events failed: %s", exc)
            return {}

    def _needs_message(self, name: str) -> bool:
        fmt = self.formats.get(name)
        return fmt is not None and fmt.needs_message

    def _take(self, event: StoredEvent, message: MessageRecord | None = None) -> None:
        if event.n in self._inflight:
            return  # held here still, and claimed again because its lease ran out: one copy is enough
        if event.target is None:
            self._record(event, SKIPPED, None, None)
            return
        now = self.clock()
        origin = origin_of(event.target.url)
        opened = self.breaker.open_until(origin)
        if opened is not None and opened > now + SHORT_WAIT:
            self._defer(event, opened, now)
            return
        if self.queues.put(origin, _Held(event, now + self.lease, message)):
            self._inflight.add(event.n)
        else:
            self.stats.deferred += 1  # the origin holds enough: this one is claimed again after its lease

    # -- delivering ----------------------------------------------------------------------------------

    async def _deliver(self, origin: str, held: _Held) -> None:
        event = held.event
        try:
            request = await self._request(event, held.message)
        except Exception as exc:  # a format that cannot build this event: retried, never lost
            log.exception("webhooks: cannot build the request for event %s", event.id)
            self._retry(event, self.clock(), f"cannot build the request: {exc}", None)
            return
        if request is None:
            self._record(event, SKIPPED, None, None)
            return
        while True:
            now = self.clock()
            if now + self.sender.timeout + RECORD_MARGIN > held.until:
                self._let_go(event)  # could not be recorded under this lease: the next claim sends it
                return
            blocked = self.breaker.blocked_until(origin, now)
            if blocked is None:
                break
            if blocked > now + SHORT_WAIT:
                self._defer(event, blocked, now)
                return
            await asyncio.sleep(blocked - now)
        self.stats.requests += 1
        answer = await self.sender.send(request)
        now = self.clock()
        result = verdict(answer.status)
        if result is Verdict.DELIVERED:
            self.breaker.succeeded(origin)
            self._record(event, DELIVERED, None, None)
        elif result is Verdict.GONE:
            self.breaker.succeeded(origin)  # the receiver is up: it said no to this URL
            self._record(event, FAILED, None, f"{answer.describe()} (gone: not tried again)")
        else:
            self.breaker.failed(origin, now)
            if answer.retry_after is not None:
                self.breaker.pause(origin, now + answer.retry_after)
            self._retry(event, now, answer.describe(), answer.retry_after)

    async def _request(self, event: StoredEvent, message: MessageRecord | None = None) -> CallbackRequest | None:
        target = event.target
        assert target is not None
        fmt = self.formats.get(target.format)
        if fmt is None:
            raise LookupError(f"unknown callback format {target.format!r} (known: {', '.join(self.formats)})")
        secrets = self.secrets.for_key(target.key)
        if not secrets and not self._warned_unsigned:
            self._warned_unsigned = True
            log.warning(
                "webhooks: no [webhooks] secret configured: events without a key's secret go unsigned"
            )
        if isinstance(fmt, JsonFormat):
            return fmt.signed(event, target, secrets, now=self.clock())
        if message is None and event.message_id is not None and fmt.needs_message:
            message = await self.store.get(event.message_id)  # not read with the claim
        return fmt.request(event, message, target, secrets[0] if secrets else None)

    def _retry(self, event: StoredEvent, now: float, error: str, retry_after: float | None) -> None:
        attempts = event.attempts + 1
        at = self.policy.next_try(
            attempts=attempts, occurred_at=event.occurred_at, now=now, retry_after=retry_after, rng=self.rng
        )
        if at is None:
            why = f"given up after {attempts} attempt(s) within max_age {self.policy.max_age:g} s: {error}"
            self._record(event, FAILED, None, why)
        else:
            self.stats.retried += 1
            self._record(event, PENDING, at, error)

    def _defer(self, event: StoredEvent, blocked: float, now: float) -> None:
        """Put back without a request: the origin's circuit is open (or paused) until ``blocked``.

        Spread by the event's own backoff too, so a receiver that stays down for hours is asked about its
        backlog less and less often, not every cool-down.
        """
        self.stats.deferred += 1
        at = max(blocked, now + self.policy.backoff(event.attempts + 1, self.rng))
        at = min(at + self.rng.uniform(0.0, DEFER_JITTER), max(at, event.occurred_at + self.policy.max_age))
        self._inflight.add(event.n)
        self._outcomes.append(EventOutcome(event.n, PENDING, at, event.last_error))
        self._have_outcomes.set()

    def _let_go(self, event: StoredEvent) -> None:
        self.stats.deferred += 1
        self._inflight.discard(event.n)

    def _record(self, event: StoredEvent, state: str, next_at: float | None, error: str | None) -> None:
        if state == DELIVERED:
            self.stats.delivered += 1
        elif state == FAILED:
            self.stats.failed += 1
            log.warning(
                "webhooks: event %s to %s given up: %s", event.id, event.target and event.target.url, error
            )
        elif state == SKIPPED:
            self.stats.skipped += 1
        self._inflight.add(event.n)
        self._outcomes.append(EventOutcome(event.n, state, next_at, error))
        self._have_outcomes.set()

    # -- recording -----------------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        """Outcomes in batches: whatever queued while the previous batch was being committed."""
        while True:
            await self._have_outcomes.wait()
            if not self._stopping and len(self._outcomes) < CLAIM_BATCH:
                await asyncio.sleep(GATHER)  # more outcomes, one commit
            self._have_outcomes.clear()
            if self._outcomes:
                batch, self._outcomes = self._outcomes, []
                try:
                    await self.store.events_done(batch)
                except Exception as exc:
                    log.warning("webhooks: recording %d outcome(s) failed, will retry: %s", len(batch), exc)
                    self._outcomes[:0] = batch
                    if self._stopping:
                        return  # the store is going away: the leases bring these events back
                    await asyncio.sleep(self.poll)
                    self._have_outcomes.set()
                    continue
                self.stats.recorded += len(batch)
                self._claimed_nothing = False  # what these unblock is for the next claim to find
                for outcome in batch:
                    self._inflight.discard(outcome.n)
                self._wake.set()  # a message's next event may be claimable now
                self._settled.set()
            if self._stopping and not self._outcomes and self.queues.held == 0:
                return


# What a runtime calls to make its worker, once its store is open and its hub exists.
WorkerFactory = Callable[[Store, EventHub | None], WebhookWorker]


def worker_factory(
    settings: WebhookSettings, *, ring: KeyRing | None = None, allow_private: bool = False
) -> WorkerFactory:
    """Workers with ``settings``, the secrets of ``ring``'s keys, and the ``[events]`` address rule."""

    def make(store: Store, hub: EventHub | None) -> WebhookWorker:
        return WebhookWorker(
            store,
            settings=settings,
            secrets=WebhookSecrets(settings.secrets, ring),
            allow_private=allow_private,
            hub=hub,
        )

    return make


def configured(config: Config) -> WorkerFactory:
    """Workers as ``config`` describes them: ``[webhooks]``, the key file's secrets, ``[events]``'s address rule."""
    ring = KeyRing(read_keys(config.apikeys_file).values(), path=config.apikeys_file)
    return worker_factory(config.webhooks, ring=ring, allow_private=config.events.allow_private_callbacks)
