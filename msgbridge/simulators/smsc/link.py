"""What the simulator core and a connection know of each other: the Link contract and a deliver_sm in flight."""

from __future__ import annotations

import asyncio
from typing import Protocol

# (message_id, id number, submit_sm body, arrival time as time.time()) of one accepted submit_sm wanting a receipt
ReceiptDue = tuple[str, int, bytes, float]


class Delivery:
    """A deliver_sm on its way to the ESME: kept until deliver_sm_resp 0, resent after a drop."""

    __slots__ = ("body", "future", "sent_at", "system_id")

    def __init__(self, system_id: str, body: bytes, future: asyncio.Future[int] | None) -> None:
        self.system_id = system_id
        self.body = body
        self.future = future
        self.sent_at = 0.0


class Link(Protocol):
    """What the core needs of one connection (an :class:`~msgbridge.simulators.smsc.session.SmscSession`)."""

    system_id: str
    mode: str  # "", "tx", "rx" or "trx"
    closed: bool
    last_enquire: float
    unacked: dict[int, Delivery]  # deliver_sm sent and not yet answered, by sequence, oldest first

    def next_sequence(self) -> int: ...
    def queue(self, data: bytes) -> None: ...
    def flush(self) -> None: ...
    def write_now(self, data: bytes) -> None: ...
    def send_deliver(self, delivery: Delivery) -> None: ...
    def close(self, data: bytes = b"") -> None: ...
    def abort(self) -> None: ...
