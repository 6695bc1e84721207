"""The ``smpp://`` transport: an asyncio ESME with a window, several binds, DLR correlation and MO.

``smpp://system_id:password@host:port?binds=2&window=100&tps=500&system_type=&dlr=1
&long=udh8|udh16|sar|payload&coding=auto|gsm|latin1|ucs2&mode=trx|tx+rx&id_base=auto``

``send()`` encodes every segment of every message straight to submit_sm
bytes, spreads the messages over the binds (all segments of one message on
one bind, in order) and hands each bind's share to its pump (``pump.py``,
``BindPump``), which writes it through that bind's window. Outcomes come
back per segment into the batch (``batch.py``) and are folded into one
SendResult per message, whose ``native_ids`` are the normalised segment ids
the store keys receipts on.

With ``before_write`` (the dispatcher's hook, see ``BeforeWrite``) each bind
awaits it before every write of submit_sm, with the ids of exactly what that
write carries (at most the room left in its window), so a message is in doubt
only once its PDU may be on the socket; the hook also gets the single-segment
messages accepted since its last call (in any send() call in progress), to
record them at once. Writes from the response path (``Session._refill``) are
off then: every write goes through the hook. One lock per bind (in its pump)
keeps two send() calls from marking the same room.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from msgbridge.adapters.base import BeforeWrite, Capabilities, LinkHealth, Transport
from msgbridge.adapters.smpp.acks import Ack, PendingAcks
from msgbridge.adapters.smpp.batch import _OK, _SendBatch
from msgbridge.adapters.smpp.batch import submitted as submitted  # re-exported, as before
from msgbridge.adapters.smpp.correlation import Correlator
from msgbridge.adapters.smpp.mailbox import Mailbox as Mailbox
from msgbridge.adapters.smpp.mo import Reassembler
from msgbridge.adapters.smpp.operations import SubmitEncoder
from msgbridge.adapters.smpp.operations import smpp_relative as smpp_relative  # re-exported, as before
from msgbridge.adapters.smpp.operations import smpp_time as smpp_time
from msgbridge.adapters.smpp.options import MODES as MODES
from msgbridge.adapters.smpp.options import SMPP_OPTIONS, SmppOptions, check_c_octet_string
from msgbridge.adapters.smpp.pump import BindPump
from msgbridge.adapters.smpp.receipts import ReceiptError, parse_receipt
from msgbridge.adapters.smpp.session import Session, SessionConfig
from msgbridge.core.errors import AuthError, ConfigError, ErrorInfo, TransportError
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.ratelimit import Backoff, TokenBucket
from msgbridge.core.url import TransportURL
from msgbridge.smpp import codec
from msgbridge.smpp.status import failed_status

log = logging.getLogger(__name__)

# At close, how long receipts already handed over may take to be stored (and so acknowledged) before the
# binds go: the dispatcher stores what the close releases within a few milliseconds.
RECEIPT_LINGER = 2.0


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
        self._pumps: list[BindPump] = []
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
            self._pumps = [
                BindPump(s, i, self._bucket, self.options.reconnect_wait, self._hooked)
                for i, s in enumerate(self.tx_sessions)
            ]
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
                log.warning(
                    "%s: %d receipts not stored by close: left with the SMSC to deliver again",
                    self.link,
                    refused,
                )
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

    async def _send(
        self, messages: Sequence[Message], senders: list[int], batch: _SendBatch
    ) -> list[SendResult]:
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
        pumps = [p.run(batch) for p in self._pumps if batch.outstanding[p.index]]
        if len(pumps) == 1:
            await pumps[0]
        else:
            await asyncio.gather(*pumps)

    # --- introspection -------------------------------------------------------

    @property
    def resends(self) -> int:
        """submit_sm PDUs sent again after a throttle answer (ESME_RTHROTTLED, ESME_RMSGQFUL), all binds."""
        return sum(s.stats.resent for s in self.sessions)

    def health(self) -> LinkHealth:
        """Binds up, submit_sm in flight and throttling now (``adapters.base.ReportsHealth``)."""
        sessions = self.sessions
        modes = 2 if self.options.mode == "tx+rx" else 1
        up = [s for s in sessions if s.bound.is_set()]
        down = [s.last_error for s in sessions if not s.bound.is_set() and s.last_error]
        return LinkHealth(
            up=any(s.can_submit for s in up),
            binds_up=len(up),
            binds=len(sessions) or self.options.binds * modes,
            in_flight=sum(s.inflight for s in self.tx_sessions),
            throttled=any(
                s.pause_left() > 0 or s.effective_window < s.config.window for s in self.tx_sessions
            ),
            throttle_events=sum(s.stats.throttled for s in sessions),
            last_error=down[0] if down else None,
        )

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
