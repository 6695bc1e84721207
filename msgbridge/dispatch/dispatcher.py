"""Moves queued messages through a transport and receipts back into the store.

Every transport gets the same guarantees from here, so none implements them
twice:

- a message is claimed (owned by this process, still QUEUED) before it is
  handed to the transport, and marked MAYBE_SUBMITTED, durably, just before
  its request may be written: by the transport group by group where it says
  when it writes (``writes_in_groups``, SMPP: one window's worth at a time),
  else right before ``send()`` (``writes.WriteHook``; for SMPP the next
  group is marked while the current one is in flight, at most one group
  ahead). What was claimed and never written goes back to the queue; after a
  kill, only what may have been written, plus at most one group, is in doubt;
- a stop request (SIGINT/SIGTERM in the CLI) ends claiming, lets what is in
  flight be answered for a bounded time, and gives back what was not written;
- retryable refusals go back to the queue with exponential backoff, honouring
  the peer's retry-after; outcome-unknown failures (a timeout after the request
  left, an exception mid-send) stay MAYBE_SUBMITTED and are never resent
  blindly;
- on start, messages left MAYBE_SUBMITTED by a killed run are settled through
  ``transport.lookup`` where the transport is a ``ReferenceLookup``, else left
  for the user to resend explicitly (``include_maybe``);
- store writes are batched and kept off the send path: claims overlap sends
  (other workers', or a lone worker's next chunk), chunks of a windowed
  transport write one after the other so its window stays full, results are
  recorded by one writer task (``writes.ResultWriter``) and receipts by
  ``receipts.ReceiptCollector``, never one transaction per message.

The send loop is here; what the answers mean is ``outcomes.py``, settling
what earlier runs left in doubt ``settle.py``, receipts ``receipts.py``, the
counters ``stats.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterator, Sequence

from msgbridge.adapters.base import (
    Transport,
)
from msgbridge.core.errors import ErrorCode, ErrorInfo, MessagingError
from msgbridge.core.message import Campaign, SendResult
from msgbridge.core.ratelimit import Backoff, TokenBucket
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.heap import fewer_collections
from msgbridge.dispatch.outcomes import Outcomes
from msgbridge.dispatch.provider import send_provider_campaign
from msgbridge.dispatch.receipts import ReceiptCollector
from msgbridge.dispatch.settle import Settler
from msgbridge.dispatch.stats import DispatchStats as DispatchStats  # re-exported, as before
from msgbridge.dispatch.stats import ProgressCallback as ProgressCallback
from msgbridge.dispatch.writes import Interrupted, MarkBudget, ResultWriter, WriteHook
from msgbridge.store.base import MessageRecord, Store

log = logging.getLogger(__name__)

# Most messages claimed at once when neither the transport nor the caller says otherwise.
DEFAULT_CLAIM = 500
MIN_CLAIM = 10
CHUNK_SECONDS = 0.5
# While a producer is still queueing (``send_pending(producing=...)``), how often an idle worker looks again.
PRODUCING_POLL = 0.05
# After a stop request, how long what is in flight may take to be answered before sending is cancelled.
STOP_GRACE = 10.0


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
        self.max_retry_wait = float(
            max_retry_wait if max_retry_wait is not None else transport.max_retry_wait
        )
        self._progress = progress
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
        self.stopping = False
        self.stop_grace = STOP_GRACE
        self.results = ResultWriter(store, transport.link)
        self._writing: asyncio.Event | None = None  # set once the last chunk to start has written everything
        self.marks = MarkBudget(store, self.results, lambda: self.stopping)
        self.outcomes = Outcomes(
            store,
            self.stats,
            max_attempts=self.max_attempts,
            backoff=backoff,
            max_retry_wait=self.max_retry_wait,
        )
        self.settler = Settler(store, transport, self.stats)
        self.receipts = ReceiptCollector(
            store,
            transport,
            self.stats,
            progress=progress,
            receipt_batch=receipt_batch,
            poll_interval=poll_interval,
            wrote=self.marks.wrote,
        )
        # What the settler and the receipt collector do, called on the dispatcher as before.
        self.settle = self.settler.settle
        self.fail_unsent = self.settler.fail_unsent
        self.start_receipts = self.receipts.start_receipts
        self.collect_receipts = self.receipts.collect_receipts
        self.awaiting = self.receipts.awaiting
        self.stop_receipts = self.receipts.stop_receipts
        self.close_transport = self.receipts.close_transport
        self._in_hand: set[str] = set()  # named messages another worker of this dispatcher is sending
        self._stop = asyncio.Event()
        # A run for named messages (``send``): a failure that stops it fails them rather than leaving them
        # queued for whatever process sends next.
        self._fail_on_stop = False
        # Told (messages, seconds) after each chunk is sent and answered: a service's submit latency histogram.
        self.on_chunk: Callable[[int, float], None] | None = None

    @property
    def progress(self) -> ProgressCallback | None:
        """Called after every chunk and while waiting for receipts (the CLI's progress bar)."""
        return self._progress

    @progress.setter
    def progress(self, callback: ProgressCallback | None) -> None:
        self._progress = self.receipts.progress = callback

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
            except (
                NotImplementedError,
                RuntimeError,
                ValueError,
            ):  # not the main thread, or no such signal here
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
        ``producing``: while it is given and not set, more is still being
        queued, so a worker that finds nothing due looks again shortly instead
        of finishing (sending starts while a campaign is still prepared).
        """
        self._fail_on_stop = message_ids is not None
        if self.stopping:
            return self.stats
        with fewer_collections():
            return await self._send_pending(campaign, include_maybe, message_ids, origin, producing)

    async def _send_pending(
        self,
        campaign: str | None,
        include_maybe: bool,
        message_ids: Sequence[str] | None,
        origin: str | None,
        producing: asyncio.Event | None,
    ) -> DispatchStats:
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
            try:
                await self.results.close()
            finally:
                await self.receipts.flush()
                self.stats.send_seconds = self.stats.elapsed
        return self.stats

    async def _claim(
        self, campaign: str | None, message_ids: Sequence[str] | None, origin: str | None
    ) -> list[MessageRecord]:
        return await self.store.claim(self.claim_size, campaign=campaign, ids=message_ids, origin=origin)

    async def _worker(
        self,
        campaign: str | None,
        message_ids: Sequence[str] | None,
        origin: str | None = None,
        producing: asyncio.Event | None = None,
    ) -> None:
        """Claim and send chunks until nothing is due; the next chunk is claimed while this one is in flight."""
        ahead: asyncio.Task[list[MessageRecord]] | None = None
        try:
            while not self.stopping:
                if ahead is not None:
                    batch, ahead = await ahead, None
                else:
                    batch = await self._claim(campaign, message_ids, origin)
                if not batch:
                    due = await self.store.next_due(campaign=campaign, origin=origin)
                    if due is None or (message_ids is not None and not await self._any_queued(message_ids)):
                        if producing is None or producing.is_set():
                            return
                        # More is being queued: look again shortly (or as soon as the producer is done).
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(producing.wait(), PRODUCING_POLL)
                        continue
                    # A retry is waiting out its backoff: wake when it is due (or soon, to see others' requeues).
                    await asyncio.sleep(min(max(0.0, due - time.time()), 0.25) or 0.01)
                    continue
                self.stats.claimed += len(batch)
                if message_ids is None and self.concurrency == 1:
                    # Alone, a worker claims its next chunk while this one is in flight. With several, the
                    # others' claims overlap this send already (and, over a windowed transport, wait at the
                    # write gate with their chunk in hand); claiming ahead as well held twice the chunks and
                    # measured 40 % slower on benchmarks/smpp_campaign.py.
                    ahead = asyncio.create_task(
                        self._claim(campaign, message_ids, origin), name="claim-ahead"
                    )
                started = time.monotonic()
                if message_ids is not None:
                    self._in_hand.update(r.message.id for r in batch)
                try:
                    await self._send_chunk(batch)
                finally:
                    self._in_hand.difference_update(r.message.id for r in batch)
                self.results.check()
                self._adapt(len(batch), time.monotonic() - started)
                if self.on_chunk is not None:
                    self.on_chunk(len(batch), time.monotonic() - started)
                if self.progress is not None:
                    self.progress(self.stats)
        finally:
            if ahead is not None:
                await self._give_back(ahead)

    async def _give_back(self, ahead: asyncio.Task[list[MessageRecord]]) -> None:
        """A chunk claimed ahead and never sent (a stop, an error): back to the queue as it was."""
        if not ahead.done():
            ahead.cancel()
        try:
            batch = await ahead
        except (asyncio.CancelledError, Exception):
            return  # never claimed (or its transaction rolled back)
        await self.store.release([r.message.id for r in batch])

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
        grouped = self.transport.writes_in_groups
        writes = WriteHook(self.marks, [r.message.id for r in batch], lookahead=grouped)
        previous: asyncio.Event | None = None
        if grouped:
            # Chunks write one after the other (the next starts once this one's messages are all written, while
            # they are still in flight): the window stays full and the marks made ahead are the ones written.
            previous, self._writing = self._writing, writes.all_written
        try:
            if previous is not None:
                await previous.wait()
            writes.start()
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
                    self.outcomes.on_send_error(part, exc, outcomes, retry)
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
                    self.outcomes.classify(rec, res, outcomes, retry)
                self._pace(any(r.error is not None and r.error.code is ErrorCode.THROTTLED for r in results))
            if grouped:
                # The answers that ended this chunk woke the next chunk's writes too: let them go first, once
                # the results writer holds these answers (so they count against the marks made ahead).
                early = [o for o in outcomes if o.message_id not in self.marks.recorded]
                self.results.add(early)
                self.marks.recorded.update(o.message_id for o in early)
                await asyncio.sleep(0)
        finally:
            # Whatever happened, what we learnt is written: an exception from the transport leaves the
            # messages it may have written MAYBE_SUBMITTED (they were marked so), never QUEUED.
            # Recorded by the results writer, in order after what the write hook handed it early.
            recorded = self.marks.recorded
            self.results.add([o for o in outcomes if o.message_id not in recorded] if recorded else outcomes)
            unwritten = set(await writes.finish())
            written = writes.written
            if self.stopping:
                # Not written because of the stop: given back below as they were, with no backoff.
                retry = [(rec, err) for rec, err in retry if rec.message.id in written]
            await self.outcomes.requeue(retry)
            handled = {o.message_id for o in outcomes} | {rec.message.id for rec, _ in retry}
            back = [
                r.message.id for r in batch if r.message.id not in handled and r.message.id not in recorded
            ]
            if recorded:
                recorded.difference_update(r.message.id for r in batch)
            self.stats.released += sum(1 for i in back if i not in written)
            # Marked ahead, never written: not in doubt, queued again at once.
            if unwritten:
                again = [i for i in back if i in unwritten]
                back = [i for i in back if i not in unwritten]
                await self.store.requeue(again, not_before=0.0, error=None)
            # Only rows still QUEUED and ours change: anything written stays in doubt.
            await self.store.release(back)

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

    async def send_provider_campaign(self, campaign: Campaign) -> DispatchStats:
        """Hand the whole queued campaign to the provider's own campaign API (``dispatch/provider.py``)."""
        return await send_provider_campaign(self, campaign)

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
