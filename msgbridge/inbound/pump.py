"""Sends what the gateway queued: the dispatcher, woken by each accepted mail and by retry timers.

The gateway answers 250 once the SMS are in the store; from there the usual
dispatcher takes over (claims, TPS cap, retries with backoff, settling
messages a killed run left in doubt), so mail-borne SMS get exactly the same
guarantees as any other. On start the pump sends whatever an earlier run
left queued, which is how a gateway killed right after a 250 still delivers.

It sends only what a gateway queued (idempotency keys ``smtp:...``): every
command shares ``./msgbridge.db`` by default, and a campaign stopped by Ctrl-C
or a ``send`` that failed belongs to its own command, to be resumed or retried
there, never sent by a gateway started later with another ``--via``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from msgbridge.adapters.base import ReceiptPush, StatusPolling, Transport
from msgbridge.dispatch import Dispatcher
from msgbridge.store.base import Store

log = logging.getLogger(__name__)

# The idempotency-key prefix of every SMS the gateway queues (see GatewayHandler): what the pump owns.
ORIGIN = "smtp:"


class DispatchPump:
    def __init__(
        self,
        store: Store,
        transport: Transport,
        *,
        tps: float | None = None,
        concurrency: int = 4,
        idle: float = 5.0,
        receipts: bool = True,
    ) -> None:
        self.store = store
        self.transport = transport
        self.dispatcher = Dispatcher(store, transport, tps=tps, concurrency=concurrency)
        self.idle = idle
        self.receipts = receipts
        self.rounds = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self, message_ids: Sequence[str] = ()) -> None:
        self._wake.set()

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._send_loop(), name="smtp-gateway-dispatch"))
        if self.receipts:
            self._tasks.append(asyncio.create_task(self._receipt_loop(), name="smtp-gateway-receipts"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.dispatcher.close_transport()

    async def _send_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.dispatcher.send_pending(origin=ORIGIN)
            except Exception:
                # The link may be down; the messages stay queued and the next round tries again.
                log.exception("smtp gateway: dispatch round failed")
            self.rounds += 1
            wait = self.idle
            with contextlib.suppress(NotImplementedError):
                due = await self.store.next_due(origin=ORIGIN)
                if due is not None:
                    wait = min(wait, max(0.01, due - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _receipt_loop(self) -> None:
        if not isinstance(self.transport, (ReceiptPush, StatusPolling)):
            return
        while True:
            try:
                await self.dispatcher.collect_receipts(timeout=3600.0, until_final=False)
            except Exception:
                log.exception("smtp gateway: receipt collection failed")
                await asyncio.sleep(self.idle)
