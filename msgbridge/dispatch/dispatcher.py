"""Moves queued messages through a transport and receipts back into the store.

Every transport gets the same guarantees from here, so none implements them
twice:

- a message is claimed (owned by this process, still QUEUED) before it is
  handed to the transport, and marked MAYBE_SUBMITTED, durably, just before
  its request may be written: by the transport group by group where it says
  when it writes (``writes_in_groups``, SMPP: one window's worth at a time),
  else right before ``send()``. What was claimed and never written goes back
  to the queue; after a kill, only what may have been written is in doubt;
- a stop request (SIGINT/SIGTERM in the CLI) ends claiming, lets what is in
  flight be answered for a bounded time, and gives back what was not written;
- retryable refusals go back to the queue with exponential backoff, honouring
  the peer's retry-after; outcome-unknown failures (a timeout after the request
  left, an exception mid-send) stay MAYBE_SUBMITTED and are never resent
  blindly;
- on start, messages left MAYBE_SUBMITTED by a killed run are settled through
  ``transport.lookup`` where the transport is a ``ReferenceLookup``, else left
  for the user to resend explicitly (``include_maybe``);
- store writes are batched: one claim and one result transaction per chunk of
  messages, receipts flushed in batches, never one transaction per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from msgbridge.adapters.base import (
    AcknowledgesReceipts,
    ProviderCampaigns,
    ReceiptPush,
    ReferenceLookup,
    StatusPolling,
    Transport,
)
from msgbridge.core.errors import ErrorCode, ErrorInfo, MessagingError, UnsupportedFeature
from msgbridge.core.message import Campaign, DeliveryReceipt, SendResult
from msgbridge.core.ratelimit import Backoff, TokenBucket, describe_wait
from msgbridge.core.status import AWAITING_RECEIPT, DeliveryStatus
from msgbridge.dispatch.polling import Poller, policy_for
from msgbridge.store.base import MessageRecord, Store

log = logging.getLogger(__name__)

# Most messages claimed at once when neither the transport nor the caller says otherwise.
DEFAULT_CLAIM = 500
MIN_CLAIM = 10
CHUNK_SECONDS = 0.5
SETTLE_PAGE = 500
# After a stop request, how long what is in flight may take to be answered before sending is cancelled.
STOP_GRACE = 10.0
# While a campaign is still being queued, how long a worker that found nothing waits before claiming again.
PRODUCING_WAIT = 0.02
# How long pushed receipts gather before they are committed together: a peer that waits for our
# acknowledgement (acknowledged only once stored) gets it within a few milliseconds, in few transactions.
RECEIPT_COMMIT_DELAY = 0.005


class Interrupted(Exception):
    """Raised by the write hook once a stop was requested: the transport writes nothing more."""


class _Writes:
    """One chunk's write hook (see ``BeforeWrite``): marks messages in doubt just before they are written.

    ``marked`` is what may have been written (and so is MAYBE_SUBMITTED until
    its result is recorded). Answers the transport hands over early, for this
    chunk or another one in flight, are recorded at once and noted in the
    dispatcher's ``recorded`` set, so their chunk does not write them twice.
    """

    __slots__ = ("dispatcher", "marked")

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.marked: set[str] = set()

    async def __call__(self, message_ids: Sequence[str], answered: Sequence[SendResult] = ()) -> None:
        d = self.dispatcher
        if answered:
            # Recorded before the next group is marked: in doubt stays what is in flight, not what was answered.
            await d.store.record_results(answered, link=d.transport.link)
            d.recorded.update(r.message_id for r in answered)
        if d.stopping:
            raise Interrupted("stop requested: not written")
        marked = self.marked
        new = [i for i in message_ids if i not in marked]
        if new:
            await d.store.mark_in_doubt(new)
            marked.update(new)


@dataclass
class DispatchStats:
    """Counters for one dispatcher; the CLI's progress bar and summary read them."""

    claimed: int = 0
    submitted: int = 0
    failed: int = 0
    retried: int = 0
    in_doubt: int = 0  # left MAYBE_SUBMITTED by this run
    released: int = 0  # claimed, never written, given back to the queue (a stop, an error)
    interrupted: bool = False  # a stop was requested before everything was sent
    settled_sent: int = 0  # MAYBE_SUBMITTED found at the peer on start
    settled_unsent: int = 0  # MAYBE_SUBMITTED the peer never saw, queued again
    resent_maybe: int = 0  # MAYBE_SUBMITTED queued again because the user asked
    receipts: int = 0
    receipts_matched: int = 0
    batches: int = 0
    slowed: int = 0  # times the TPS cap was halved because the peer throttled
    errors: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    send_seconds: float = 0.0  # from the start until nothing was left to send

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def done(self) -> int:
        """Messages this run finished with (accepted, refused or left in doubt)."""
        return self.submitted + self.failed + self.in_doubt

    def count_error(self, code: ErrorCode) -> None:
        self.errors[code.value] = self.errors.get(code.value, 0) + 1


ProgressCallback = Callable[[DispatchStats], None]


class Dispatcher:
    def __init__(
        self,
        store: Store,
        transport: Transport,
        *,
        tps: float | None = None,
        concurrency: int = 4,
        batch_size: int | None = None,
        max_attempts: int = 5,
        backoff: Backoff = Backoff(),
        progress: ProgressCallback | None = None,
        receipt_batch: int = 1000,
        poll_interval: float = 1.0,
        max_retry_wait: float | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.transport = transport
        self.tps = tps
        self.bucket = TokenBucket(tps) if tps else None
        self.concurrency = concurrency
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        # The longest wait a peer may ask of us (Retry-After): the transport's own setting (HTTP
        # ?max_retry_wait=) unless the caller gives one. A longer ask ends the message THROTTLED.
        self.max_retry_wait = float(max_retry_wait if max_retry_wait is not None else transport.max_retry_wait)
        self.progress = progress
        self.receipt_batch = receipt_batch
        self.poll_interval = poll_interval
        self.stats = DispatchStats()
        max_batch = max(1, transport.capabilities.max_batch)
        # Claim sizing: a claimed message is MAYBE_SUBMITTED until its result is written, so a chunk
        # should be about CHUNK_SECONDS of work (few messages in doubt after a crash, smooth progress),
        # yet never so small that the store sees a transaction per message. Without a TPS cap the
        # size adapts to the measured send time; with one it is a second's worth.
        self.fixed_claim = batch_size is not None
        if batch_size:
            claim = batch_size
        else:
            claim = min(max(max_batch, MIN_CLAIM), DEFAULT_CLAIM)
            if tps:
                claim = max(1, min(claim, int(tps)))
        # Batch APIs keep full-ish batches (up to 100) even from a slow peer.
        self.min_claim = min(claim, max(MIN_CLAIM, min(max_batch, 100)))
        self.claim_size = claim
        self.send_size = max(1, min(max_batch, claim))
        self._receipts: list[DeliveryReceipt] = []
        self._reader: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._receipts_due = asyncio.Event()
        # Told which receipts are committed, so it acknowledges them only then (None: it does not wait).
        self._acks: AcknowledgesReceipts | None = (
            transport if isinstance(transport, AcknowledgesReceipts) else None
        )
        self._warned_in_doubt = False
        self.poller: Poller | None = None  # made on the first poll, then kept: it holds each message's schedule
        self.stopping = False
        self.stop_grace = STOP_GRACE
        self.recorded: set[str] = set()  # results recorded early by a write hook, until their chunk ends
        self._in_hand: set[str] = set()  # named messages another worker of this dispatcher is sending
        self._stop = asyncio.Event()
        # A run for named messages (``send``): a failure that stops it fails them rather than leaving them
        # queued for whatever process sends next.
        self._fail_on_stop = False

    def request_stop(self) -> None:
        """Stop claiming; what is in flight gets ``stop_grace`` seconds to be answered; nothing new is written."""
        self.stopping = True
        self.stats.interrupted = True
        self._stop.set()

    # -- sending ---------------------------------------------------------

    @contextlib.contextmanager
    def stop_on_signals(
        self, signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM)
    ) -> Iterator[None]:
        """While inside, the first SIGINT/SIGTERM asks for a stop (:meth:`request_stop`); a second one acts as usual.

        Must be entered from the event loop's own thread, inside a coroutine.
        """
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []

        def first(sig: signal.Signals) -> None:
            log.warning(
                "%s: stopping: no new claims, waiting up to %.0f s for what is in flight (again to quit now)",
                sig.name,
                self.stop_grace,
            )
            self.request_stop()
            for s in installed:
                loop.remove_signal_handler(s)
            installed.clear()

        for sig in signals:
            try:
                loop.add_signal_handler(sig, first, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no such signal here
                continue
            installed.append(sig)
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def send_pending(
        self,
        campaign: str | None = None,
        include_maybe: bool = False,
        *,
        message_ids: Sequence[str] | None = None,
        origin: str | None = None,
        producing: asyncio.Event | None = None,
    ) -> DispatchStats:
        """Send everything queued (for ``campaign``, only ``message_ids``, or of ``origin``) until nothing is due.

        ``origin`` is an idempotency-key prefix: the SMTP gateway sends only
        what it queued itself (``smtp:``), never a campaign's or a ``send``'s.
        ``producing``, while given and not set, says more is being queued (a
        campaign still being prepared): a worker that finds nothing due waits
        briefly and claims again instead of finishing.
        """
        self._fail_on_stop = message_ids is not None
        if self.stopping:
            return self.stats
        await self.settle(campaign, resend=include_maybe, message_ids=message_ids, origin=origin)
        workers = [
            asyncio.create_task(self._worker(campaign, message_ids, origin, producing), name=f"dispatch-{i}")
            for i in range(self.concurrency)
        ]
        everything = asyncio.gather(*workers)
        # Its outcome is read below, or is a worker's error already raised (or cancelled) by then.
        everything.add_done_callback(lambda f: f.cancelled() or f.exception())
        stop: asyncio.Future[object] = asyncio.ensure_future(self._stop.wait())
        try:
            first: set[asyncio.Future[object]] = {everything, stop}  # type: ignore[arg-type]
            done, _ = await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            if everything not in done:
                # Stop requested: in-flight requests get their answers, for a bounded time.
                finished, _ = await asyncio.wait({everything}, timeout=self.stop_grace)
                if not finished:
                    log.warning("stop: what was in flight was not answered within %.0f s", self.stop_grace)
            if everything.done():
                everything.result()
        finally:
            stop.cancel()
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._flush_receipts()
            self.stats.send_seconds = self.stats.elapsed
        return self.stats

    async def fail_unsent(self, message_ids: Sequence[str], error: ErrorInfo, *, keep: bool = False) -> None:
        """A command that failed before sending these: FAILED with ``error``, or (``keep``) left QUEUED.

        Only messages still QUEUED change: one that may have been written stays
        in doubt. ``keep`` is for a failure worth retrying (a network error)
        when the caller can name the message again (``send --reference``).
        """
        queued = [
            mid
            for mid in message_ids
            if (rec := await self.store.get(mid)) is not None and rec.status is DeliveryStatus.QUEUED
        ]
        if keep:
            if queued:
                log.warning("%d messages left queued: send them again with the same reference", len(queued))
            return
        await self.store.record_results(
            [SendResult(message_id=mid, status=DeliveryStatus.FAILED, error=error) for mid in queued],
            link=self.transport.link,
        )

    async def settle(
        self,
        campaign: str | None = None,
        *,
        resend: bool = False,
        message_ids: Sequence[str] | None = None,
        origin: str | None = None,
    ) -> None:
        """Resolve messages a previous run left MAYBE_SUBMITTED, before anything new is sent.

        What another *live* run holds is never touched: it is in flight there,
        not left behind (its owner records the answers or, if it dies, the
        next run settles them).
        """
        can_lookup = isinstance(self.transport, ReferenceLookup)
        if message_ids is None and not self._warned_in_doubt:
            # Once per dispatcher: a long-running caller (the SMTP gateway's pump) calls send_pending often.
            self._warned_in_doubt = True
            counts = await self.store.doubt_counts(campaign, origin)
            if counts.held:
                log.warning(
                    "%d messages are in flight in another run that is still live; they are left to it "
                    "(neither settled nor resent here)",
                    counts.held,
                )
            if counts.left and not resend and not can_lookup:
                log.warning(
                    "%d messages may have been sent by a run that ended before their answer was recorded; "
                    "%s:// cannot look them up, so they stay MAYBE_SUBMITTED until resent explicitly",
                    counts.left,
                    self.transport.scheme,
                )
        if not resend and not can_lookup:
            return
        seen: set[str] = set()
        while True:
            if message_ids is not None:
                records = [await self.store.get(mid) for mid in message_ids]
                doubt = [r for r in records if r is not None and r.status is DeliveryStatus.MAYBE_SUBMITTED]
            else:
                doubt = await self.store.in_doubt(SETTLE_PAGE, campaign=campaign, origin=origin)
            # Each page leaves MAYBE_SUBMITTED below; ``seen`` stops the loop if something does not.
            page = [r for r in doubt if r.message.id not in seen]
            if not page:
                return
            seen.update(r.message.id for r in page)
            if resend:
                await self.store.requeue([r.message.id for r in page], not_before=0.0, error=None)
                self.stats.resent_maybe += len(page)
            elif not await self._settle_by_lookup(page):
                return

    async def _settle_by_lookup(self, page: list[MessageRecord]) -> bool:
        """Ask the peer about ``page``; False when it turns out it cannot be asked."""
        transport = self.transport
        if not isinstance(transport, ReferenceLookup):
            return False
        by_ref = {(r.message.reference or r.message.id): r for r in page}
        try:
            found = await transport.lookup(list(by_ref))
        except UnsupportedFeature:
            return False
        results = [
            res.model_copy(update={"message_id": by_ref[ref].message.id, "status": DeliveryStatus.SUBMITTED})
            for ref, res in found.items()
            if ref in by_ref
        ]
        unsent = [r.message.id for ref, r in by_ref.items() if ref not in found]
        await self.store.record_results(results, link=self.transport.link)
        await self.store.requeue(unsent, not_before=0.0, error=None)
        self.stats.settled_sent += len(results)
        self.stats.settled_unsent += len(unsent)
        log.info(
            "settled %d in-doubt messages: %d were sent, %d queued again",
            len(page),
            len(results),
            len(unsent),
        )
        return True

    async def _worker(
        self,
        campaign: str | None,
        message_ids: Sequence[str] | None,
        origin: str | None = None,
        producing: asyncio.Event | None = None,
    ) -> None:
        while not self.stopping:
            batch = await self.store.claim(self.claim_size, campaign=campaign, ids=message_ids, origin=origin)
            if not batch and producing is not None and not producing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(producing.wait(), PRODUCING_WAIT)
                continue
            if not batch:
                due = await self.store.next_due(campaign=campaign, origin=origin)
                if due is None or (message_ids is not None and not await self._any_queued(message_ids)):
                    return
                # A retry is waiting out its backoff: wake when it is due (or soon, to see others' requeues).
                await asyncio.sleep(min(max(0.0, due - time.time()), 0.25) or 0.01)
                continue
            self.stats.claimed += len(batch)
            started = time.monotonic()
            if message_ids is not None:
                self._in_hand.update(r.message.id for r in batch)
            try:
                await self._send_chunk(batch)
            finally:
                self._in_hand.difference_update(r.message.id for r in batch)
            self._adapt(len(batch), time.monotonic() - started)
            await self._flush_receipts()
            if self.progress is not None:
                self.progress(self.stats)

    def _adapt(self, sent: int, seconds: float) -> None:
        if self.fixed_claim or self.tps or sent <= 0:
            return
        per_message = seconds / sent
        target = int(CHUNK_SECONDS / per_message) if per_message > 0 else DEFAULT_CLAIM
        self.claim_size = max(self.min_claim, min(DEFAULT_CLAIM, target))

    async def _any_queued(self, message_ids: Sequence[str]) -> bool:
        """Whether a named message waits to be claimed (claimed ones stay QUEUED while in hand: not those)."""
        for mid in message_ids:
            if mid in self._in_hand:
                continue
            rec = await self.store.get(mid)
            if rec is not None and rec.status is DeliveryStatus.QUEUED:
                return True
        return False

    async def _send_chunk(self, batch: list[MessageRecord]) -> None:
        outcomes: list[SendResult] = []
        retry: list[tuple[MessageRecord, ErrorInfo]] = []
        writes = _Writes(self)
        grouped = self.transport.writes_in_groups
        try:
            for start in range(0, len(batch), self.send_size):
                if self.stopping:
                    break  # the rest of the chunk is given back below
                part = batch[start : start + self.send_size]
                if self.bucket is not None:
                    await self.bucket.acquire(len(part))
                self.stats.batches += 1
                messages = [r.message for r in part]
                try:
                    if grouped:
                        results = await self.transport.send(messages, before_write=writes)  # type: ignore[call-arg]
                    else:
                        await writes([m.id for m in messages])
                        results = await self.transport.send(messages)
                except Interrupted:
                    break
                except MessagingError as exc:
                    self._pace(exc.code is ErrorCode.THROTTLED)
                    before = len(retry)
                    self._on_send_error(part, exc, outcomes, retry)
                    if not exc.code.retryable and not exc.code.outcome_unknown:
                        # Nothing was sent and sending again cannot help (bad credentials...): stop the run.
                        # The rest of the chunk is given back below; a run for named messages (``send``)
                        # fails this part instead, so no later process sends what the user was told failed.
                        if self._fail_on_stop:
                            outcomes.extend(
                                SendResult(message_id=rec.message.id, status=DeliveryStatus.FAILED, error=err)
                                for rec, err in retry[before:]
                            )
                            self.stats.failed += len(retry) - before
                            del retry[before:]
                        raise
                    continue
                if len(results) != len(part):
                    raise MessagingError(
                        f"{self.transport.scheme}:// returned {len(results)} results for {len(part)} messages",
                        code=ErrorCode.PROTOCOL_ERROR,
                    )
                for rec, res in zip(part, results, strict=True):
                    self._classify(rec, res, outcomes, retry)
                self._pace(any(r.error is not None and r.error.code is ErrorCode.THROTTLED for r in results))
        finally:
            # Whatever happened, what we learnt is written: an exception from the transport leaves the
            # messages it may have written MAYBE_SUBMITTED (they were marked so), never QUEUED.
            recorded = self.recorded
            await self.store.record_results(
                [o for o in outcomes if o.message_id not in recorded] if recorded else outcomes,
                link=self.transport.link,
            )
            if self.stopping:
                # Not written because of the stop: given back below as they were, with no backoff.
                retry = [(rec, err) for rec, err in retry if rec.message.id in writes.marked]
            await self._requeue(retry)
            handled = {o.message_id for o in outcomes} | {rec.message.id for rec, _ in retry}
            back = [r.message.id for r in batch if r.message.id not in handled and r.message.id not in recorded]
            if recorded:
                recorded.difference_update(r.message.id for r in batch)
            # Only rows still QUEUED and ours change: anything marked in doubt stays so.
            await self.store.release(back)
            self.stats.released += sum(1 for i in back if i not in writes.marked)

    def _pace(self, throttled: bool) -> None:
        """Under a TPS cap, halve the rate when the peer throttles and win it back a quarter at a time."""
        if self.bucket is None or not self.tps:
            return
        if throttled:
            self.bucket.rate = max(1.0, self.bucket.rate / 2)
            self.stats.slowed += 1
            log.info("%s:// throttled us: down to %.1f messages/s", self.transport.scheme, self.bucket.rate)
        elif self.bucket.rate < self.tps:
            self.bucket.rate = min(float(self.tps), self.bucket.rate * 1.25)

    def _on_send_error(
        self,
        part: list[MessageRecord],
        exc: MessagingError,
        outcomes: list[SendResult],
        retry: list[tuple[MessageRecord, ErrorInfo]],
    ) -> None:
        info = exc.info
        log.warning("send of %d messages failed: %s", len(part), info)
        for rec in part:
            self.stats.count_error(info.code)
            if info.code.outcome_unknown:
                outcomes.append(
                    SendResult(message_id=rec.message.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=info)
                )
                self.stats.in_doubt += 1
            elif (refusal := self._wait_refused(info)) is not None:
                outcomes.append(
                    SendResult(message_id=rec.message.id, status=DeliveryStatus.FAILED, error=refusal)
                )
                self.stats.failed += 1
            elif info.code.retryable and rec.attempts < self.max_attempts:
                retry.append((rec, info))
            elif info.code.retryable:
                outcomes.append(
                    SendResult(message_id=rec.message.id, status=DeliveryStatus.FAILED, error=info)
                )
                self.stats.failed += 1
            else:
                retry.append((rec, info))  # put back as it was: the run stops, nothing was sent

    def _classify(
        self,
        rec: MessageRecord,
        res: SendResult,
        outcomes: list[SendResult],
        retry: list[tuple[MessageRecord, ErrorInfo]],
    ) -> None:
        error = res.error
        if error is None:
            outcomes.append(res)
            if res.status is DeliveryStatus.MAYBE_SUBMITTED:
                self.stats.in_doubt += 1
            elif res.status.is_final and not res.status.is_success:
                self.stats.failed += 1  # refused without saying why
            else:
                self.stats.submitted += 1
            return
        self.stats.count_error(error.code)
        if error.code.outcome_unknown or res.status is DeliveryStatus.MAYBE_SUBMITTED:
            outcomes.append(res.model_copy(update={"status": DeliveryStatus.MAYBE_SUBMITTED}))
            self.stats.in_doubt += 1
        elif (refusal := self._wait_refused(error)) is not None:
            outcomes.append(res.model_copy(update={"status": DeliveryStatus.FAILED, "error": refusal}))
            self.stats.failed += 1
        elif error.retryable and rec.attempts < self.max_attempts:
            retry.append((rec, error))
        else:
            if not res.status.is_final:
                res = res.model_copy(update={"status": DeliveryStatus.FAILED})
            outcomes.append(res)
            self.stats.failed += 1

    def _wait_refused(self, error: ErrorInfo) -> ErrorInfo | None:
        """THROTTLED, naming the asked wait, when the peer wants longer than ``max_retry_wait``; else None.

        Waiting out ``Retry-After: 999999`` would hold a send for 11.6 days, and requeueing it at the
        cap would only ask again a peer that said "not now": the message ends FAILED with a reason the
        user can act on (send it later, or raise ``max_retry_wait``).
        """
        if not error.retryable or error.retry_after is None or error.retry_after <= self.max_retry_wait:
            return None
        asked = (
            f"asked to wait {describe_wait(error.retry_after)}, longer than "
            f"max_retry_wait={self.max_retry_wait:g} s: not retried"
        )
        text = f"{error.native_message}; {asked}" if error.native_message else asked
        return error.model_copy(update={"code": ErrorCode.THROTTLED, "native_message": text})

    async def _requeue(self, retry: list[tuple[MessageRecord, ErrorInfo]]) -> None:
        """Requeue in one store call per attempt number: one backoff delay per group, not per message."""
        groups: dict[int, list[tuple[MessageRecord, ErrorInfo]]] = {}
        for rec, err in retry:
            groups.setdefault(rec.attempts, []).append((rec, err))
        for attempts, items in groups.items():
            hints = [e.retry_after for _, e in items if e.retry_after is not None]
            wait = self.backoff.delay_within(attempts, max(hints) if hints else None, self.max_retry_wait)
            delay = self.max_retry_wait if wait is None else wait
            await self.store.requeue(
                [r.message.id for r, _ in items], not_before=time.time() + delay, error=items[0][1]
            )
            self.stats.retried += len(items)

    async def send_provider_campaign(self, campaign: Campaign) -> DispatchStats:
        """Hand the whole queued campaign to the provider's own campaign API, where the transport has one.

        Kept simple: everything queued for the campaign is claimed, given to
        ``transport.run_campaign(campaign, messages)`` in one call, and its
        per-recipient results recorded like any send; retryable refusals are
        requeued for a normal per-message run. A transport that is not a
        ``ProviderCampaigns`` is sent to message by message.
        """
        transport = self.transport
        if not isinstance(transport, ProviderCampaigns):
            log.info("%s:// has no campaign API; sending message by message", self.transport.scheme)
            return await self.send_pending(campaign.name)
        await self.settle(campaign.name)
        claimed: list[MessageRecord] = []
        while batch := await self.store.claim(DEFAULT_CLAIM, campaign=campaign.name):
            claimed.extend(batch)
        if not claimed:
            return self.stats
        self.stats.claimed += len(claimed)
        self.stats.batches += 1
        outcomes: list[SendResult] = []
        retry: list[tuple[MessageRecord, ErrorInfo]] = []
        try:
            await self.store.mark_in_doubt([r.message.id for r in claimed])
            result = await transport.run_campaign(campaign, [r.message for r in claimed])
            results = list(result.results)
            if len(results) != len(claimed):
                raise MessagingError(
                    f"{self.transport.scheme}:// campaign returned {len(results)} results for {len(claimed)} messages",
                    code=ErrorCode.PROTOCOL_ERROR,
                )
            log.info("provider campaign %s: %s", result.campaign_id, result.status)
            for rec, res in zip(claimed, results, strict=True):
                self._classify(rec, res, outcomes, retry)
        except MessagingError as exc:
            self._on_send_error(claimed, exc, outcomes, retry)
            if not exc.code.retryable and not exc.code.outcome_unknown:
                raise
        finally:
            for start in range(0, len(outcomes), DEFAULT_CLAIM):
                await self.store.record_results(
                    outcomes[start : start + DEFAULT_CLAIM], link=self.transport.link
                )
            await self._requeue(retry)
            if self.progress is not None:
                self.progress(self.stats)
            self.stats.send_seconds = self.stats.elapsed
        return self.stats

    # -- receipts --------------------------------------------------------

    def start_receipts(self) -> None:
        """Start consuming pushed receipts (idempotent); they are committed every few milliseconds.

        From here on the transport may leave acknowledging each receipt to us
        (``AcknowledgesReceipts``): it is acknowledged once it is in the store.
        """
        if self._reader is None and isinstance(self.transport, ReceiptPush):
            if self._acks is not None:
                self._acks.hold_receipt_acks()
            self._reader = asyncio.create_task(self._read_receipts(self.transport), name="receipts")
            if self._flusher is None:
                self._flusher = asyncio.create_task(self._commit_receipts(), name="receipt-commits")

    async def _read_receipts(self, transport: ReceiptPush) -> None:
        due = self._receipts_due
        try:
            async for receipt in transport.receipts():
                self._receipts.append(receipt)
                self.stats.receipts += 1
                if len(self._receipts) >= self.receipt_batch:
                    await self._flush_receipts()
                elif not due.is_set():
                    due.set()
        except MessagingError as exc:
            # A lost receipt stream must not take the sending down with it; what arrived is still written.
            log.warning("%s:// receipt stream ended: %s", self.transport.scheme, exc)
        await self._flush_receipts()  # the stream ended (the transport closed): what it released is stored

    async def _commit_receipts(self) -> None:
        """Commit what the reader gathered a few milliseconds after the first of them arrived."""
        due = self._receipts_due
        while True:
            await due.wait()
            await asyncio.sleep(RECEIPT_COMMIT_DELAY)
            due.clear()
            try:
                await self._flush_receipts()
            except Exception as exc:
                # Not stored, so not acknowledged either: a peer that waits for that delivers them again.
                log.error("could not store receipts: %s", exc)

    async def _flush_receipts(self) -> None:
        if not self._receipts:
            return
        batch, self._receipts = self._receipts, []
        try:
            self.stats.receipts_matched += await self.store.record_receipts(batch)
        except asyncio.CancelledError:
            self._receipts[:0] = batch  # not known to be stored: written by the next flush
            raise
        if self._acks is not None:
            self._acks.receipts_stored(batch)

    async def _poll_once(self) -> None:
        """Ask about the pending messages that are due; the poller keeps each provider's limits."""
        if self.poller is None:
            self.poller = Poller(self.store, self.transport, policy_for(self.transport, self.poll_interval))
        done = await self.poller.poll()
        self.stats.receipts += done.receipts
        self.stats.receipts_matched += done.matched

    async def awaiting(self, campaign: str | None = None, message_ids: Sequence[str] | None = None) -> int:
        """How many messages still expect a receipt."""
        if message_ids is not None:
            n = 0
            for mid in message_ids:
                rec = await self.store.get(mid)
                n += rec is not None and rec.status in AWAITING_RECEIPT
            return n
        counts = await self.store.counts(campaign)
        return sum(n for status, n in counts.items() if status in AWAITING_RECEIPT)

    async def collect_receipts(
        self,
        timeout: float = 30.0,  # noqa: ASYNC109 -- a deadline for waiting on receipts, part of the contract
        until_final: bool = True,
        *,
        campaign: str | None = None,
        message_ids: Sequence[str] | None = None,
    ) -> DispatchStats:
        """Write receipts to the store until none is awaited (``until_final``) or ``timeout`` passes.

        Pushed receipts are consumed where the transport pushes them; status is
        polled only where it cannot push but can be polled, by ``self.poller``,
        which asks about each message only when it is due and within the
        provider's documented limits.
        """
        self.start_receipts()
        poll = isinstance(self.transport, StatusPolling) and not isinstance(self.transport, ReceiptPush)
        deadline = time.monotonic() + timeout
        while True:
            await self._flush_receipts()
            if poll:
                await self._poll_once()
            if until_final and await self.awaiting(campaign, message_ids) == 0:
                break
            if time.monotonic() >= deadline:
                break
            if self.progress is not None:
                self.progress(self.stats)
            await asyncio.sleep(0.05)
        await self._flush_receipts()
        if self.progress is not None:
            self.progress(self.stats)
        return self.stats

    async def stop_receipts(self) -> None:
        for task in (self._reader, self._flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._reader = self._flusher = None
        await self._flush_receipts()

    async def close_transport(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 -- bounds the final drain
        """Close the transport while reading its receipts to the end, and write them to the store.

        A transport may release receipts on close: SMPP holds back receipts
        that arrive before their submit_sm_resp (or that this process did not
        send, when several workers share an account). The reader keeps going
        through the close, so those are stored (unmatched ones parked) and,
        where the transport waits for that, acknowledged before it unbinds.
        """
        if not isinstance(self.transport, ReceiptPush):
            await self.stop_receipts()
            await self.transport.aclose()
            return
        self.start_receipts()
        await self.transport.aclose()
        reader = self._reader
        if reader is not None:
            done, _ = await asyncio.wait({reader}, timeout=timeout)
            if not done:
                log.warning(
                    "%s:// receipt stream did not end within %.1f s of close", self.transport.scheme, timeout
                )
        await self.stop_receipts()

    async def run(
        self,
        campaign: str | None = None,
        wait_receipts: float = 0.0,
        *,
        include_maybe: bool = False,
        message_ids: Sequence[str] | None = None,
    ) -> DispatchStats:
        """Send what is pending while consuming receipts, then wait up to ``wait_receipts`` seconds for the rest."""
        self.start_receipts()
        try:
            await self.send_pending(campaign, include_maybe, message_ids=message_ids)
            if wait_receipts > 0 and not self.stopping:
                await self.collect_receipts(wait_receipts, campaign=campaign, message_ids=message_ids)
        finally:
            await self.stop_receipts()
        return self.stats
