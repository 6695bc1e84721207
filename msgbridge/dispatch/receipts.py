"""Receipts into the store: pushed ones read and committed in batches, polled ones asked for when due.

A pushed receipt is acknowledged to the peer only once it is committed
(``AcknowledgesReceipts``; docs/reliability.md#receipts-stored-before-they-are-acknowledged),
so the commits come a few milliseconds after a receipt arrives, several at a
time, and, while messages are being sent, right after a write (``wrote``),
when the event loop is waiting for answers anyway. A transport that cannot
push but can be polled is polled by ``dispatch/polling.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from msgbridge.adapters.base import AcknowledgesReceipts, ReceiptPush, Transport, polled_parts
from msgbridge.core.errors import MessagingError
from msgbridge.core.message import DeliveryReceipt
from msgbridge.core.status import AWAITING_RECEIPT
from msgbridge.dispatch.polling import Poller, policy_for
from msgbridge.dispatch.stats import DispatchStats, ProgressCallback
from msgbridge.store.base import Store

log = logging.getLogger("msgbridge.dispatch.dispatcher")

# How long pushed receipts gather before they are committed together: a peer that waits for our
# acknowledgement (acknowledged only once stored) gets it within a few milliseconds, in few transactions.
RECEIPT_COMMIT_DELAY = 0.005


class ReceiptCollector:
    """Reads a transport's receipts into the store (``start_receipts`` ... ``stop_receipts``), or polls them."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        stats: DispatchStats,
        *,
        progress: ProgressCallback | None,
        receipt_batch: int,
        poll_interval: float,
        wrote: asyncio.Event,
    ) -> None:
        self.store = store
        self.transport = transport
        self.stats = stats
        self.progress = progress
        self.receipt_batch = receipt_batch
        self.poll_interval = poll_interval
        self.wrote = wrote  # set by the write hook after each write (see ``_commit_receipts``)
        self._receipts: list[DeliveryReceipt] = []
        self._reader: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._receipts_due = asyncio.Event()
        # Told which receipts are committed, so it acknowledges them only then (None: it does not wait).
        self._acks: AcknowledgesReceipts | None = (
            transport if isinstance(transport, AcknowledgesReceipts) else None
        )
        # Made on the first poll, then kept: each holds its messages' schedule. One per polled part of a
        # composed transport (``adapters.base.polled_parts``), each under its own provider's limits.
        self.pollers: list[Poller] | None = None
        # Told each batch of pushed receipts once it is committed (a service's status events); must not block.
        self.on_receipts: Callable[[Sequence[DeliveryReceipt]], None] | None = None

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
                    await self.flush()
                elif not due.is_set():
                    due.set()
        except MessagingError as exc:
            # A lost receipt stream must not take the sending down with it; what arrived is still written.
            log.warning("%s:// receipt stream ended: %s", self.transport.scheme, exc)
        await self.flush()  # the stream ended (the transport closed): what it released is stored

    async def _commit_receipts(self) -> None:
        """Commit what the reader gathered a few milliseconds after the first of them arrived."""
        due = self._receipts_due
        wrote = self.wrote
        while True:
            await due.wait()
            # Within the delay, right after the next write if one comes: a commit holds the event loop, and
            # one just after a write overlaps the wait for its answers instead of holding back the next write.
            wrote.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wrote.wait(), RECEIPT_COMMIT_DELAY)
            due.clear()
            try:
                await self.flush()
            except Exception as exc:
                # Not stored, so not acknowledged either: a peer that waits for that delivers them again.
                log.error("could not store receipts: %s", exc)

    async def flush(self) -> None:
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
        if self.on_receipts is not None:
            self.on_receipts(batch)

    def _polled(self, receipts: Sequence[DeliveryReceipt]) -> None:
        if self.on_receipts is not None:  # read at call time: a lane sets it after this collector is made
            self.on_receipts(receipts)

    async def _poll_once(self) -> None:
        """Ask about the pending messages that are due; the poller keeps each provider's limits."""
        if self.pollers is None:
            self.pollers = [
                Poller(self.store, part, policy_for(part, self.poll_interval), on_receipts=self._polled)
                for part in polled_parts(self.transport)
            ]
        for poller in self.pollers:
            done = await poller.poll()
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
        polled only where it cannot push but can be polled, by ``self.pollers``,
        which asks about each message only when it is due and within the
        provider's documented limits.
        """
        self.start_receipts()
        poll = bool(polled_parts(self.transport))
        deadline = time.monotonic() + timeout
        while True:
            await self.flush()
            if poll:
                await self._poll_once()
            if until_final and await self.awaiting(campaign, message_ids) == 0:
                break
            if time.monotonic() >= deadline:
                break
            if self.progress is not None:
                self.progress(self.stats)
            await asyncio.sleep(0.05)
        await self.flush()
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
        await self.flush()

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
