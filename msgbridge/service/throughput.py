"""Send results and receipts per second over the last 15 minutes: what the dashboard's chart draws.

A fixed ring of one-second buckets, written from the dispatcher's hooks (a committed batch of results,
a stored batch of receipts) with an addition each, so counting costs nothing next to the commit it
follows, and memory stays the same however long the process runs. A bucket remembers which second it
holds: one not written for a whole turn of the ring reads as zero rather than as a stale count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from msgbridge.core.message import DeliveryReceipt, SendResult
from msgbridge.dispatch.dispatcher import Dispatcher

WINDOW = 900  # seconds kept: 15 minutes


class Throughput:
    """Per-second counts of send results and receipts; :meth:`series` reads the last ``window`` seconds."""

    def __init__(self, window: int = WINDOW, clock: Callable[[], float] = time.time) -> None:
        if window < 1:
            raise ValueError("the window must be at least one second")
        self.window = window
        self.clock = clock
        self._second = [-1] * window  # which second each slot holds
        self._sent = [0] * window
        self._receipts = [0] * window

    def _slot(self, now: float) -> int:
        second = int(now)
        i = second % self.window
        if self._second[i] != second:
            self._second[i] = second
            self._sent[i] = 0
            self._receipts[i] = 0
        return i

    def add_sent(self, n: int) -> None:
        if n:
            self._sent[self._slot(self.clock())] += n

    def add_receipts(self, n: int) -> None:
        if n:
            self._receipts[self._slot(self.clock())] += n

    def series(self) -> list[tuple[float, int, int]]:
        """``(second, sent, receipts)`` for every second of the window, oldest first, ending with this one."""
        now = int(self.clock())
        out: list[tuple[float, int, int]] = []
        for second in range(now - self.window + 1, now + 1):
            i = second % self.window
            if self._second[i] == second:
                out.append((float(second), self._sent[i], self._receipts[i]))
            else:
                out.append((float(second), 0, 0))
        return out

    def attach(self, dispatcher: Dispatcher) -> None:
        """Count what ``dispatcher`` records, after the hooks already set on it (a lane's events) run."""
        results_hook = dispatcher.results.on_results
        receipts_hook = dispatcher.receipts.on_receipts

        def on_results(results: Sequence[SendResult]) -> None:
            if results_hook is not None:
                results_hook(results)
            self.add_sent(len(results))

        def on_receipts(receipts: Sequence[DeliveryReceipt]) -> None:
            if receipts_hook is not None:
                receipts_hook(receipts)
            self.add_receipts(len(receipts))

        dispatcher.results.on_results = on_results
        dispatcher.receipts.on_receipts = on_receipts
