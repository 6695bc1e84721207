"""deliver_sm answered once the receipt it carried is stored, not when it reaches memory.

An SMSC forgets a receipt once it has its deliver_sm_resp with ESME_ROK.
Answered on arrival, a receipt still in this process's memory dies with it
(kill -9) and its message stays SUBMITTED for good. So when the caller has
said that it stores receipts (``SmppTransport.hold_receipt_acks``), the answer
to each deliver_sm waits here, keyed by the receipt it became, until the
caller says that receipt is committed (``SmppTransport.receipts_stored``).

An answer still waiting when its link drops is never sent: the SMSC delivers
the receipt again on the next bind, as it does with any unanswered deliver_sm
(docs/smpp.md, "Receipts"). What is still waiting when the transport closes is
refused with ESME_RX_T_APPN, so the SMSC keeps it for a later bind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Protocol

from msgbridge.core.message import DeliveryReceipt


class Answers(Protocol):
    """What an Ack is answered on: the session that read the deliver_sm (``Session.respond``)."""

    def respond(self, acks: list[Ack], status: int) -> int: ...


class Ack:
    """The answer one deliver_sm (or data_sm) is owed: which connection, which sequence, which response."""

    __slots__ = ("generation", "resp_id", "seq", "session")

    def __init__(self, session: Answers, generation: int, seq: int, resp_id: int) -> None:
        self.session = session
        self.generation = generation  # the connection it came on: an answer on a later one would be wrong
        self.seq = seq
        self.resp_id = resp_id


class PendingAcks:
    """Answers owed for receipts handed to the caller and not stored yet, by receipt identity.

    Identity, not the receipt's id: one SMSC id can have several receipts in
    flight (an intermediate one, then the final one), and answering the final
    one because the intermediate one was stored would lose it. Each entry keeps
    its receipt alive, so an ``id()`` is never reused while it is a key.
    """

    def __init__(self) -> None:
        self._owed: dict[int, tuple[DeliveryReceipt, Ack]] = {}
        self._none_owed = asyncio.Event()
        self._none_owed.set()
        self.answered = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._owed)

    def attach(self, receipt: DeliveryReceipt, tag: object) -> None:
        """Remember that ``receipt`` owes the answer ``tag`` (an Ack): the correlator's ``on_emit``."""
        if isinstance(tag, Ack):
            self._owed[id(receipt)] = (receipt, tag)
            self._none_owed.clear()

    def stored(self, receipts: Iterable[DeliveryReceipt], status: int) -> int:
        """Answer the deliver_sm of ``receipts`` (now committed) with ``status``; how many answers were written."""
        owed = self._owed
        if not owed:
            return 0
        by_session: dict[int, list[Ack]] = {}
        for r in receipts:
            entry = owed.pop(id(r), None)
            if entry is not None:
                ack = entry[1]
                by_session.setdefault(id(ack.session), []).append(ack)
        if not owed:
            self._none_owed.set()
        written = sum(acks[0].session.respond(acks, status) for acks in by_session.values())
        self.answered += written
        return written

    def refuse_all(self, status: int) -> int:
        """Answer everything still owed with ``status`` (a temporary error at close: the SMSC keeps them)."""
        receipts = [r for r, _ in self._owed.values()]
        written = self.stored(receipts, status)
        self.answered -= written
        self.refused += written
        self._owed.clear()
        self._none_owed.set()
        return written

    async def drained(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every owed answer to be sent; whether they were."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._none_owed.wait(), seconds)
        return not self._owed
