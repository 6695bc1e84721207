"""One SMPP bind's traffic: frame what comes in, answer it, pipeline submit_sm through the window.

Connecting, binding, enquire_link and reconnecting are ``binding.py``
(:class:`~msgbridge.adapters.smpp.binding.Binding`, mixed in here); when to
write and when to wait is the bind's pump (``pump.py``).

Shape (SMPP 3.4 §2.2-2.8, sessions and windowing): one asyncio Protocol per connection whose
``data_received`` is the only reader; requests are keyed by sequence number;
at most ``window`` submit_sm are unanswered; deliver_sm, enquire_link and
unbind from the peer are answered at once, outside the window.

Why a Protocol and not streams: at 100,000 PDUs/s the per-PDU budget is a few
microseconds. Responses are matched to a (batch, slot) pair instead of one
future per PDU, a writer hands a whole window's worth of PDUs to one
``transport.write``, and the answers to everything one ``data_received``
call brought in leave in one write as well.

What happens to a submit_sm, always exactly one of:
- answered: its slot in the batch gets the message_id or the command_status;
- answered 0x58/0x14: the session pauses, shrinks its window and the batch
  sends the same PDU again (the window grows back by one slot per window's
  worth of clean answers);
- written, then no answer (timeout, link lost): the slot is marked *unknown*,
  the message becomes MAYBE_SUBMITTED; it is never resent silently. A late
  answer still registers the id so receipts for it are matched;
- never written (link down): it waits for the reconnect and goes out then
  (the transport gives up after ``reconnect_wait``: NETWORK_ERROR, never sent).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from msgbridge.adapters.smpp.acks import Ack
from msgbridge.adapters.smpp.binding import BIND_COMMAND as BIND_COMMAND
from msgbridge.adapters.smpp.binding import Binding, answer_name
from msgbridge.adapters.smpp.binding import SessionConfig as SessionConfig
from msgbridge.adapters.smpp.window import MAX_SEQ, Window, seq_before
from msgbridge.core.errors import AuthError, ErrorCode, ErrorInfo, TransportError
from msgbridge.smpp import codec
from msgbridge.smpp.status import SLOW_DOWN, StatusClass, lookup

log = logging.getLogger(__name__)

_HEADER_PACK = codec.HEADER.pack
_FRAME_SPANS = codec.frame_spans
_SUBMIT_SM = codec.SUBMIT_SM
_SUBMIT_SM_RESP = codec.SUBMIT_SM_RESP


class Batch(Protocol):
    """What a session reports submit_sm outcomes to (implemented by the transport's send batch)."""

    def body(self, slot: int) -> bytes: ...

    def accepted(self, slot: int, message_id: str) -> None: ...

    def refused(self, slot: int, status: int) -> None: ...

    def unknown(self, slot: int, reason: str) -> None: ...

    def again(self, slot: int) -> bool:
        """Queue the slot for resending after a throttle; False when it has been tried too often."""
        ...

    def late_token(self, slot: int) -> Callable[[str], None]:
        """What to call with the message_id if an answer comes after the slot was given up as unknown.

        Small and independent of the batch, so a session remembering many of
        them does not keep whole batches (and their PDUs) alive.
        """
        ...


@dataclass(slots=True)
class SessionStats:
    connects: int = 0
    binds: int = 0
    bind_failures: int = 0
    submit_sm: int = 0
    submit_ok: int = 0
    submit_error: int = 0
    throttled: int = 0
    resent: int = 0
    timeouts: int = 0
    lost_in_flight: int = 0
    late_responses: int = 0
    unknown_responses: int = 0
    generic_nack_received: int = 0
    generic_nack_sent: int = 0
    deliver_sm: int = 0
    enquire_link_sent: int = 0
    enquire_link_received: int = 0
    unbinds_received: int = 0
    framing_errors: int = 0


# deliver_sm / data_sm handler: (session, short message, ack) -> command_status for the response now, or
# None when the handler keeps the Ack to answer later through Session.respond (acks.PendingAcks).
DeliverHandler = Callable[["Session", codec.ShortMessage, Ack], int | None]


class Session(Binding, asyncio.Protocol):
    """A bind slot that survives reconnects: the Protocol object is reused for each new connection.

    Getting the bind up and keeping it up (connect, bind, reconnect with
    backoff, enquire_link, close) is :class:`~msgbridge.adapters.smpp.binding.Binding`;
    this class is what goes over it: framing, answers, submit_sm through the window.
    """

    def __init__(self, config: SessionConfig, name: str, on_deliver: DeliverHandler | None = None) -> None:
        self.config = config
        self.name = name
        self.on_deliver = on_deliver
        self.stats = SessionStats()
        # In-flight submit_sm by sequence -> (batch, slot); late tokens are the batches' late_token(slot).
        self.window: Window[tuple[Batch, int], Callable[[str], None]] = Window(
            config.window,
            config.response_timeout,
            config.throttle_pause,
            config.throttle_pause_cap,
            late_of=late_token,
        )
        self.bound = asyncio.Event()
        self.fatal: MessagingErrorLike | None = None
        self.closing = False
        self.last_error: str = ""
        self._transport: asyncio.Transport | None = None
        self.generation = 0  # connections made so far: an answer owed on one is never written on another
        self._buffer = bytearray()
        self._seq = 0
        # Other requests (bind, enquire_link, unbind) by sequence: the future for their answer, and the command.
        self._requests: dict[int, tuple[asyncio.Future[tuple[int, bytes]], int]] = {}
        self._waiters: list[asyncio.Future[None]] = []
        # Queues of slots the session tops its window up from as soon as answers free it,
        # inside data_received, instead of waiting for the sending task to be scheduled.
        self._feeds: list[tuple[Batch, deque[int]]] = []
        self._lost: asyncio.Future[None] | None = None
        self._last_rx = time.monotonic()
        self._last_tx = time.monotonic()
        self._nacks = 0
        self._runner: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._first_bind: asyncio.Future[None] | None = None

    # --- lifecycle -----------------------------------------------------------

    @property
    def can_submit(self) -> bool:
        return self.config.mode != "rx"

    @property
    def inflight(self) -> int:
        return len(self.window.inflight)

    @property
    def effective_window(self) -> int:
        """How many submit_sm may be unanswered now (below the configured size after throttling)."""
        return self.window.effective

    # --- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.generation += 1
        self._buffer = bytearray()
        self._last_rx = self._last_tx = time.monotonic()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.bound.clear()
        if exc is not None:
            self.last_error = f"{type(exc).__name__}: {exc}"
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        # Everything written and unanswered: outcome unknown (never resent silently).
        inflight = self.window.lose_all()
        why = self.last_error or "closed by peer"
        reason = f"link lost before submit_sm_resp ({why})"
        self.stats.lost_in_flight += len(inflight)
        for batch, slot in inflight.values():
            batch.unknown(slot, reason)
        for fut, command_id in self._requests.values():
            if not fut.done():
                fut.set_exception(TransportError(f"link lost before {answer_name(command_id)} ({why})"))
        self._requests.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._wake()

    def data_received(self, data: bytes) -> None:
        # submit_sm_resp is nearly all the traffic: its message_id is sliced straight out of the buffer.
        self._last_rx = time.monotonic()
        buf = self._buffer
        buf += data
        spans, used, bad = _FRAME_SPANS(buf)
        out: list[bytes] = []
        freed = False
        window = self.window
        complete = window.inflight.pop  # Window.complete without a Python call: one per answer
        for command_id, status, seq, start, stop in spans:
            if command_id == _SUBMIT_SM_RESP:
                entry = complete(seq, None)
                if entry is None:
                    self._orphan(seq, status, bytes(buf[start:stop]))
                elif status == 0:
                    freed = True
                    nul = buf.find(0, start, stop)
                    entry[0].accepted(entry[1], buf[start : nul if nul >= 0 else stop].decode("latin-1"))
                    if window.recovering:
                        window.clean()
                else:
                    freed = True
                    self._submit_failed(entry[0], entry[1], status)
            else:
                freed |= self._other(command_id, status, seq, bytes(buf[start:stop]), out)
        if bad is not None:
            self._framing_error(bad)
            return
        if used:
            del buf[:used]
        if out:
            self._write(b"".join(out))
        if freed:
            if self._feeds:
                self._refill()
            self._wake()

    def _framing_error(self, length: int) -> None:
        self.stats.framing_errors += 1
        log.warning(
            "%s: command_length %d outside [16, %d]; the stream cannot be resynchronised, dropping the link",
            self.name,
            length,
            codec.MAX_PDU_LENGTH,
        )
        self._write(codec.pdu(codec.GENERIC_NACK, codec.ESME_RINVCMDLEN, 0))
        self._abort(f"framing error: command_length {length} outside [16, {codec.MAX_PDU_LENGTH}]")

    # --- incoming ------------------------------------------------------------

    def _other(self, command_id: int, status: int, seq: int, body: bytes, out: list[bytes]) -> bool:
        if command_id == codec.DELIVER_SM or command_id == codec.DATA_SM:
            self.stats.deliver_sm += 1
            is_data = command_id == codec.DATA_SM
            try:
                sm = codec.decode_data_sm(body) if is_data else codec.decode_sm(body)
            except codec.CodecError as exc:
                log.warning(
                    "%s: undecodable %s seq=%d: %s", self.name, codec.COMMAND_NAMES[command_id], seq, exc
                )
                self.stats.generic_nack_sent += 1
                out.append(codec.pdu(codec.GENERIC_NACK, exc.status, seq))
                return False
            resp_id = codec.DATA_SM_RESP if is_data else codec.DELIVER_SM_RESP
            answer: int | None = codec.ESME_ROK
            if self.on_deliver is not None:
                try:
                    answer = self.on_deliver(self, sm, Ack(self, self.generation, seq, resp_id))
                except Exception:
                    log.exception("%s: deliver_sm handler failed; asking the SMSC to redeliver", self.name)
                    answer = codec.ESME_RX_T_APPN
            if answer is not None:
                out.append(codec.pdu(resp_id, answer, seq, b"\x00"))
            return False
        if command_id == codec.ENQUIRE_LINK:
            self.stats.enquire_link_received += 1
            out.append(codec.pdu(codec.ENQUIRE_LINK_RESP, 0, seq))
            return False
        if command_id == codec.GENERIC_NACK:
            self.stats.generic_nack_received += 1
            self._nacks += 1
            entry = self.window.complete(seq)
            if entry is not None:
                self._submit_failed(entry[0], entry[1], status or codec.ESME_RINVCMDID)
            elif seq in self._requests:
                fut, _ = self._requests.pop(seq)
                if not fut.done():
                    fut.set_result((status or codec.ESME_RINVCMDID, b""))
            else:
                log.info("%s: generic_nack 0x%02X for unknown sequence %d", self.name, status, seq)
            if self._nacks >= self.config.max_nacks:
                log.warning("%s: %d generic_nacks in a row; rebinding", self.name, self._nacks)
                self._nacks = 0
                self._abort("repeated generic_nack")
            return entry is not None
        if command_id == codec.UNBIND:
            self.stats.unbinds_received += 1
            log.info("%s: the SMSC asked to unbind", self.name)
            self.bound.clear()
            self._write(b"".join(out) + codec.pdu(codec.UNBIND_RESP, 0, seq))
            out.clear()
            self.last_error = "unbound by the SMSC"
            if self._transport is not None:
                self._transport.close()
            return False
        if command_id & codec.RESPONSE_BIT:
            self._nacks = 0
            waiting = self._requests.pop(seq, None)
            if waiting is None:
                self.stats.unknown_responses += 1
            elif not waiting[0].done():
                waiting[0].set_result((status, body))
            return False
        if command_id in (codec.ALERT_NOTIFICATION, codec.OUTBIND):
            return False  # not answered (alert_notification) / not meaningful while bound (outbind)
        self.stats.generic_nack_sent += 1
        out.append(codec.pdu(codec.GENERIC_NACK, codec.ESME_RINVCMDID, seq))
        return False

    def _submit_failed(self, batch: Batch, slot: int, status: int) -> None:
        if status in SLOW_DOWN:
            self.stats.throttled += 1
            self._slow_down()
            if batch.again(slot):
                self.stats.resent += 1
                return
        self.stats.submit_error += 1
        batch.refused(slot, status)
        if lookup(status).cls is StatusClass.BIND:
            self._abort(f"SMSC says the bind is unhealthy ({lookup(status).name})")

    def _orphan(self, seq: int, status: int, body: bytes) -> None:
        late = self.window.late(seq)
        if late is None:
            self.stats.unknown_responses += 1
            log.debug("%s: submit_sm_resp for unknown sequence %d", self.name, seq)
            return
        self.stats.late_responses += 1
        if status == 0:
            try:
                message_id = codec.decode_message_id(body)
            except codec.CodecError:
                return
            late(message_id)

    def _slow_down(self) -> None:
        pause = self.window.throttled(time.monotonic())
        if pause is not None:
            log.info("%s: SMSC throttles; pausing %.2fs, window %d", self.name, pause, self.window.effective)

    # --- outgoing ------------------------------------------------------------

    def _next_seq(self) -> int:
        seq = self._seq + 1
        if seq > MAX_SEQ:
            seq = 1
        self._seq = seq
        return seq

    def _write(self, data: bytes) -> None:
        t = self._transport
        if t is not None:
            t.write(data)
            self._last_tx = time.monotonic()

    def request(self, command_id: int, body: bytes = b"") -> asyncio.Future[tuple[int, bytes]]:
        """Send a non-submit request; the future gets (command_status, body) of its response."""
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        if self._transport is None:
            fut.set_exception(TransportError(f"{self.name}: not connected"))
            return fut
        seq = self._next_seq()
        self._requests[seq] = (fut, command_id)
        self._write(codec.pdu(command_id, 0, seq, body))
        return fut

    def respond(self, acks: list[Ack], status: int) -> int:
        """Answer deliver_sm / data_sm held back earlier (``acks`` all of this session), in one write.

        Answers owed on an earlier connection are dropped: the SMSC redelivers
        those on the new bind. Returns how many were written.
        """
        if self._transport is None:
            return 0
        generation = self.generation
        pack = _HEADER_PACK
        parts = [pack(17, a.resp_id, status, a.seq) + b"\x00" for a in acks if a.generation == generation]
        if parts:
            self._write(b"".join(parts))
        return len(parts)

    def room(self) -> int:
        """How many submit_sm may be written now (0 when unbound, paused or the window is full)."""
        if not self.bound.is_set() or self._transport is None:
            return 0
        return self.window.room(time.monotonic)

    def pause_left(self) -> float:
        return self.window.pause_left(time.monotonic())

    def submit(self, batch: Batch, slots: list[int]) -> None:
        """Write submit_sm for ``slots`` in one write. The caller checked :meth:`room`."""
        written: dict[int, tuple[Batch, int]] = {}
        parts: list[bytes] = []
        append = parts.append
        seq = self._seq
        pack = _HEADER_PACK
        body_of = batch.body
        for slot in slots:
            seq += 1
            if seq > MAX_SEQ:
                seq = 1
            body = body_of(slot)
            append(pack(16 + len(body), _SUBMIT_SM, 0, seq))
            append(body)
            written[seq] = (batch, slot)
        self._seq = seq
        now = time.monotonic()
        self.window.offer(written, seq, now)
        self.stats.submit_sm += len(slots)
        assert self._transport is not None
        self._transport.write(b"".join(parts))
        self._last_tx = now

    def add_feed(self, batch: Batch, queue: deque[int]) -> None:
        self._feeds.append((batch, queue))

    def remove_feed(self, batch: Batch, queue: deque[int]) -> None:
        self._feeds = [f for f in self._feeds if f[1] is not queue]

    def _refill(self) -> None:
        room = self.room()
        if room <= 0:
            return
        for batch, queue in self._feeds:
            if queue:
                n = min(room, len(queue))
                popleft = queue.popleft
                self.submit(batch, [popleft() for _ in range(n)])
                room -= n
                if room <= 0:
                    return

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def wait_window(self, at_most: float | None = None) -> None:
        """Return when a response arrived, the link changed state, or ``at_most`` seconds passed."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, at_most)
        except TimeoutError:
            pass

    # --- timers --------------------------------------------------------------

    def _expire(self, now: float) -> None:
        """Give up on submit_sm unanswered past the response timeout: outcome unknown."""
        expired = self.window.expire(now, self._seq)
        if expired:
            reason = f"no submit_sm_resp within {self.config.response_timeout:g}s"
            for _seq, (batch, slot) in expired:
                batch.unknown(slot, reason)
            self.stats.timeouts += len(expired)
            log.warning("%s: %d submit_sm unanswered past the response timeout", self.name, len(expired))
            if now - self._last_rx >= self.config.response_timeout:
                self._abort("SMSC silent past the response timeout")
            self._wake()


def late_token(entry: tuple[Batch, int]) -> Callable[[str], None]:
    """What the window keeps for a given-up submit_sm: its batch's token for that slot."""
    return entry[0].late_token(entry[1])


# The names the sequence arithmetic had here before it moved to the window module.
_MAX_SEQ = MAX_SEQ
_seq_before = seq_before

MessagingErrorLike = AuthError | TransportError


def timeout_info(reason: str) -> ErrorInfo:
    return ErrorInfo(code=ErrorCode.TIMEOUT, native_message=reason)
