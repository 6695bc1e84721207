"""One send() call's segments and their outcomes, by slot: what the sessions report into.

The transport fills a :class:`_SendBatch` from the encoded messages, the bind
pumps (``pump.py``) write its slots, and the sessions report each answer
into it by slot number; it then folds the outcomes into one SendResult per
message.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from msgbridge.adapters.base import BeforeWrite
from msgbridge.adapters.smpp.correlation import Correlator
from msgbridge.adapters.smpp.receipts import IdBase, resp_key
from msgbridge.adapters.smpp.session import timeout_info
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.smpp.status import error_info, failed_status

if TYPE_CHECKING:
    from msgbridge.adapters.smpp.transport import SmppTransport

log = logging.getLogger(__name__)

# Slot states in a batch
_PENDING, _OK, _REFUSED, _UNKNOWN = 0, 1, 2, 3


class _LateAnswer:
    """A submit_sm_resp that comes after its message was given up as MAYBE_SUBMITTED: register its id.

    Then the receipt for it names the message, and the store settles the
    message from its doubt. Holds only the ids, not the send batch.
    """

    __slots__ = ("correlator", "id_base", "message_id", "segment", "sink", "total")

    def __init__(
        self,
        correlator: Correlator,
        sink: Callable[[list[DeliveryReceipt]], None],
        id_base: IdBase,
        message_id: str,
        segment: int,
        total: int,
    ) -> None:
        self.correlator = correlator
        self.sink = sink
        self.id_base = id_base
        self.message_id = message_id
        self.segment = segment
        self.total = total

    def __call__(self, native_id: str) -> None:
        key = resp_key(native_id, self.id_base)
        released = self.correlator.add(key, self.message_id, self.segment, self.total)
        if released:
            self.sink(released)
        log.info(
            "late submit_sm_resp: message %s segment %d was accepted as %s",
            self.message_id,
            self.segment + 1,
            key,
        )


class _SendBatch:
    """The segments of one send() call and their outcomes; sessions report into it by slot number.

    Flat lists indexed by slot instead of one object per segment: at 100,000
    segments/s every allocation on this path shows up in the CPU budget.
    """

    __slots__ = (
        "answered",
        "attempts",
        "bodies",
        "correlator",
        "first",
        "hook",
        "id_base",
        "ids",
        "infos",
        "max_resend",
        "message_ids",
        "msg_of",
        "outstanding",
        "owner",
        "queues",
        "remaining",
        "sink",
        "states",
        "totals",
        "track",
    )

    def __init__(self, transport: SmppTransport, sessions: int) -> None:
        self.correlator = transport.correlator
        self.sink = transport._push_receipts
        self.id_base = transport.options.id_base
        self.max_resend = transport.options.max_resend
        # Without receipts there is nothing to correlate: skip the index on the hot path.
        self.track = transport.options.dlr
        self.bodies: list[bytes] = []
        self.msg_of: list[int] = []
        self.first: list[int] = []  # per slot: its message's first slot
        self.totals: list[int] = []
        self.owner: list[int] = []  # per slot: index of the session sending it
        self.states: list[int] = []
        self.ids: list[str] = []
        self.infos: list[ErrorInfo | None] = []
        self.attempts: list[int] = []
        self.message_ids: dict[int, str] = {}
        self.outstanding = [0] * sessions
        self.queues: list[deque[int]] = [deque() for _ in range(sessions)]
        self.remaining = 0
        self.hook: BeforeWrite | None = None
        # Single-segment slots accepted since the hook last ran (None: not collected).
        self.answered: list[int] | None = None

    def add(self, message_index: int, message_id: str, bodies: list[bytes], owner: int) -> None:
        start = len(self.bodies)
        n = len(bodies)
        self.message_ids[message_index] = message_id
        self.bodies.extend(bodies)
        if n == 1:
            self.msg_of.append(message_index)
            self.first.append(start)
            self.totals.append(1)
            self.owner.append(owner)
            self.states.append(_PENDING)
            self.ids.append("")
            self.infos.append(None)
            self.attempts.append(0)
            self.queues[owner].append(start)
        else:
            self.msg_of.extend([message_index] * n)
            self.first.extend([start] * n)
            self.totals.extend([n] * n)
            self.owner.extend([owner] * n)
            self.states.extend([_PENDING] * n)
            self.ids.extend([""] * n)
            self.infos.extend([None] * n)
            self.attempts.extend([0] * n)
            self.queues[owner].extend(range(start, start + n))
        self.outstanding[owner] += n
        self.remaining += n

    def add_singles(self, bodies: list[bytes], message_ids: list[str], owners: list[int]) -> None:
        """Every message one segment: slot number == message index, lists built in bulk."""
        n = len(bodies)
        self.bodies = bodies
        self.message_ids = dict(enumerate(message_ids))
        self.msg_of = list(range(n))
        self.first = self.msg_of
        self.totals = [1] * n
        self.owner = owners
        self.states = [_PENDING] * n
        self.ids = [""] * n
        self.infos = [None] * n
        self.attempts = [0] * n
        if len(self.queues) == 1:
            self.queues[0].extend(range(n))
            self.outstanding[0] += n
        else:
            for slot, owner in enumerate(owners):
                self.queues[owner].append(slot)
                self.outstanding[owner] += 1
        self.remaining += n

    def body(self, slot: int) -> bytes:
        return self.bodies[slot]

    def message_ids_of(self, slots: Sequence[int]) -> list[str]:
        mids, msg_of = self.message_ids, self.msg_of
        return list(dict.fromkeys(mids[msg_of[s]] for s in slots))

    def take_answered(self) -> list[SendResult]:
        """Results of the single-segment messages accepted since the last call (see ``answered``)."""
        done = self.answered
        if not done:
            return []
        self.answered = []
        mids, ids = self.message_ids, self.ids
        return [submitted(mids[s], (ids[s],)) for s in done]

    def _settle(self, slot: int) -> None:
        self.outstanding[self.owner[slot]] -= 1
        self.remaining -= 1

    def accepted(self, slot: int, message_id: str) -> None:
        states = self.states
        if states[slot] != _PENDING:
            return
        states[slot] = _OK
        if self.id_base is IdBase.RESP_HEX:
            key = resp_key(message_id, IdBase.RESP_HEX)
        else:
            key = message_id.strip().upper().lstrip("0") or resp_key(message_id, IdBase.SAME)
        self.ids[slot] = key
        if self.answered is not None:
            self.answered.append(slot)
        if self.track and key:
            first = self.first[slot]
            released = self.correlator.add(
                key, self.message_ids[self.msg_of[slot]], slot - first, self.totals[slot]
            )
            if released:
                self.sink(released)
        self.outstanding[self.owner[slot]] -= 1
        self.remaining -= 1

    def refused(self, slot: int, status: int) -> None:
        self.fail(slot, error_info(status))

    def fail(self, slot: int, info: ErrorInfo) -> None:
        if self.states[slot] != _PENDING:
            return
        self.states[slot] = _REFUSED
        self.infos[slot] = info
        self._settle(slot)

    def unknown(self, slot: int, reason: str) -> None:
        if self.states[slot] != _PENDING:
            return
        self.states[slot] = _UNKNOWN
        self.infos[slot] = timeout_info(reason)
        self._settle(slot)

    def late_token(self, slot: int) -> Callable[[str], None]:
        return _LateAnswer(
            self.correlator,
            self.sink,
            self.id_base,
            self.message_ids[self.msg_of[slot]],
            slot - self.first[slot],
            self.totals[slot],
        )

    def again(self, slot: int) -> bool:
        if self.states[slot] != _PENDING:
            return False
        self.attempts[slot] += 1
        if self.attempts[slot] > self.max_resend:
            return False
        self.queues[self.owner[slot]].appendleft(slot)
        return True

    def result(self, index: int, message: Message, slots: range) -> SendResult:
        start, stop = slots.start, slots.stop
        if stop - start == 1 and self.states[start] == _OK:
            return submitted(message.id, (self.ids[start],))
        n = stop - start
        ids = tuple(self.ids[s] for s in slots if self.states[s] == _OK)
        if len(ids) == n:
            return submitted(message.id, ids)
        refused = [self.infos[s] for s in slots if self.states[s] == _REFUSED]
        if refused:
            info = refused[0]
            assert info is not None
            if ids:
                info = ErrorInfo(
                    code=ErrorCode.PARTIAL,
                    native_code=info.native_code,
                    native_message=f"{len(ids)} of {n} segments accepted; {info.native_message}",
                )
            status = failed_status(info)
        else:
            info = next(self.infos[s] for s in slots if self.states[s] == _UNKNOWN)
            assert info is not None
            status = DeliveryStatus.MAYBE_SUBMITTED
        ids = tuple(i for i in ids if i)
        return SendResult(
            message_id=message.id,
            status=status,
            native_id=ids[-1] if ids else None,
            native_ids=ids,
            segments=n,
            error=info,
        )


def submitted(message_id: str, ids: tuple[str, ...]) -> SendResult:
    """A SUBMITTED SendResult with one native id per segment.

    Positional, because keywords cost a quarter of a construction on this path.
    An SMSC that answers with an empty message_id gives the message no native
    id (receipts cannot name it), rather than one shared empty id.
    """
    segments = len(ids)
    if "" in ids:
        ids = tuple(i for i in ids if i)
    return SendResult(message_id, DeliveryStatus.SUBMITTED, ids[-1] if ids else None, ids, segments)
