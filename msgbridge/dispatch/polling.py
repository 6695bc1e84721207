"""Which pending messages to ask a provider about, and when: within its documented limits.

Asking about every pending message once a second breaks what providers allow
(SMSC.ru refuses a sixth status request for one message within a minute) and,
once refused, learns nothing more: receipts that come late never arrive. So
each message gets its own schedule instead:

- a first look soon after it was handed over, then intervals that grow while
  it stays pending (most receipts come within seconds; the rest may take
  hours), up to a cap, until the provider's validity window is over;
- never more requests naming one message, or naming several at once, than
  the provider allows within its window;
- a refused poll (THROTTLED) moves the refused messages back by the
  provider's window or its retry-after, pauses the round, and is never an
  error: the message stays as it was and is asked about again later.

The limits are data, one :class:`PollPolicy` per provider in ``POLICIES``,
each with the document line it follows. Time comes from an injected clock so
tests can run minutes of polling without waiting for them.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from msgbridge.adapters.base import StatusPolling, Transport
from msgbridge.core.errors import ErrorCode, MessagingError, UnsupportedFeature
from msgbridge.core.message import DeliveryReceipt
from msgbridge.store.base import Store

log = logging.getLogger(__name__)

Clock = Callable[[], float]

HOUR = 3600.0
# How many pending messages one refresh reads from the store.
PENDING_PAGE = 50_000


@dataclass(frozen=True)
class PollPolicy:
    """How often one provider may be asked about a message's status.

    A message is first polled ``first_delay`` seconds after it is seen pending,
    then after ``interval``, ``interval * growth``, ... seconds, at most
    ``max_interval`` apart. ``per_message`` caps requests naming one message and
    ``mass`` caps requests naming several, each within any ``window`` seconds
    (None: the provider documents no cap); ``margin`` is added whenever a cap
    decides the time, because our clock and the provider's differ by latency.
    After a refusal without a retry-after the refused messages wait
    ``refused_wait`` and the whole poller ``refused_pause``. ``rate`` caps
    status requests per second (None: the transport's own pacing decides).
    Polling a message stops ``give_up_after`` seconds after it was first seen
    (the longest validity the provider allows, plus an hour).
    """

    first_delay: float = 1.0
    interval: float = 2.0
    growth: float = 2.0
    max_interval: float = 300.0
    per_message: int | None = None
    mass: int | None = None
    window: float = 60.0
    margin: float = 1.0
    refused_wait: float = 60.0
    refused_pause: float = 5.0
    rate: float | None = None
    give_up_after: float | None = None
    source: str = ""

    def delay(self, polls: int) -> float:
        """Seconds from a message's ``polls``-th poll (1-based) to its next one."""
        grown = self.interval * self.growth ** max(0, polls - 1)
        return min(self.max_interval, grown) if math.isfinite(grown) else self.max_interval


def steady(interval: float) -> PollPolicy:
    """For transports that document no limits (memory://, third parties): every pending message each ``interval``."""
    return PollPolicy(
        first_delay=0.0, interval=interval, growth=1.0, max_interval=interval, refused_wait=interval
    )


# Per provider, by transport scheme. The quoted lines decide the numbers; where a
# provider is silent the number is ours and says so.
POLICIES: dict[str, PollPolicy] = {
    # SMSC.ru status.php, error 9: "Попытка отправки более пяти запросов на получение статуса
    # одного и того же сообщения или более одного массового запроса в течение минуты. Данная
    # ошибка возникает также при попытке отправки пяти и более запросов одновременно с разных
    # подключений под одним логином (too many concurrent requests)." (more than five status
    # requests for the same message, or more than one mass request, within a minute; also five
    # or more requests at once under one login). Read strictly: at most 5 requests naming a
    # message and 1 naming several per minute. Polls go one at a time; the rate is ours.
    # Validity (`valid`) is at most 24 hours. (This is the status.php row of error 9 in SMSC.ru's
    # HTTP API document, "Интеграция с сервисом (API)"; the send.php and contacts rows differ.)
    "smsc": PollPolicy(
        per_message=5,
        mass=1,
        rate=20.0,
        give_up_after=25 * HOUR,
        source="smsc.ru status.php error 9",
    ),
    # Mobizon: "30 | Exceeded permissible request rate limit. This error occurs when there are too
    # frequent calls to the same API method within a certain period. Reduce the request frequency
    # if this error occurs." No numbers are published; getSMSStatus takes at most 100 ids
    # ("Maximum number of identifiers in one request is 100"), and "The maximum waiting time for
    # delivery is 1 day from the moment of sending." The rate is ours.
    "mobizon": PollPolicy(rate=5.0, give_up_after=25 * HOUR, source="mobizon code 30; EXPIRED after 1 day"),
    # Selzy (its API limits page, docs/sources.md): "1200 calls/min per key or per IP", shared
    # with sends, which the transport already paces at that rate; checkSms has no limit of its own.
    # No validity is published: a day, ours.
    "selzy": PollPolicy(give_up_after=25 * HOUR, source="selzy: 1200 calls/min per key or IP"),
    # BSG: HTTP 429 "Too many requests" is documented for the send endpoints only, no limit on
    # GET /api/messages; "Create individual/bulk SMS Campaign": "SMS validity period in hours. Integer from 1
    # to 72. By default 72 hours."
    "bsg": PollPolicy(give_up_after=73 * HOUR, source="bsg: validity 1-72 h, 429 on sends only"),
}


def policy_for(transport: Transport, default_interval: float) -> PollPolicy:
    return POLICIES.get(transport.scheme) or steady(default_interval)


@dataclass
class _Track:
    first_seen: float
    next_at: float
    polls: int = 0
    recent: deque[float] = field(default_factory=deque)  # times of the latest polls, within the window


class PollSchedule:
    """Per-message poll times under one policy. Pure bookkeeping: every method takes ``now``."""

    def __init__(self, policy: PollPolicy, batch: int) -> None:
        self.policy = policy
        self.batch = max(1, batch)
        self.tracks: dict[str, _Track] = {}
        self.given_up: set[str] = set()
        self.mass_times: deque[float] = deque()
        self.paused_until = 0.0
        self._tokens = policy.rate or 0.0
        self._stamp: float | None = None

    # -- what is pending

    def sync(self, pending: Sequence[str], now: float, *, complete: bool = True) -> None:
        """Follow ``pending``: new ids get a first poll time; ids no longer pending are dropped.

        With ``complete=False`` (``pending`` is one page of more) nothing is dropped: an id
        outside this page must keep its poll history, or it could be asked about too often.
        """
        if complete:
            wanted = set(pending)
            for nid in [n for n in self.tracks if n not in wanted]:
                del self.tracks[nid]
        for nid in pending:
            if nid not in self.tracks and nid not in self.given_up:
                self.tracks[nid] = _Track(first_seen=now, next_at=now + self.policy.first_delay)

    def done(self, native_id: str) -> None:
        self.tracks.pop(native_id, None)

    # -- limits

    def _trim(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.policy.window - self.policy.margin:
            times.popleft()

    def _free_at(self, times: deque[float], cap: int | None, now: float) -> float:
        """When one more request fits under ``cap`` requests per window (``now`` when it fits already)."""
        if cap is None:
            return now
        self._trim(times, now)
        if len(times) < cap:
            return now
        return times[-cap] + self.policy.window + self.policy.margin

    def _budget(self, now: float) -> int:
        rate = self.policy.rate
        if rate is None:
            return 1_000_000
        if self._stamp is not None:
            self._tokens = min(max(1.0, rate), self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        return int(self._tokens)

    # -- planning and outcomes

    def plan(self, now: float) -> list[list[str]]:
        """The requests to make now, each a list of ids: within every cap, most overdue first."""
        if now < self.paused_until:
            return []
        due: list[str] = []
        for nid, track in list(self.tracks.items()):
            limit = self.policy.give_up_after
            if limit is not None and now - track.first_seen > limit:
                del self.tracks[nid]
                self.given_up.add(nid)
                log.info("stopped polling %s: pending %.0f s, past the provider's validity", nid, limit)
                continue
            if track.next_at > now:
                continue
            free = self._free_at(track.recent, self.policy.per_message, now)
            if free > now:
                track.next_at = free
                continue
            due.append(nid)
        due.sort(key=lambda n: self.tracks[n].next_at)
        budget = self._budget(now)
        requests: list[list[str]] = []
        while due and len(requests) < budget:
            several = len(due) > 1 and self.batch > 1
            if several and self._free_at(self.mass_times, self.policy.mass, now) <= now:
                take, due = due[: self.batch], due[self.batch :]
                if len(take) > 1:
                    self.mass_times.append(now)
            else:
                take, due = due[:1], due[1:]
            requests.append(take)
        if self.policy.rate is not None:
            self._tokens -= len(requests)
        return requests

    def polled(self, ids: Sequence[str], now: float) -> None:
        """The request naming ``ids`` went out at ``now``: it counts against each one's cap."""
        for nid in ids:
            track = self.tracks.get(nid)
            if track is None:
                continue
            track.polls += 1
            track.recent.append(now)
            self._trim(track.recent, now)
            nxt = now + self.policy.delay(track.polls)
            track.next_at = max(nxt, self._free_at(track.recent, self.policy.per_message, nxt))

    def refused(self, ids: Sequence[str], now: float, retry_after: float | None) -> None:
        """The provider refused the request: back off those ids (and the mass budget), pause a little."""
        wait = retry_after if retry_after is not None and retry_after > 0 else self.policy.refused_wait
        for nid in ids:
            track = self.tracks.get(nid)
            if track is not None:
                track.next_at = max(track.next_at, now + wait)
        if len(ids) > 1:
            # it counted against the mass budget on their side, whatever we counted
            while len(self.mass_times) < (self.policy.mass or 1):
                self.mass_times.append(now)
        self.paused_until = max(self.paused_until, now + min(wait, self.policy.refused_pause))

    def next_due(self) -> float | None:
        if not self.tracks:
            return None
        return max(self.paused_until, min(t.next_at for t in self.tracks.values()))


@dataclass
class PollCounts:
    requests: int = 0
    refused: int = 0
    receipts: int = 0
    matched: int = 0


class Poller:
    """Polls ``transport`` for the messages ``store`` says are pending on it, on a :class:`PollSchedule`.

    ``poll()`` is cheap to call often: it reads the store at most every
    ``refresh`` seconds and asks the provider only about messages that are due.
    """

    def __init__(
        self,
        store: Store,
        transport: Transport,
        policy: PollPolicy,
        *,
        clock: Clock = time.monotonic,
        refresh: float = 1.0,
        on_receipts: Callable[[Sequence[DeliveryReceipt]], None] | None = None,
    ) -> None:
        if not isinstance(transport, StatusPolling):
            raise UnsupportedFeature(f"{transport.scheme}:// cannot be polled for status")
        self.store = store
        self.transport = transport
        self.schedule = PollSchedule(policy, transport.capabilities.status_poll)
        self.clock = clock
        self.refresh = min(refresh, policy.max_interval)
        self.counts = PollCounts()
        self._synced: float | None = None
        # Told of every batch once the store has it (a service's events), as pushed receipts are.
        self.on_receipts = on_receipts

    async def poll(self) -> PollCounts:
        """One round; returns what this round did."""
        now = self.clock()
        if self._synced is None or now - self._synced >= self.refresh:
            pending = await self.store.pending_native_ids(self.transport.link, PENDING_PAGE)
            self.schedule.sync(pending, now, complete=len(pending) < PENDING_PAGE)
            self._synced = now
        round_ = PollCounts()
        for ids in self.schedule.plan(now):
            sent_at = self.clock()
            self.schedule.polled(ids, sent_at)
            round_.requests += 1
            try:
                receipts = await self.transport.status(ids)
            except MessagingError as exc:
                if exc.code is not ErrorCode.THROTTLED:
                    log.warning("%s:// status poll failed: %s", self.transport.scheme, exc.info)
                    continue
                round_.refused += 1
                self.schedule.refused(ids, self.clock(), exc.info.retry_after)
                log.info(
                    "%s:// refused a status poll of %d messages (%s); asking again later",
                    self.transport.scheme,
                    len(ids),
                    exc.info,
                )
                break
            await self._record(receipts, round_)
        for name in ("requests", "refused", "receipts", "matched"):
            setattr(self.counts, name, getattr(self.counts, name) + getattr(round_, name))
        return round_

    async def _record(self, receipts: Sequence[DeliveryReceipt], round_: PollCounts) -> None:
        if not receipts:
            return
        round_.receipts += len(receipts)
        round_.matched += await self.store.record_receipts(receipts)
        if self.on_receipts is not None:
            self.on_receipts(receipts)
        for receipt in receipts:
            if receipt.status.is_final:
                self.schedule.done(receipt.native_id)
