"""Match receipts to what this process sent, before they reach the store.

The store matches receipts exactly on ``(link, native_id)`` and parks the ones
it cannot match yet, which covers restarts and days-late receipts. This
in-memory index adds what only the live link can know:

- the message id and segment number of a receipt (the receipt names only the
  SMSC's id), so callers that use the transport without a store still learn
  which message a receipt is about;
- a receipt that overtakes its submit_sm_resp is held for a few seconds until
  the resp names its id, instead of being emitted without a message id;
- in ``auto`` id-base mode, a receipt whose id is spelt in the other base
  (decimal for a hex resp id or the reverse) is matched against recent ids,
  and once a link has shown its convention that conversion is applied to
  every later receipt, including ones this process never sent.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from msgbridge.adapters.smpp.receipts import IdBase, ParsedReceipt, alternatives, receipt_key
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt
from msgbridge.core.status import DeliveryStatus

log = logging.getLogger(__name__)

# How many consistent cross-base matches make AUTO mode adopt that convention for the link.
LEARN_AFTER = 3


@dataclass(slots=True)
class _Parked:
    keys: list[str]
    receipt: ParsedReceipt
    deadline: float
    received_at: float
    tag: object = None
    done: bool = False


@dataclass(slots=True)
class CorrelatorStats:
    matched: int = 0
    parked: int = 0
    released: int = 0  # parked, then matched when the resp arrived
    unmatched: int = 0  # emitted without a message id
    cross_base: int = 0  # matched only after converting the base (AUTO)
    learned: IdBase | None = None
    by_base: dict[IdBase, int] = field(default_factory=dict)


class Correlator:
    """Index of recent segment ids on one link -> (message id, segment number, segment count)."""

    def __init__(
        self,
        link: str,
        base: IdBase = IdBase.SAME,
        *,
        park_seconds: float = 10.0,
        max_ids: int = 500_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.base = base
        self.park_seconds = park_seconds
        self.max_ids = max_ids
        self.clock = clock
        self.stats = CorrelatorStats()
        # Segment key -> message id (a one-part message's, the common case) or (message id, seq, total);
        # ``_order`` holds each key once, oldest first. A third of an OrderedDict of tuples: at the
        # default 500,000 ids that is about 50 MB less of a large campaign's memory.
        self._index: dict[str, str | tuple[str, int, int]] = {}
        self._order: deque[str] = deque()
        self._parked: dict[str, list[_Parked]] = {}
        self._park_queue: deque[_Parked] = deque()
        # Called with every receipt emitted for a tagged parsed receipt (see ``receipt``), whenever it is
        # emitted: at once, released by its resp, expired or flushed. The transport keys its deliver_sm
        # answers on it, so a parked receipt's answer follows it out (acks.PendingAcks).
        self.on_emit: Callable[[DeliveryReceipt, object], None] | None = None

    def __len__(self) -> int:
        return len(self._index)

    def sent(self, message_id: str, keys: Sequence[str]) -> list[DeliveryReceipt]:
        """Register all of a message's segment keys; returns receipts that were waiting for them."""
        released: list[DeliveryReceipt] = []
        for seq, key in enumerate(keys):
            released.extend(self.add(key, message_id, seq, len(keys)))
        return released

    def add(self, key: str, message_id: str, seq: int, total: int) -> list[DeliveryReceipt]:
        """Register one segment's key (as soon as its submit_sm_resp arrives); returns receipts it releases."""
        index = self._index
        if key not in index:  # a key seen again keeps its place, as in an OrderedDict
            self._order.append(key)
        index[key] = message_id if total == 1 else (message_id, seq, total)
        if len(index) > self.max_ids:
            del index[self._order.popleft()]
        if not self._parked:
            return []
        waiting = self._parked.pop(key, None)
        if not waiting:
            return []
        released: list[DeliveryReceipt] = []
        for p in waiting:
            if not p.done:
                p.done = True
                self.stats.released += 1
                released.append(self._emit(key, p.receipt, (message_id, seq, total), p.received_at, p.tag))
        return released

    def lookup(self, key: str) -> tuple[str, int, int] | None:
        """(message id, segment number, segment count) of a key sent on this link, if still indexed."""
        hit = self._index.get(key)
        if hit is None or isinstance(hit, tuple):
            return hit
        return hit, 0, 1

    def receipt(
        self, parsed: ParsedReceipt, *, park: bool = True, tag: object = None
    ) -> list[DeliveryReceipt]:
        """Emit the receipt if its id is known; otherwise park it (or emit it unmatched).

        ``tag`` (not None) travels with the receipt to ``on_emit``, whenever it is emitted.
        """
        now = time.time()
        key = receipt_key(parsed.message_id, self.base)
        hit = self.lookup(key)
        if hit is not None:
            self.stats.matched += 1
            return [self._emit(key, parsed, hit, now, tag)]
        candidates = [key]
        if self.base is IdBase.AUTO:
            for base, alt in alternatives(key):
                hit = self.lookup(alt)
                if hit is not None:
                    self._learn(base)
                    self.stats.matched += 1
                    self.stats.cross_base += 1
                    return [self._emit(alt, parsed, hit, now, tag)]
                candidates.append(alt)
        if park and self.park_seconds > 0:
            p = _Parked(candidates, parsed, self.clock() + self.park_seconds, now, tag)
            for k in candidates:
                self._parked.setdefault(k, []).append(p)
            self._park_queue.append(p)
            self.stats.parked += 1
            return []
        return [self._unmatched(parsed, now, tag)]

    def expire(self) -> list[DeliveryReceipt]:
        """Parked receipts whose wait is over, emitted without a message id (the store may still match them)."""
        now = self.clock()
        out: list[DeliveryReceipt] = []
        q = self._park_queue
        while q and (q[0].done or q[0].deadline <= now):
            p = q.popleft()
            self._drop_parked(p)
            if not p.done:
                p.done = True
                out.append(self._unmatched(p.receipt, p.received_at, p.tag))
        return out

    def flush(self) -> list[DeliveryReceipt]:
        """Everything still parked (on close): emitted unmatched so nothing is lost."""
        out: list[DeliveryReceipt] = []
        while self._park_queue:
            p = self._park_queue.popleft()
            if not p.done:
                p.done = True
                out.append(self._unmatched(p.receipt, p.received_at, p.tag))
        self._parked.clear()
        return out

    @property
    def parked(self) -> int:
        return sum(1 for p in self._park_queue if not p.done)

    # --- internals -------------------------------------------------------------

    def _drop_parked(self, p: _Parked) -> None:
        for k in p.keys:
            lst = self._parked.get(k)
            if lst is not None:
                lst[:] = [x for x in lst if x is not p]
                if not lst:
                    del self._parked[k]

    def _learn(self, base: IdBase) -> None:
        count = self.stats.by_base.get(base, 0) + 1
        self.stats.by_base[base] = count
        if self.stats.learned is None and count >= LEARN_AFTER:
            self.stats.learned = base
            log.info(
                "link %s names receipt ids in another base than submit_sm_resp (%s)", self.link, base.value
            )

    def _unmatched_key(self, parsed: ParsedReceipt) -> str:
        key = receipt_key(parsed.message_id, self.base)
        learned = self.stats.learned
        if self.base is IdBase.AUTO and learned is not None:
            for base, alt in alternatives(key):
                if base is learned:
                    return alt
        return key

    def _unmatched(self, parsed: ParsedReceipt, received_at: float, tag: object = None) -> DeliveryReceipt:
        self.stats.unmatched += 1
        return self._emit(self._unmatched_key(parsed), parsed, None, received_at, tag)

    def _emit(
        self,
        key: str,
        parsed: ParsedReceipt,
        hit: tuple[str, int, int] | None,
        received_at: float,
        tag: object = None,
    ) -> DeliveryReceipt:
        raw: dict[str, object] = {"id": parsed.message_id}
        if parsed.err:
            raw["err"] = parsed.err
        if parsed.network_error:
            raw["network_error"] = parsed.network_error
        if parsed.done_date:
            raw["done_date"] = parsed.done_date
        message_id: str | None = None
        if hit is not None:
            message_id, seq, total = hit
            raw["segment"] = seq + 1
            raw["segments"] = total
        # Positional: keywords cost a quarter of a construction, and receipts come at the submit rate.
        receipt = DeliveryReceipt(
            key,
            parsed.status,
            parsed.native_status,
            receipt_error(parsed),
            message_id,
            self.link,
            received_at,
            raw,
        )
        if tag is not None and self.on_emit is not None:
            self.on_emit(receipt, tag)
        return receipt


FAILURE_CODES: dict[DeliveryStatus, ErrorCode] = {
    DeliveryStatus.UNDELIVERABLE: ErrorCode.PERMANENT_FAILURE,
    DeliveryStatus.EXPIRED: ErrorCode.PERMANENT_FAILURE,
    DeliveryStatus.REJECTED: ErrorCode.PERMANENT_FAILURE,
    DeliveryStatus.DELETED: ErrorCode.PERMANENT_FAILURE,
    DeliveryStatus.FAILED: ErrorCode.PERMANENT_FAILURE,
}


def receipt_error(parsed: ParsedReceipt) -> ErrorInfo | None:
    """An ErrorInfo for a failed delivery, keeping the SMSC's stat, err and network error."""
    code = FAILURE_CODES.get(parsed.status)
    if code is None:
        return None
    text = f"stat:{parsed.native_status}"
    if parsed.err:
        text += f" err:{parsed.err}"
    if parsed.network_error:
        text += f" network:{parsed.network_error}"
    return ErrorInfo(code=code, native_code=parsed.err or parsed.native_status, native_message=text)
