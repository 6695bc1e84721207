"""One ESME connection to the simulator: framing, the per-PDU rules and coalesced writes.

Why a protocol class and not streams: the simulator must not be the bottleneck
of a 100,000 submit_sm/s benchmark. ``data_received`` frames every complete
PDU in the buffer, answers them all and writes the answers once per read-loop
turn; submit_sm bodies are only checked on the hot path and decoded later, when
a receipt is due or a test reads ``SmscCore.submitted``.

The session keeps only what belongs to one connection (its buffers, sequence
numbers, bind state and unanswered deliver_sm); binds, stored messages,
receipts and the fault knobs are :class:`~msgbridge.simulators.smsc.core.SmscCore`'s,
reached through its public methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import TYPE_CHECKING

from msgbridge.simulators.smsc.core import Delivery, ReceiptDue
from msgbridge.simulators.smsc.receipts import OUTCOMES
from msgbridge.smpp.codec import (
    BIND_COMMANDS,
    BIND_RECEIVER,
    BIND_TRANSMITTER,
    CANCEL_SM,
    DATA_SM,
    DELIVER_SM,
    DELIVER_SM_RESP,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    ESME_RALYBND,
    ESME_RBINDFAIL,
    ESME_RINVBNDSTS,
    ESME_RINVCMDID,
    ESME_RINVCMDLEN,
    ESME_ROK,
    GENERIC_NACK,
    HEADER,
    QUERY_SM,
    QUERY_SM_RESP,
    REPLACE_SM,
    RESPONSE_BIT,
    SUBMIT_MULTI,
    SUBMIT_SM,
    SUBMIT_SM_RESP,
    UNBIND,
    UNBIND_RESP,
    CodecError,
    cstr,
    decode_bind,
    encode_bind_resp,
    frames,
    pdu,
    peek_registered_delivery,
    read_cstr,
)

if TYPE_CHECKING:
    from msgbridge.simulators.smsc.core import SmscCore

log = logging.getLogger(__name__)

_pack_header = HEADER.pack
_monotonic = time.monotonic
_HEADER_LEN = 16

# known commands the simulator does not implement: answered with their resp and ESME_RINVCMDID
UNSUPPORTED: frozenset[int] = frozenset({CANCEL_SM, REPLACE_SM, SUBMIT_MULTI, DATA_SM})
MODES: dict[int, str] = {BIND_TRANSMITTER: "tx", BIND_RECEIVER: "rx"}  # anything else binds "trx"


class SmscSession(asyncio.Protocol):
    """One ESME connection: it frames, answers and writes; everything it knows of other connections it asks ``core``."""

    def __init__(self, core: SmscCore) -> None:
        self.core = core
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.system_id = ""
        self.mode = ""  # "", "tx", "rx" or "trx"
        self.closed = False
        self._seq = 0
        self._wbuf: list[bytes] = []
        self._flush_scheduled = False
        self.unacked: dict[int, Delivery] = {}
        self._just_bound = False
        self.last_enquire = _monotonic()

    # --- asyncio.Protocol --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.core.connected(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.core.disconnected(self)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        try:
            pdus, used = frames(buf)
        except CodecError as exc:
            # The stream cannot be resynchronised: nack with sequence 0 and close (Kannel does the same).
            self.core.stats.malformed_received += 1
            self.core.stats.generic_nack_sent += 1
            log.warning("closing %s: %s", self.system_id or "unbound connection", exc)
            self.close(pdu(GENERIC_NACK, ESME_RINVCMDLEN, 0))
            return
        if used:
            del buf[:used]
        if pdus:
            self._handle(pdus)

    # --- writing -----------------------------------------------------------

    def next_sequence(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def queue(self, data: bytes) -> None:
        """Write at the end of this loop turn, together with everything else queued in it."""
        self._wbuf.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if self._wbuf and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self._wbuf))
        self._wbuf.clear()

    def write_now(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self, data: bytes = b"") -> None:
        """Send what is queued, then ``data``, then close."""
        self.flush()
        if self.transport is not None and not self.closed:
            if data:
                self.transport.write(data)
            self.transport.close()
        self.closed = True

    def abort(self) -> None:
        """Drop the link like a failing network: no unbind, unsent data lost."""
        self._wbuf.clear()
        if self.transport is not None and not self.closed:
            self.transport.abort()
        self.closed = True

    def send_deliver(self, delivery: Delivery) -> None:
        seq = self.next_sequence()
        self.unacked[seq] = delivery
        delivery.sent_at = _monotonic()
        body = delivery.body
        self.queue(_pack_header(_HEADER_LEN + len(body), DELIVER_SM, 0, seq) + body)

    # --- the read loop -----------------------------------------------------

    def _handle(self, pdus: list[tuple[int, int, int, bytes]]) -> None:
        core = self.core
        stats = core.stats
        out: list[bytes] = []
        late: list[bytes] = []
        receipts: list[ReceiptDue] = []
        drop = False
        close = False
        now = time.time()
        accept = core.accept
        for command_id, status, seq, body in pdus:
            if drop:
                break
            if self.mode and core.drop_every:
                drop = core.drop_due()
            if command_id == SUBMIT_SM:
                stats.submit_sm += 1
                if self.mode not in ("tx", "trx"):
                    stats.rejected_bind_state += 1
                    if not drop:  # the PDU the link drops on is never answered
                        out.append(_pack_header(_HEADER_LEN, SUBMIT_SM_RESP, ESME_RINVBNDSTS, seq))
                    continue
                try:
                    registered = peek_registered_delivery(body)
                except CodecError as exc:
                    stats.malformed_received += 1
                    if not drop:
                        out.append(_pack_header(_HEADER_LEN, SUBMIT_SM_RESP, exc.status, seq))
                    continue
                if not drop:
                    refusal = core.refusal()
                    if refusal:
                        out.append(_pack_header(_HEADER_LEN, SUBMIT_SM_RESP, refusal, seq))
                        continue
                message_id = accept(self.system_id, body)
                if registered & 0x03:
                    receipts.append((message_id, core.next_number - 1, body, now))
                if drop:
                    break
                if core.malformed_every and stats.submit_sm_ok % core.malformed_every == 0:
                    stats.malformed_sent += 1
                    out.append(core.malformed_pdu(seq))  # just ahead of its own answer
                resp = _pack_header(_HEADER_LEN + len(message_id) + 1, SUBMIT_SM_RESP, 0, seq)
                resp += message_id.encode() + b"\x00"
                if core.late_every and stats.submit_sm_ok % core.late_every == 0:
                    stats.late += 1
                    late.append(resp)
                else:
                    out.append(resp)
            elif drop:
                break
            elif command_id == DELIVER_SM_RESP:
                self._on_deliver_resp(status, seq)
            elif command_id == ENQUIRE_LINK:
                stats.enquire_link += 1
                out.append(_pack_header(_HEADER_LEN, ENQUIRE_LINK_RESP, 0, seq))
            elif command_id in BIND_COMMANDS:
                out.append(self._on_bind(command_id, seq, body))
            elif command_id == UNBIND:
                stats.unbinds += 1
                out.append(_pack_header(_HEADER_LEN, UNBIND_RESP, 0, seq))
                close = True
                break
            elif command_id == UNBIND_RESP:
                close = True
                break
            elif command_id == QUERY_SM:
                out.append(self._on_query(seq, body))
            elif command_id == GENERIC_NACK:
                stats.generic_nack_received += 1
                log.debug("generic_nack 0x%X for sequence %d", status, seq)
            elif command_id in UNSUPPORTED:
                out.append(_pack_header(_HEADER_LEN, command_id | RESPONSE_BIT, ESME_RINVCMDID, seq))
            elif command_id == ENQUIRE_LINK_RESP:
                stats.enquire_link_resp += 1
            elif command_id & RESPONSE_BIT:
                pass  # an answer to something the simulator never asked: nothing to do
            else:
                stats.unknown_commands += 1
                stats.generic_nack_sent += 1
                out.append(_pack_header(_HEADER_LEN, GENERIC_NACK, ESME_RINVCMDID, seq))

        if receipts:
            core.schedule_receipts(self.system_id, receipts)
        if drop:
            stats.dropped += 1
            # answers already collected in this turn may or may not reach the peer
            if out:
                self.write_now(b"".join(out))
            self.abort()
            return
        latency = core.latency_ms / 1000.0
        data = b"".join(out)
        just_bound, self._just_bound = self._just_bound, False
        if latency > 0:
            if data or close or just_bound:
                core.call_later(latency, self._emit, data, close, just_bound)
        else:
            if close:
                self.close(data)
            elif self._wbuf:
                self.queue(data)  # behind what this loop turn already queued (receipts, MO)
            elif data:
                self.write_now(data)  # one turn's answers are one write already
            if just_bound:  # waiting receipts and MO go out after the bind answer, never before it
                core.bound(self)
        if late:
            if core.hold_late:
                core.hold(self, b"".join(late))
            else:
                core.call_later(latency + core.late_ms / 1000.0, self.write_now, b"".join(late))

    def _emit(self, data: bytes, close: bool, just_bound: bool) -> None:
        """The delayed half of a read-loop turn when latency is injected."""
        if data:
            self.write_now(data)
        if just_bound:
            self.core.bound(self)
        if close:
            self.close()

    def _on_bind(self, command_id: int, seq: int, body: bytes) -> bytes:
        core = self.core
        resp_id = command_id | RESPONSE_BIT
        # a refusal still names the SMSC: some clients (smpp34) cannot parse a header-only bind_resp
        refused = encode_bind_resp(core.system_id, with_version=False)
        if self.mode:
            core.stats.bind_failures += 1
            return pdu(resp_id, ESME_RALYBND, seq, refused)
        try:
            bind = decode_bind(body)
        except CodecError:
            core.stats.bind_failures += 1
            core.stats.malformed_received += 1
            return pdu(resp_id, ESME_RBINDFAIL, seq, refused)
        status = core.bind_status(bind.system_id, bind.password)
        if status != ESME_ROK:
            core.stats.bind_failures += 1
            return pdu(resp_id, status, seq, refused)
        self.system_id = bind.system_id
        self.mode = MODES.get(command_id, "trx")
        core.stats.binds += 1
        self._just_bound = True
        return pdu(resp_id, ESME_ROK, seq, encode_bind_resp(core.system_id))

    def _on_deliver_resp(self, status: int, seq: int) -> None:
        delivery = self.unacked.pop(seq, None)
        if delivery is not None:
            self.core.answered(delivery, status)

    def _on_query(self, seq: int, body: bytes) -> bytes:
        self.core.stats.query_sm += 1
        if self.mode not in ("tx", "trx"):
            return pdu(QUERY_SM_RESP, ESME_RINVBNDSTS, seq)
        try:
            raw_id, _ = read_cstr(body, 0, 65)
        except CodecError:
            return pdu(QUERY_SM_RESP, ESME_RINVCMDLEN, seq)
        message_id = raw_id.decode("latin-1")
        state = self.core.message_state(message_id)
        if state is None:
            return pdu(QUERY_SM_RESP, 0x67, seq)  # ESME_RQUERYFAIL
        outcome, done = state
        final_date = done.strftime("%y%m%d%H%M%S") + "000+" if done else ""
        _stat, message_state, err = OUTCOMES[outcome]
        return pdu(
            QUERY_SM_RESP,
            ESME_ROK,
            seq,
            cstr(message_id) + cstr(final_date) + bytes((message_state, err & 0xFF)),
        )
