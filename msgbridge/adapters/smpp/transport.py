"""The ``smpp://`` transport: an asyncio ESME with a window, several binds, DLR correlation and MO.

``smpp://system_id:password@host:port?binds=2&window=100&tps=500&system_type=&dlr=1
&long=udh8|udh16|sar|payload&coding=auto|gsm|latin1|ucs2&mode=trx|tx+rx&id_base=auto``

``send()`` encodes every segment of every message straight to submit_sm
bytes, spreads the messages over the binds (all segments of one message on
one bind, in order) and pumps them through each bind's window. Outcomes come
back per segment and are folded into one SendResult per message, whose
``native_ids`` are the normalised segment ids the store keys receipts on.

With ``before_write`` (the dispatcher's hook, see ``BeforeWrite``) each bind
awaits it before every write of submit_sm, with the ids of exactly what that
write carries (at most the room left in its window), so a message is in doubt
only once its PDU may be on the socket; the hook also gets the single-segment
messages accepted since its last call (in any send() call in progress), to
record them at once. Writes from the response path (``Session._refill``) are
off then: every write goes through the hook. One lock per bind keeps two
send() calls from marking the same room.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from msgbridge.adapters.base import BeforeWrite, Capabilities, Transport
from msgbridge.adapters.smpp.acks import Ack, PendingAcks
from msgbridge.adapters.smpp.correlation import Correlator
from msgbridge.adapters.smpp.mo import Reassembler
from msgbridge.adapters.smpp.operations import CODINGS, LONG_MODES, SubmitEncoder
from msgbridge.adapters.smpp.operations import smpp_relative as smpp_relative  # re-exported, as before
from msgbridge.adapters.smpp.operations import smpp_time as smpp_time
from msgbridge.adapters.smpp.receipts import IdBase, ReceiptError, parse_receipt, resp_key
from msgbridge.adapters.smpp.session import Session, SessionConfig, timeout_info
from msgbridge.core import options as opt
from msgbridge.core.errors import AuthError, ConfigError, ErrorCode, ErrorInfo, TransportError
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.options import OptionSet, OptionValues
from msgbridge.core.ratelimit import Backoff, TokenBucket
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import TransportURL
from msgbridge.smpp import codec
from msgbridge.smpp.status import error_info, failed_status

log = logging.getLogger(__name__)

MODES = ("trx", "tx+rx", "tx")

# Slot states in a batch
_PENDING, _OK, _REFUSED, _UNKNOWN = 0, 1, 2, 3

# At close, how long receipts already handed over may take to be stored (and so acknowledged) before the
# binds go: the dispatcher stores what the close releases within a few milliseconds.
RECEIPT_LINGER = 2.0


@dataclass(frozen=True)
class SmppOptions:
    binds: int = 1
    window: int = 10
    tps: float = 0.0
    system_type: str = ""
    service_type: str = ""
    dlr: bool = True
    long: str = "udh8"
    coding: str = "auto"
    mode: str = "trx"
    id_base: IdBase = IdBase.AUTO
    source: str = ""
    enquire_interval: float = 30.0
    response_timeout: float = 30.0
    bind_timeout: float = 10.0
    throttle_pause: float = 1.0
    max_resend: int = 20
    reconnect_wait: float = 30.0  # how long send() waits for a lost bind to come back
    receipt_park: float = 10.0
    receipt_index: int = 500_000  # recent segment ids kept in memory (the store keeps them all)
    mo_timeout: float = 1800.0
    default_coding: str = "gsm7"  # what data_coding 0 means on this link for MO
    mo: str = "listen"  # listen: take MO only while inbound() is being read; always: take and queue it
    queue_size: int = 1_000_000

    @classmethod
    def from_url(cls, url: TransportURL) -> SmppOptions:
        return cls.from_values(SMPP_OPTIONS.read(url))

    @classmethod
    def from_values(cls, o: OptionValues) -> SmppOptions:
        return cls(
            binds=o.get_int("binds"),
            window=o.get_int("window"),
            tps=o.get_float("tps"),
            system_type=o.get_str("system_type"),
            service_type=o.get_str("service_type"),
            dlr=o.get_bool("dlr"),
            long=o.get_str("long"),
            coding=o.get_str("coding"),
            mode=o.get_str("mode"),
            id_base=IdBase(o.get_str("id_base")),
            source=o.get_str("from"),
            enquire_interval=o.get_float("enquire_link"),
            response_timeout=o.get_float("timeout"),
            bind_timeout=o.get_float("bind_timeout"),
            throttle_pause=o.get_float("throttle_pause"),
            max_resend=o.get_int("max_resend"),
            reconnect_wait=o.get_float("reconnect_wait"),
            receipt_park=o.get_float("receipt_park"),
            receipt_index=o.get_int("receipt_index"),
            mo_timeout=o.get_float("mo_timeout"),
            default_coding="latin1" if o.get_str("dc0") == "latin1" else "gsm7",
            mo=o.get_str("mo"),
        )


# SMPP 3.4 §4.1.1 (bind_transmitter): system_id "Var. max 16", password "Var. max 9", system_type
# "Var. max 13", all C-Octet Strings; §4.4.1 (submit_sm): service_type "Var. max 6". §3.1: "C-Octet String:
# A series of ASCII characters terminated with the NULL character"; the maximum includes the NUL.
C_OCTET_SIZES: dict[str, int] = {"system_id": 16, "password": 9, "system_type": 13, "service_type": 6}
ASCII_TEXT = r"[\x20-\x7e]*"  # printable ASCII: what a C-Octet String may hold
HOUR = 3600.0
SMPP_OPTIONS = OptionSet(
    opt.integer(
        "binds",
        1,
        1,
        64,
        "connections (binds) to open; messages are spread round-robin over the binds that are up (a "
        "reconnecting bind gets work only when none is up), all segments of one message on one bind, in order",
    ),
    opt.choice(
        "mode",
        "trx",
        MODES,
        "`trx`: bind_transceiver; `tx+rx`: a bind_transmitter and a bind_receiver per bind; `tx`: transmitter "
        "only (no receipts or MO here)",
    ),
    opt.integer("window", 10, 1, 10_000, "submit_sm in flight per bind"),
    opt.number("tps", 0.0, 0, 1_000_000, "submit_sm per second for the whole transport, shared by all binds (token bucket); 0: no cap"),
    opt.text(
        "system_type",
        "",
        "sent in the bind (ASCII: a C-Octet String of 13 octets with its NUL)",
        pattern=ASCII_TEXT,
        max_length=C_OCTET_SIZES["system_type"] - 1,
    ),
    opt.text(
        "service_type",
        "",
        "sent in every submit_sm (ASCII: a C-Octet String of 6 octets with its NUL)",
        pattern=ASCII_TEXT,
        max_length=C_OCTET_SIZES["service_type"] - 1,
    ),
    opt.text("from", "", "default sender when a message has none", aliases=("source",), max_length=64),
    opt.flag("dlr", True, "request receipts (`registered_delivery=1`, final outcome)"),
    opt.choice(
        "long",
        "udh8",
        LONG_MODES,
        "long messages: `udh8` (8-bit reference UDH, 153/134/67 per segment), `udh16` (16-bit reference, "
        "152/133/66), `sar` (SAR TLVs, the SMSC builds the UDH), `payload` (one submit_sm with `message_payload`)",
    ),
    opt.choice(
        "coding",
        "auto",
        CODINGS,
        "`auto`: GSM-7 (data_coding 0, unpacked) if every character is in GSM 03.38, else UCS-2 (8); `gsm`: "
        "GSM-7 only, other text refused (INVALID_ARGUMENT); `latin1`: Latin-1 (3) where possible, else UCS-2; "
        "`ucs2`: always UCS-2",
    ),
    opt.choice("dc0", "gsm", ("gsm", "latin1"), "what data_coding 0 means in MO from this SMSC"),
    opt.choice("id_base", IdBase.AUTO.value, tuple(b.value for b in IdBase), "how receipts spell ids, see [Correlation](#correlation)"),
    opt.number("enquire_link", 30.0, 0.05, HOUR, "seconds of silence before an enquire_link"),
    opt.number("timeout", 30.0, 0.01, HOUR, "seconds to wait for a response (submit_sm_resp, enquire_link_resp)"),
    opt.number("bind_timeout", 10.0, 0.01, HOUR, "seconds to wait for a bind response"),
    opt.number("throttle_pause", 1.0, 0.001, 60, "first pause after ESME_RTHROTTLED / ESME_RMSGQFUL, doubling to 30 s"),
    opt.integer("max_resend", 20, 0, 1000, "resends of one throttled PDU before it is returned as THROTTLED (retryable)"),
    opt.number(
        "reconnect_wait",
        30.0,
        0,
        24 * HOUR,
        "how long a send waits for a lost bind to come back before its unsent messages fail NETWORK_ERROR "
        "(retryable, never sent)",
    ),
    opt.number("receipt_park", 10.0, 0, HOUR, "seconds a receipt for an unknown id waits for its submit_sm_resp"),
    opt.integer(
        "receipt_index",
        500_000,
        1,
        100_000_000,
        "recent segment ids kept in memory to name a receipt's message (about 300 bytes each); older ones are "
        "matched by the store alone",
    ),
    opt.number(
        "mo_timeout",
        1800.0,
        1,
        7 * 24 * HOUR,
        "seconds before an incomplete concatenated MO is delivered as it is (marked incomplete)",
    ),
    opt.choice(
        "mo",
        "listen",
        ("listen", "always"),
        "`listen`: acknowledge MO only while something reads `inbound()`, otherwise answer ESME_RX_T_APPN so the "
        "SMSC keeps it and delivers it again later; `always`: acknowledge and queue it in memory",
    ),
)



def check_c_octet_string(name: str, value: str) -> None:
    """Refuse, at URL parse time, a bind or submit field the codec could not encode.

    Such a value used to reach the codec inside the session, where the error
    left the first bind unresolved and the command hung. The message names the
    field and its limit, never the value (the password is one of them).
    """
    size = C_OCTET_SIZES[name]
    if not value.isascii() or "\x00" in value:
        raise ConfigError(
            f"smpp:// {name} must be ASCII without NUL characters (SMPP 3.4: a C-Octet String is ASCII)"
        )
    if len(value) > size - 1:
        raise ConfigError(
            f"smpp:// {name} is {len(value)} characters; SMPP 3.4 allows at most {size - 1} "
            f"(a C-Octet String of {size} octets with its NUL)"
        )


T = TypeVar("T")


class Mailbox(Generic[T]):
    """An unbounded-by-default FIFO that one reader iterates until it is closed.

    Lighter than asyncio.Queue (no per-item future bookkeeping): receipts
    arrive at up to 100,000/s and each put costs only a deque append; the
    reader is woken once per batch of items, not once per item.
    """

    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.readers = 0  # iterations in progress

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def full(self) -> bool:
        return bool(self.maxsize) and len(self._items) >= self.maxsize

    def put_many(self, items: Sequence[T]) -> bool:
        """Append ``items``; False (and nothing appended) when the channel is full or closed."""
        if self._closed or (self.maxsize and len(self._items) + len(items) > self.maxsize):
            return False
        self._items.extend(items)
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)
        return True

    def close(self) -> None:
        self._closed = True
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def __aiter__(self) -> AsyncIterator[T]:
        items = self._items
        self.readers += 1
        try:
            while True:
                while items:
                    yield items.popleft()
                if self._closed:
                    return
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
        finally:
            self.readers -= 1


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


class SmppTransport(Transport):
    """SMPP 3.4 ESME: bind_transceiver (or tx + rx), windowed submit_sm, receipts and MO pushed."""

    scheme: ClassVar[str] = "smpp"
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=100_000)
    summary: ClassVar[str] = "SMPP 3.4 to an SMSC: windowed, several binds, receipts and MO pushed"
    declared_options = SMPP_OPTIONS
    writes_in_groups: ClassVar[bool] = True

    def __init__(self, url: TransportURL) -> None:
        super().__init__(url)
        if not url.host:
            raise ConfigError(f"smpp:// URL needs a host: {url}")
        if not url.user:
            raise ConfigError(f"smpp:// URL needs a system_id (smpp://system_id:password@host:port): {url}")
        check_c_octet_string("system_id", url.user)
        check_c_octet_string("password", url.secret.reveal() if url.secret else "")
        self.options = SmppOptions.from_values(self.settings)
        self.correlator = Correlator(
            self.link,
            self.options.id_base,
            park_seconds=self.options.receipt_park,
            max_ids=self.options.receipt_index,
        )
        self.reassembler = Reassembler(
            self.link, timeout=self.options.mo_timeout, default_coding=self.options.default_coding
        )
        self.sessions: list[Session] = []
        self.tx_sessions: list[Session] = []
        self.receipts_received = 0
        self.receipts_unparsable = 0
        self.receipts_refused = 0
        self.mo_received = 0
        self.mo_deferred = 0
        self._bucket = TokenBucket(self.options.tps) if self.options.tps else None
        self._refs = itertools.count(int(time.time() * 1000) & 0xFFFF)
        self._rr = 0
        self._open_lock: asyncio.Lock | None = None
        self._write_locks: list[asyncio.Lock] = []
        # send() calls in progress with a before_write hook: any write reports what all of them had answered.
        self._hooked: set[_SendBatch] = set()
        self._opened = False
        self._closed = False
        self._receipts_ch: Mailbox[DeliveryReceipt] = Mailbox(self.options.queue_size)
        # With hold_receipt_acks(): each deliver_sm is answered once receipts_stored() names its receipt.
        self._hold_acks = False
        self.acks = PendingAcks()
        self.correlator.on_emit = self.acks.attach
        self._inbound_ch: Mailbox[InboundMessage] = Mailbox(self.options.queue_size)
        self._housekeeper: asyncio.Task[None] | None = None
        try:
            self.encoder = SubmitEncoder(
                service_type=self.options.service_type,
                source=self.options.source,
                dlr=self.options.dlr,
                coding=self.options.coding,
                long=self.options.long,
                refs=self._refs,
            )
        except ValueError as exc:
            raise ConfigError(f"from={self.options.source!r}: {exc}") from None

    @property
    def link(self) -> str:
        """Native ids are unique per SMSC account, so the system_id is part of the link name."""
        return f"smpp://{self.url.user}@{self.url.host}:{self.url.port or 2775}"

    # --- lifecycle -----------------------------------------------------------

    def _session_config(self, mode: str) -> SessionConfig:
        o = self.options
        return SessionConfig(
            host=self.url.host or "",
            port=self.url.port or 2775,
            system_id=self.url.user or "",
            password=self.url.secret.reveal() if self.url.secret else "",
            system_type=o.system_type,
            mode=mode,
            window=o.window,
            enquire_interval=o.enquire_interval,
            response_timeout=o.response_timeout,
            bind_timeout=o.bind_timeout,
            throttle_pause=o.throttle_pause,
            reconnect=Backoff(base=0.2, cap=30.0),
        )

    async def open(self) -> None:
        if self._closed:
            raise TransportError(f"{self.link}: transport is closed")
        if self._opened:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._opened:
                return
            modes = {"trx": ["trx"], "tx+rx": ["tx", "rx"], "tx": ["tx"]}[self.options.mode]
            sessions = [
                Session(
                    self._session_config(mode),
                    f"{self.url.user}@{self.url.host}#{i + 1}{mode}",
                    self._on_deliver,
                )
                for i in range(self.options.binds)
                for mode in modes
            ]
            outcomes = await asyncio.gather(*(s.start() for s in sessions), return_exceptions=True)
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            auth = next((e for e in errors if isinstance(e, AuthError)), None)
            up = {s.config.mode for s, o in zip(sessions, outcomes, strict=True) if o is None}
            if errors and (auth is not None or up != set(modes)):
                # Refused credentials, or no bind (of some mode) at all: nothing to work with.
                await asyncio.gather(*(s.close(grace=0.5) for s in sessions), return_exceptions=True)
                raise auth or errors[0]
            if errors:
                # Some binds came up: use them; the others keep trying with the reconnect backoff (an SMSC
                # that allows fewer binds than ``binds=`` asks, or one that is still starting).
                for session, outcome in zip(sessions, outcomes, strict=True):
                    if outcome is not None:
                        log.warning(
                            "%s: %s; sending over the %d other binds, retrying this one in the background",
                            session.name,
                            outcome,
                            len(sessions) - len(errors),
                        )
                        session.keep_binding()
            self.sessions = sessions
            self.tx_sessions = [s for s in sessions if s.can_submit]
            self._write_locks = [asyncio.Lock() for _ in self.tx_sessions]
            self._housekeeper = asyncio.create_task(self._housekeeping(), name="smpp-housekeeping")
            self._opened = True

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(s.drain() for s in self.sessions), return_exceptions=True)
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            try:
                await self._housekeeper
            except asyncio.CancelledError:
                pass
        self._push_receipts(self.correlator.flush())
        for msg in self.reassembler.expire_all():
            self._put_inbound(msg)
        self._receipts_ch.close()
        self._inbound_ch.close()
        if self.acks:
            # Receipts handed over and not stored yet: give the caller a moment (it reads on through the
            # close), then ask the SMSC to keep the rest rather than unbind with them unanswered.
            await self.acks.drained(RECEIPT_LINGER)
            refused = self.acks.refuse_all(codec.ESME_RX_T_APPN)
            if refused:
                log.warning("%s: %d receipts not stored by close: left with the SMSC to deliver again", self.link, refused)
        await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._push_receipts(self.correlator.expire())
            for msg in self.reassembler.expire():
                self._put_inbound(msg)

    # --- receipts and MO -----------------------------------------------------

    def _push_receipts(self, receipts: list[DeliveryReceipt]) -> None:
        if not self._receipts_ch.put_many(receipts):
            log.error("%s: receipt queue full; dropped receipts (nobody reads receipts())", self.link)

    def _put_inbound(self, msg: InboundMessage) -> None:
        if not self._inbound_ch.put_many([msg]):
            log.error("%s: inbound queue full; dropping MO from %s", self.link, msg.source)

    def hold_receipt_acks(self) -> None:
        """The caller stores every receipt it reads and then calls :meth:`receipts_stored`.

        From now on a receipt's deliver_sm is answered only then, so the SMSC
        keeps every receipt not yet durably stored (and delivers it again after
        a crash) instead of forgetting it while it is in this process's memory.
        """
        self._hold_acks = True

    def receipts_stored(self, receipts: Sequence[DeliveryReceipt]) -> None:
        """``receipts`` (read from :meth:`receipts`) are committed: answer their deliver_sm with ESME_ROK."""
        self.acks.stored(receipts, codec.ESME_ROK)

    def _on_deliver(self, session: Session, sm: codec.ShortMessage, ack: Ack) -> int | None:
        """Answer a deliver_sm: 0 for what is taken, 0x64 (deliver again later) for what nothing would keep.

        Receipts, while held (``hold_receipt_acks``): no answer now; ``ack`` is
        answered when the receipt is stored. Not held (a program reading
        :meth:`receipts` itself, which owns them then): 0 once queued. Once the
        transport closes, or its queue is full, 0x64: the SMSC keeps them.
        """
        if sm.is_receipt:
            if self._receipts_ch.full or self._receipts_ch.closed:
                self.receipts_refused += 1
                return codec.ESME_RX_T_APPN
            try:
                parsed = parse_receipt(sm)
            except (ReceiptError, codec.CodecError) as exc:
                self.receipts_unparsable += 1
                log.warning("%s: unparsable receipt acknowledged and dropped: %s", self.link, exc)
                return codec.ESME_ROK
            self.receipts_received += 1
            if self._hold_acks:
                out = self.correlator.receipt(parsed, tag=ack)
                if out:
                    self._receipts_ch.put_many(out)
                return None
            out = self.correlator.receipt(parsed)
            if out:
                self._receipts_ch.put_many(out)
            return codec.ESME_ROK
        if self._inbound_ch.full or (self.options.mo == "listen" and not self._inbound_ch.readers):
            # Nobody would store it: ESME_RX_T_APPN makes the SMSC keep it and deliver it again later,
            # rather than acknowledging an MO that would be lost when this process exits.
            self.mo_deferred += 1
            return codec.ESME_RX_T_APPN
        try:
            msg = self.reassembler.add(sm)
        except codec.CodecError as exc:
            log.warning("%s: undecodable MO from %s refused: %s", self.link, sm.source_addr, exc)
            return codec.ESME_RX_P_APPN
        self.mo_received += 1
        if msg is not None:
            self._put_inbound(msg)
        return codec.ESME_ROK

    async def receipts(self) -> AsyncIterator[DeliveryReceipt]:
        """Receipts as they arrive, one per segment, with message_id filled where this process sent it."""
        async for r in self._receipts_ch:
            yield r

    async def inbound(self) -> AsyncIterator[InboundMessage]:
        """Complete MO messages (concatenated parts already joined), until the transport is closed."""
        async for m in self._inbound_ch:
            yield m

    # --- encoding ------------------------------------------------------------

    def encode_message(self, message: Message) -> list[bytes] | ErrorInfo:
        """submit_sm bodies for every segment of ``message``, or why it cannot be sent (operations.py)."""
        return self.encoder.encode(message)

    # --- sending -------------------------------------------------------------

    async def send(
        self, messages: Sequence[Message], *, before_write: BeforeWrite | None = None
    ) -> list[SendResult]:
        await self.open()
        senders = [i for i, s in enumerate(self.tx_sessions) if s.fatal is None]
        # Prefer binds that are up now; a bind that is reconnecting gets work only when none is up.
        bound = [i for i in senders if self.tx_sessions[i].bound.is_set()]
        senders = bound or senders
        if not senders:
            fatal = next((s.fatal for s in self.tx_sessions if s.fatal is not None), None)
            if fatal is not None:
                raise fatal
            raise TransportError(f"{self.link}: no bind can submit (mode={self.options.mode})")
        batch = _SendBatch(self, len(self.tx_sessions))
        batch.hook = before_write
        if before_write is not None:
            self._hooked.add(batch)
            try:
                return await self._send(messages, senders, batch)
            finally:
                self._hooked.discard(batch)
        return await self._send(messages, senders, batch)

    async def _send(self, messages: Sequence[Message], senders: list[int], batch: _SendBatch) -> list[SendResult]:
        encode = self.encoder.encode
        plans = [encode(m) for m in messages]
        k = len(senders)
        rr = self._rr
        if all(type(p) is list and len(p) == 1 for p in plans):
            # The common case, built in bulk: one segment per message, slot == message index.
            n = len(plans)
            owners = [senders[(rr + i) % k] for i in range(n)] if k > 1 else [senders[0]] * n
            self._rr = rr + n
            batch.add_singles([p[0] for p in plans], [m.id for m in messages], owners)  # type: ignore[index]
            if batch.hook is not None:
                batch.answered = []
            await self._run_batch(batch)
            states, ids = batch.states, batch.ids
            return [
                submitted(m.id, (ids[i],)) if states[i] == _OK else batch.result(i, m, range(i, i + 1))
                for i, m in enumerate(messages)
            ]
        early: dict[int, SendResult] = {}
        spans: list[range] = []
        for i, (message, plan) in enumerate(zip(messages, plans, strict=True)):
            start = len(batch.bodies)
            if isinstance(plan, ErrorInfo):
                early[i] = SendResult(message_id=message.id, status=failed_status(plan), error=plan)
                spans.append(range(start, start))
                continue
            owner = senders[rr % k]
            rr += 1
            batch.add(i, message.id, plan, owner)
            spans.append(range(start, start + len(plan)))
        self._rr = rr
        await self._run_batch(batch)
        return [early[i] if i in early else batch.result(i, m, spans[i]) for i, m in enumerate(messages)]

    async def _run_batch(self, batch: _SendBatch) -> None:
        if not batch.remaining:
            return
        pumps = [self._pump(i, batch) for i in range(len(self.tx_sessions)) if batch.outstanding[i]]
        if len(pumps) == 1:
            await pumps[0]
        else:
            await asyncio.gather(*pumps)

    async def _pump(self, index: int, batch: _SendBatch) -> None:
        """Feed one bind's share of the batch through its window until every slot has an outcome."""
        session = self.tx_sessions[index]
        queue = batch.queues[index]
        bucket = self._bucket
        feed = bucket is None and batch.hook is None
        if feed:
            session.add_feed(batch, queue)
        try:
            await self._pump_loop(session, index, batch, queue, bucket)
        finally:
            if feed:
                session.remove_feed(batch, queue)

    async def _pump_loop(
        self, session: Session, index: int, batch: _SendBatch, queue: deque[int], bucket: TokenBucket | None
    ) -> None:
        outstanding = batch.outstanding
        down_since: float | None = None
        while outstanding[index] > 0:
            if session.fatal is not None or session.closing:
                info = (
                    session.fatal.info
                    if session.fatal is not None
                    else ErrorInfo(
                        code=ErrorCode.NETWORK_ERROR, native_message="transport closed before sending"
                    )
                )
                while queue:
                    batch.fail(queue.popleft(), info)
                if outstanding[index] > 0:
                    await session.wait_window(0.1)
                continue
            if queue:
                if batch.hook is not None and await self._write_marked(session, index, batch, queue, bucket):
                    down_since = None
                    continue
                room = 0 if batch.hook is not None else session.room()
                if room > 0:
                    down_since = None
                    n = min(room, len(queue))
                    if bucket is not None:
                        n = min(n, max(1, int(bucket.burst)))
                        await bucket.acquire(n)
                        n = min(n, session.room(), len(queue))
                        if n <= 0:
                            continue
                    session.submit(batch, [queue.popleft() for _ in range(n)])
                    continue
                if not session.bound.is_set():
                    now = time.monotonic()
                    down_since = down_since or now
                    if now - down_since > self.options.reconnect_wait:
                        info = ErrorInfo(
                            code=ErrorCode.NETWORK_ERROR,
                            native_message=f"bind down for {self.options.reconnect_wait:g}s "
                            f"({session.last_error}); not sent",
                        )
                        while queue:
                            batch.fail(queue.popleft(), info)
                        continue
                    await session.wait_window(0.25)
                    continue
                pause = session.pause_left()
                await session.wait_window(pause if pause > 0 else 1.0)
            else:
                await session.wait_window(1.0)

    async def _write_marked(
        self, session: Session, index: int, batch: _SendBatch, queue: deque[int], bucket: TokenBucket | None
    ) -> bool:
        """Write what the window has room for, after the hook has marked exactly that; False if nothing was."""
        assert batch.hook is not None
        async with self._write_locks[index]:
            n = min(session.room(), len(queue))
            if n <= 0:
                return False
            if bucket is not None:
                n = min(n, max(1, int(bucket.burst)))
                await bucket.acquire(n)
                n = min(n, session.room(), len(queue))
                if n <= 0:
                    return False
            slots = [queue.popleft() for _ in range(n)]
            try:
                answered = [r for b in self._hooked for r in b.take_answered()]
                await batch.hook(batch.message_ids_of(slots), answered)
            except Exception as exc:
                # Not marked, so never written: this call's messages end as not sent.
                info = ErrorInfo(code=ErrorCode.TEMPORARY_FAILURE, native_message=f"not sent: {exc}")
                for slot in slots:
                    batch.fail(slot, info)
                while queue:
                    batch.fail(queue.popleft(), info)
                return True
            room = session.room()
            if room < n:  # the link went down while marking: the rest waits for the reconnect
                queue.extendleft(reversed(slots[max(room, 0) :]))
                slots = slots[: max(room, 0)]
            if not slots:
                return False
            session.submit(batch, slots)
            return True

    # --- introspection -------------------------------------------------------

    @property
    def resends(self) -> int:
        """submit_sm PDUs sent again after a throttle answer (ESME_RTHROTTLED, ESME_RMSGQFUL), all binds."""
        return sum(s.stats.resent for s in self.sessions)

    def stats(self) -> dict[str, object]:
        """Counters across binds, for the CLI and benchmarks."""
        totals: dict[str, int] = {}
        for s in self.sessions:
            for k, v in vars_of(s.stats).items():
                totals[k] = totals.get(k, 0) + v
        return {
            **totals,
            "receipts": self.receipts_received,
            "receipts_unparsable": self.receipts_unparsable,
            "receipts_refused": self.receipts_refused,
            "receipt_acks_owed": len(self.acks),
            "receipts_parked": self.correlator.parked,
            "receipts_unmatched": self.correlator.stats.unmatched,
            "mo_parts": self.mo_received,
            "mo_deferred": self.mo_deferred,
            "id_base_learned": self.correlator.stats.learned.value if self.correlator.stats.learned else None,
        }


def vars_of(stats: object) -> dict[str, int]:
    return {name: getattr(stats, name) for name in getattr(stats, "__slots__", ())}
