"""One transport kept open for as long as the process runs, and the share of the outbox that is its own.

A lane is the dispatcher run as a service rather than as a command: it opens its transport once (and, if
the peer is down at start, keeps trying in the background with a capped backoff), then runs

- a send loop: ``Dispatcher.send_pending(origin=...)`` round after round, woken by :meth:`Lane.wake` (an
  accept in this process), by the store's ``watch()`` where it has one (PostgreSQL: another process's
  enqueue), by the earliest retry's due time (``Store.next_due``), else every ``idle`` seconds (SQLite:
  what another process queued);
- a receipt loop that never ends (``collect_receipts(until_final=False)``), so a receipt that arrives days
  after its message still reaches the store, where it is matched by ``(link, native id)``;
- an MO loop for a transport with ``InboundMessages``: each MO is stored, then announced.

A lane sends only what carries its ``origin`` (an idempotency-key prefix), so several lanes, a gateway and
the CLI share one store without one sending another's messages. The SMTP gateway's pump is a lane with
origin ``smtp:`` (:mod:`msgbridge.inbound.pump`); the runtime's lanes have ``api:<transport>:``.

A lane made with ``receipts=False`` only sends: the runtime's routed lanes (``service.routes``), whose
transport is made of the plain lanes' transports. Their owners read the receipts and close them; such a
lane closes its own transport without reading any, and counts each result against the lane of the
transport that carried it (``carriers``, by ``SendResult.link``), so a transport's health counts what
every route sent through it.

:meth:`Lane.drain` is the clean shutdown: no new claims, what is in flight gets ``timeout`` seconds to be
answered, what was claimed and never written goes back to the queue (QUEUED), what may have been written
stays MAYBE_SUBMITTED, and receipts keep being stored through the close.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import cast

from msgbridge.adapters.base import InboundMessages, ReceiptPush, ReportsHealth, StatusPolling, Transport
from msgbridge.core.errors import AuthError, ErrorCode, ErrorInfo, MessagingError
from msgbridge.core.message import DeliveryReceipt, InboundMessage, SendResult
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.service.contract import Latency
from msgbridge.service.events import EventHub
from msgbridge.store.base import Store

log = logging.getLogger(__name__)

# Upper bounds (seconds) of the submit latency histogram's buckets, Prometheus style (+Inf implied).
LATENCY_BOUNDS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
IDLE = 1.0  # seconds between looks at the outbox when nothing wakes the lane
# After a wake-up, how long more may arrive before the round starts: a burst of single-message accepts is
# claimed as one chunk (one claim, one mark, one results commit) instead of a round each, and the claim
# still follows the commit well within the 50 ms a service promises.
GATHER = 0.005
RECEIPT_ROUND = 3600.0  # one collect_receipts() call; the loop calls it again, forever
OPEN_BACKOFF = Backoff(base=0.5, cap=30.0)
NATIVE_INDEX = 100_000  # native ids remembered for naming receipts' messages in events
EARLY_RECEIPTS = 10_000  # receipts kept for their event until the result naming their native id is recorded


class Histogram:
    """A cumulative histogram of seconds (what :class:`~msgbridge.service.contract.Latency` reports)."""

    __slots__ = ("bounds", "buckets", "sum", "total")

    def __init__(self, bounds: Sequence[float] = LATENCY_BOUNDS) -> None:
        self.bounds = tuple(bounds)
        self.buckets = [0] * len(self.bounds)  # per bucket, not cumulative; snapshot() sums
        self.total = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        i = bisect.bisect_left(self.bounds, seconds)
        if i < len(self.buckets):
            self.buckets[i] += 1
        self.total += 1
        self.sum += seconds

    def snapshot(self) -> Latency:
        counts: list[int] = []
        running = 0
        for n in self.buckets:
            running += n
            counts.append(running)
        return Latency(bounds=self.bounds, counts=tuple(counts), total=self.total, sum=self.sum)


class Lane:
    """A transport, its dispatcher and the loops that keep them working (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        *,
        origin: str,
        name: str | None = None,
        tps: float | None = None,
        concurrency: int = 4,
        idle: float = IDLE,
        receipts: bool = True,
        inbound: bool = False,
        hub: EventHub | None = None,
        open_backoff: Backoff = OPEN_BACKOFF,
        carriers: Mapping[str, Lane] | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.origin = origin
        self.name = name or transport.scheme
        self.dispatcher = Dispatcher(store, transport, tps=tps, concurrency=concurrency)
        self.idle = idle
        self.gather = GATHER
        self.receipts = receipts
        self.inbound = inbound and isinstance(transport, InboundMessages)
        self.hub = hub
        self.open_backoff = open_backoff
        self.carriers: Mapping[str, Lane] = carriers or {}  # link -> the lane whose transport it is
        self.rounds = 0  # send rounds finished (a test waits for one more than it needs)
        self.opened = False  # the transport's open() has succeeded
        self.stopping = False
        self.last_error: ErrorInfo | None = None
        self.last_error_at: float | None = None
        # What the submit latency histogram holds: one observation per chunk the dispatcher sent, the
        # seconds from the chunk's first request being handed to the transport until its last answer.
        self.latency = Histogram()
        self.sent: Counter[DeliveryStatus] = Counter()  # results recorded by this lane, by status
        # Native id -> message id of what this lane sent lately: which message a receipt that names only the
        # peer's id is about, for its event (the store matches receipts on its own, whenever they come).
        self._native: OrderedDict[str, str] = OrderedDict()
        # Receipts naming a native id no result has named yet: announced once that result is recorded.
        self._early: OrderedDict[str, DeliveryReceipt] = OrderedDict()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()  # set by drain() and stop()
        self._tasks: list[asyncio.Task[None]] = []
        self._send_task: asyncio.Task[None] | None = None
        self._receipt_task: asyncio.Task[None] | None = None
        self._mo_task: asyncio.Task[None] | None = None
        self.dispatcher.results.on_results = self._on_results
        self.dispatcher.receipts.on_receipts = self._on_receipts
        self.dispatcher.on_chunk = self._on_chunk

    # -- hooks ---------------------------------------------------------------------------------------

    def _on_results(self, results: Sequence[SendResult]) -> None:
        carriers = self.carriers
        native = self._native if self.hub is not None else None
        for r in results:
            owner = carriers.get(r.link, self) if carriers else self
            owner.sent[r.status] += 1
            if r.error is not None:
                owner._error(r.error)
            if native is not None:
                for nid in r.native_ids or ((r.native_id,) if r.native_id else ()):
                    native[nid] = r.message_id
        if native is not None:
            while len(native) > NATIVE_INDEX:
                native.popitem(last=False)
        if self.hub is not None:
            self.hub.results(results)
            if self._early and native is not None:
                # Receipts that overtook these results (the store parked and has now matched them).
                early: list[DeliveryReceipt] = []
                for r in results:
                    for nid in r.native_ids or ((r.native_id,) if r.native_id else ()):
                        receipt = self._early.pop(nid, None)
                        if receipt is not None:
                            early.append(replace(receipt, message_id=r.message_id))
                self.hub.receipts(early)

    def _on_receipts(self, receipts: Sequence[DeliveryReceipt]) -> None:
        hub = self.hub
        if hub is None or not hub.listening:
            return
        native, early = self._native, self._early
        named: list[DeliveryReceipt] = []
        for r in receipts:
            if r.message_id is not None:
                named.append(r)
            elif r.native_id in native:
                named.append(replace(r, message_id=native[r.native_id]))
            else:
                early[r.native_id] = r  # its result may not be recorded yet
        while len(early) > EARLY_RECEIPTS:
            early.popitem(last=False)
        hub.receipts(named)

    def _on_chunk(self, messages: int, seconds: float) -> None:
        self.latency.observe(seconds)

    def _error(self, info: ErrorInfo) -> None:
        self.last_error = info
        self.last_error_at = time.time()

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, MessagingError):
            self._error(exc.info)
        else:
            self._error(
                ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_message=f"{type(exc).__name__}: {exc}")
            )

    # -- state ---------------------------------------------------------------------------------------

    @property
    def up(self) -> bool:
        """Open and usable now: the transport's own word where it reports health, else opened."""
        if not self.opened or self.stopping:
            return False
        if isinstance(self.transport, ReportsHealth):
            return self.transport.health().up
        return True

    def wake(self, message_ids: Sequence[str] = ()) -> None:
        """Something was queued for this lane: claim it now rather than at the next look."""
        self._wake.set()

    # -- running -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the transport in the background (retrying while the peer is down), then run the loops."""
        self._send_task = asyncio.create_task(self._run(), name=f"lane-{self.name}")
        self._tasks.append(self._send_task)

    async def _run(self) -> None:
        await self._open()
        if self.receipts and isinstance(self.transport, (ReceiptPush, StatusPolling)):
            self._receipt_task = asyncio.create_task(self._receipt_loop(), name=f"lane-{self.name}-receipts")
            self._tasks.append(self._receipt_task)
        if self.inbound:
            self._mo_task = asyncio.create_task(self._mo_loop(), name=f"lane-{self.name}-mo")
            self._tasks.append(self._mo_task)
        self._tasks.append(asyncio.create_task(self._watch_loop(), name=f"lane-{self.name}-watch"))
        await self._send_loop()

    async def _open(self) -> None:
        attempt = 0
        while not self.stopping:
            try:
                await self.transport.open()
            except (MessagingError, OSError) as exc:
                self._failed(exc)
                attempt += 1
                wait = self.open_backoff.delay(attempt)
                level = logging.ERROR if isinstance(exc, AuthError) else logging.WARNING
                log.log(
                    level,
                    "%s: cannot open %s (%s); trying again in %.1f s",
                    self.name,
                    self.transport.scheme,
                    exc,
                    wait,
                )
                await asyncio.sleep(wait)
                continue
            self.opened = True
            return

    async def _send_loop(self) -> None:
        failures = 0
        while not self.stopping:
            self._wake.clear()
            try:
                await self.dispatcher.send_pending(origin=self.origin)
                failures = 0
            except MessagingError as exc:
                # The link may be down or refusing us; the messages stay queued and a later round tries again,
                # backing off while it keeps failing.
                self._failed(exc)
                failures += 1
                log.warning("%s: dispatch round failed: %s", self.name, exc)
            except Exception as exc:
                self._failed(exc)
                failures += 1
                log.exception("%s: dispatch round failed", self.name)
            self.rounds += 1
            if self.stopping:
                return
            if failures:
                # Failing: neither an accept nor a due retry brings the next round forward, only the backoff.
                wait = self.open_backoff.delay(failures)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=wait)
                continue
            wait = self.idle
            with contextlib.suppress(NotImplementedError):
                due = await self.store.next_due(origin=self.origin)
                if due is not None:
                    wait = min(wait, max(0.01, due - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            if self.gather > 0:
                await asyncio.sleep(self.gather)

    async def _watch_loop(self) -> None:
        """Wake on the store's notice that another process queued something (where the store can tell)."""
        while not self.stopping:
            try:
                async with self.store.watch() as wakes:
                    async for _ in wakes:
                        self._wake.set()
                return  # the store closed
            except NotImplementedError:
                return  # SQLite: the idle look is the fallback
            except Exception as exc:
                log.warning(
                    "%s: store watch failed (%s); looking every %.1f s meanwhile", self.name, exc, self.idle
                )
                await asyncio.sleep(max(self.idle, 1.0))

    async def _receipt_loop(self) -> None:
        while not self.stopping:
            try:
                await self.dispatcher.collect_receipts(timeout=RECEIPT_ROUND, until_final=False)
            except Exception as exc:
                self._failed(exc)
                log.exception("%s: receipt collection failed", self.name)
                await asyncio.sleep(self.idle)

    async def _mo_loop(self) -> None:
        transport = cast(InboundMessages, self.transport)
        async for message in transport.inbound():
            batch: list[InboundMessage] = [message]
            try:
                await self.store.add_inbound(batch)
            except Exception as exc:
                self._failed(exc)
                log.exception("%s: could not store MO from %s", self.name, message.source)
                continue
            if self.hub is not None:
                self.hub.inbound(batch)

    # -- stopping ------------------------------------------------------------------------------------

    async def drain(
        self,
        timeout: float,  # noqa: ASYNC109 -- the deadline is the point
        *,
        before_close: asyncio.Future[list[BaseException | None]] | None = None,
    ) -> None:
        """Stop claiming, let what is in flight be answered up to ``timeout``, store receipts meanwhile, close.

        ``before_close``: what must end before the transport closes, its receipts still read meanwhile
        (the drain of the routed lanes that send through it)."""
        self.stopping = True
        self._stop.set()
        self.dispatcher.stop_grace = max(0.0, timeout)
        self.dispatcher.request_stop()
        self._wake.set()
        send = self._send_task
        if send is not None and not self.opened:
            send.cancel()  # still trying to open: nothing was claimed
        elif send is not None and not send.done():
            done, _ = await asyncio.wait({send}, timeout=timeout + 1.0)
            if not done:
                send.cancel()
        if before_close is not None:
            await asyncio.wait({before_close}, timeout=timeout + 2.0)
        for task in self._tasks:
            if task is not self._mo_task and task is not send and not task.done():
                task.cancel()
        await asyncio.gather(*(t for t in self._tasks if t is not self._mo_task), return_exceptions=True)
        if self.opened:
            try:
                await self._close()
            except Exception as exc:
                log.warning("%s: closing the transport: %s", self.name, exc)
        else:
            with contextlib.suppress(Exception):
                await self.transport.aclose()
        if self._mo_task is not None and not self._mo_task.done():
            # The inbound stream ends with the close; what it still held is stored first.
            done, _ = await asyncio.wait({self._mo_task}, timeout=2.0)
            if not done:
                self._mo_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._mo_task
        self._tasks.clear()

    async def stop(self) -> None:
        """Stop now: cancel the loops (what is in flight stays as the dispatcher leaves it), close the transport."""
        self.stopping = True
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self._close()

    async def _close(self) -> None:
        """Close the transport; one whose receipts this lane reads is read through the close (SMPP
        releases the receipts it held), they are stored, then it unbinds."""
        if self.receipts:
            await self.dispatcher.close_transport()
        else:
            await self.transport.aclose()
