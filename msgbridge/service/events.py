"""Live status changes and inbound messages, fanned out in-process to whoever listens.

The runtime publishes here from the places where the facts are recorded: a batch of send results once its
commit has returned (``ResultWriter.on_results``), a batch of receipts, pushed or polled, once stored
(``ReceiptCollector.on_receipts``), an MO message once stored. So an event never announces something the
store does not hold yet; the store stays the record, events are the notification.

Each subscriber has its own bounded queue, so a slow one never holds back sending or another subscriber.
A subscriber that falls ``size`` events behind is dropped: its queue is emptied and its iterator raises
:class:`EventsLost` once it has read what came before the overflow, so it knows it missed some (and can
re-read the store) instead of silently seeing a gap. Publishing with nobody subscribed costs one check.

What an event says is what was recorded at that moment: a receipt's status as the receipt gave it (the
store's merge rule may keep a later status). A receipt names only the peer's id; the lane names its
message from the results it recorded lately (a receipt that overtook its result is announced once the
result is in). One for a message sent before a restart is matched by the store all the same, but yields
no event.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence

from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.core.message import DeliveryReceipt, InboundMessage, SendResult
from msgbridge.service.contract import Event

DEFAULT_QUEUE = 10_000  # events one subscriber may fall behind before it is dropped


class EventsLost(MessagingError):
    """Raised by a subscriber's iterator after it fell too far behind: some events were not delivered to it."""

    default_code = ErrorCode.QUEUE_FULL


class _End:
    """Put in a queue to end its iterator: the hub closed, or the subscriber overflowed (``lost``)."""

    __slots__ = ("lost",)

    def __init__(self, lost: bool) -> None:
        self.lost = lost


class Subscription:
    """One listener's queue, filled from the moment it is made; iterate it with ``async for``.

    ``close()`` unsubscribes; one that is left open and never read is dropped once it overflows.
    """

    def __init__(self, hub: EventHub, size: int) -> None:
        self._hub = hub
        self._size = size
        self._items: deque[Event | _End] = deque()
        self._ready = asyncio.Event()
        self.dropped = False

    def _put(self, events: Sequence[Event]) -> None:
        if self.dropped:
            return
        if len(self._items) + len(events) > self._size:
            self.dropped = True
            self._items.clear()
            self._items.append(_End(lost=True))
            self._hub._subscribers.discard(self)
        else:
            self._items.extend(events)
        self._ready.set()

    def _end(self) -> None:
        self._items.append(_End(lost=False))
        self._ready.set()

    def close(self) -> None:
        self._hub._subscribers.discard(self)
        self._end()

    async def aclose(self) -> None:
        """As :meth:`close` (so ``contextlib.aclosing`` works on a subscription)."""
        self.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, _End):
            self._items.appendleft(item)  # stays ended
            if item.lost:
                raise EventsLost(
                    f"this listener fell more than {self._size} events behind; some were not delivered"
                )
            raise StopAsyncIteration
        return item

    @property
    def ended(self) -> bool:
        """Nothing more will come (the hub closed, or this subscriber was dropped); what is queued is read."""
        return bool(self._items) and isinstance(self._items[-1], _End)

    def get_nowait(self) -> Event | None:
        """The next event if one is queued (None otherwise); raises as iteration would once ended."""
        if not self._items:
            return None
        item = self._items[0]
        if isinstance(item, _End):
            if item.lost:
                raise EventsLost(
                    f"this listener fell more than {self._size} events behind; some were not delivered"
                )
            return None
        return self._items.popleft()  # type: ignore[return-value]

    async def wait(self) -> None:
        """Until something is queued (an event or the end)."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()


class EventHub:
    """Fan-out of :class:`~msgbridge.service.contract.Event` to every :class:`Subscription`."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self.closed = False
        self.published = 0

    @property
    def listening(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self, size: int = DEFAULT_QUEUE) -> Subscription:
        sub = Subscription(self, size)
        if self.closed:
            sub._end()
        else:
            self._subscribers.add(sub)
        return sub

    def publish(self, events: Sequence[Event]) -> None:
        if not events or not self._subscribers:
            return
        self.published += len(events)
        for sub in list(self._subscribers):
            sub._put(events)

    def results(self, results: Sequence[SendResult]) -> None:
        """A committed batch of send results, as ``message.status`` events."""
        if not self._subscribers:
            return
        now = time.time()
        self.publish(
            [
                Event(
                    type="message.status",
                    occurred_at=now,
                    message_id=r.message_id,
                    status=r.status,
                    error=r.error,
                )
                for r in results
            ]
        )

    def receipts(self, receipts: Sequence[DeliveryReceipt]) -> None:
        """A stored batch of receipts naming messages this process knows, as ``message.status`` events."""
        if not self._subscribers:
            return
        self.publish(
            [
                Event(
                    type="message.status",
                    occurred_at=r.received_at,
                    message_id=r.message_id,
                    status=r.status,
                    error=r.error,
                )
                for r in receipts
                if r.message_id is not None
            ]
        )

    def inbound(self, messages: Sequence[InboundMessage]) -> None:
        """Stored MO messages, as ``message.inbound`` events."""
        if not self._subscribers:
            return
        self.publish(
            [
                Event(type="message.inbound", occurred_at=m.received_at, to=m.destination, inbound=m)
                for m in messages
            ]
        )

    def close(self) -> None:
        """End every subscriber's iteration (the runtime is closing)."""
        self.closed = True
        for sub in list(self._subscribers):
            sub._end()
        self._subscribers.clear()
