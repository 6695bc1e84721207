"""An SMPP 3.4 SMSC simulator: a real asyncio TCP server with fault knobs.

Why a protocol class and not streams: the simulator must not be the bottleneck
of a 100,000 submit_sm/s benchmark. ``data_received`` frames every complete
PDU in the buffer, answers them all and writes the answers once per read-loop
turn; submit_sm bodies are only checked on the hot path and decoded later, when
a receipt is due or a test reads :attr:`SmscSimulator.submitted`.

Every knob is a plain attribute and may be changed while the server runs.
Counting rules for the ``*_every`` knobs (each counts across all connections):

- ``throttle_every`` / ``queue_full_every``: every Nth submit_sm is refused
  with ESME_RTHROTTLED / ESME_RMSGQFUL and not recorded.
- ``drop_every``: the Nth PDU received from bound sessions (any command) closes
  the connection abruptly; if that PDU is a submit_sm it *is* accepted and
  recorded, but its answer is never sent (the client cannot know: a duplicate
  may follow if it resends).
- ``late_every`` / ``late_ms``: every Nth accepted submit_sm is answered
  ``late_ms`` after the others.
- ``malformed_every``: every Nth accepted submit_sm is preceded on the wire by
  a malformed PDU (from :data:`MALFORMED`, or ``malformed_factory`` if set).
- ``max_tps``: a token bucket over all sessions; submit_sm beyond it gets
  ESME_RTHROTTLED.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import random
import socket
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from msgbridge.adapters.smpp.codec import (
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
    ESME_RINVPASWD,
    ESME_RINVSYSID,
    ESME_RMSGQFUL,
    ESME_ROK,
    ESME_RSYSERR,
    ESME_RTHROTTLED,
    ESME_RX_T_APPN,
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
    decode_sm,
    encode_bind_resp,
    frames,
    pdu,
    read_cstr,
    read_tlvs,
)
from msgbridge.simulators.smsc.malformed import MALFORMED
from msgbridge.simulators.smsc.mo import mo_bodies
from msgbridge.simulators.smsc.receipts import (
    FAILURES,
    ID_FORMATS,
    OUTCOMES,
    RECEIPT_ID_FORMATS,
    RECEIPT_ID_STYLES,
    RECEIPT_MODES,
    receipt_body,
    receipt_id,
    smpp_date,
    submit_view,
)

log = logging.getLogger(__name__)

_pack_header = HEADER.pack
_monotonic = time.monotonic
HOUSEKEEPING_SECONDS = 0.05  # how often unanswered receipts and idle links are looked at
_HEADER_LEN = 16

# command_status values after which an SMSC keeps a deliver_sm and tries again (PROTOCOLS.md A4)
REDELIVER_STATUSES: frozenset[int] = frozenset({ESME_RX_T_APPN, ESME_RSYSERR, ESME_RMSGQFUL, ESME_RTHROTTLED})
# known commands the simulator does not implement: answered with their resp and ESME_RINVCMDID
UNSUPPORTED: frozenset[int] = frozenset({CANCEL_SM, REPLACE_SM, SUBMIT_MULTI, DATA_SM})
DEFAULT_DLR_MIX: dict[str, float] = {"delivered": 1.0}
NOT_FINAL: frozenset[str] = frozenset({"enroute", "accepted"})
MODES: dict[int, str] = {BIND_TRANSMITTER: "tx", BIND_RECEIVER: "rx"}  # anything else binds "trx"


@dataclass
class SmscStats:
    """Counters; ``cpu_seconds`` is this process's CPU time since the simulator was created."""

    connections: int = 0
    binds: int = 0
    bind_failures: int = 0
    unbinds: int = 0
    submit_sm: int = 0
    submit_sm_ok: int = 0
    throttled: int = 0
    queue_full: int = 0
    rejected_bind_state: int = 0
    dropped: int = 0
    late: int = 0
    receipts_sent: int = 0
    receipts_pending: int = 0
    redelivered: int = 0
    deliver_sm_resp: int = 0
    deliver_sm_refused: int = 0
    enquire_link: int = 0
    enquire_link_sent: int = 0
    enquire_link_resp: int = 0
    query_sm: int = 0
    malformed_sent: int = 0
    malformed_received: int = 0
    generic_nack_sent: int = 0
    generic_nack_received: int = 0
    unknown_commands: int = 0
    mo_sent: int = 0
    cpu_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class Submitted(NamedTuple):
    """One accepted submit_sm, as :attr:`SmscSimulator.submitted` reports it."""

    system_id: str
    message_id: str
    destination: str
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]


class _Delivery:
    """A deliver_sm on its way to the ESME: kept until deliver_sm_resp 0, resent after a drop."""

    __slots__ = ("body", "future", "sent_at", "system_id")

    def __init__(self, system_id: str, body: bytes, future: asyncio.Future[int] | None) -> None:
        self.system_id = system_id
        self.body = body
        self.future = future
        self.sent_at = 0.0


def _peek_registered_delivery(body: bytes) -> int:
    """Check a submit_sm body's layout and return registered_delivery, without building objects.

    Raises CodecError exactly where ``decode_sm`` would, so a body accepted here
    always decodes later.
    """
    index = body.index
    try:
        p = index(b"\x00", 0, 6) + 3
        p = index(b"\x00", p, p + 65) + 3
        p = index(b"\x00", p, p + 65) + 4
        p = index(b"\x00", p, p + 17) + 1
        p = index(b"\x00", p, p + 17) + 1
    except ValueError:
        raise CodecError("unterminated C-string in submit_sm") from None
    if len(body) < p + 5:
        raise CodecError("submit_sm body too short")
    sm_end = p + 5 + body[p + 4]
    if len(body) < sm_end:
        raise CodecError("sm_length past the end of the PDU", 0x01)
    if sm_end < len(body):
        read_tlvs(body, sm_end)
    return body[p]


class SmscSession(asyncio.Protocol):
    """One ESME connection."""

    def __init__(self, sim: SmscSimulator) -> None:
        self.sim = sim
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.system_id = ""
        self.mode = ""  # "", "tx", "rx" or "trx"
        self.closed = False
        self._seq = 0
        self._wbuf: list[bytes] = []
        self._flush_scheduled = False
        self.unacked: dict[int, _Delivery] = {}
        self._just_bound = False
        self.last_enquire = _monotonic()

    # --- asyncio.Protocol --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sim._sessions.add(self)
        self.sim.stats.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.sim._session_gone(self)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        try:
            pdus, used = frames(buf)
        except CodecError as exc:
            # The stream cannot be resynchronised: nack with sequence 0 and close (Kannel does the same).
            self.sim.stats.malformed_received += 1
            self.sim.stats.generic_nack_sent += 1
            log.warning("closing %s: %s", self.system_id or "unbound connection", exc)
            self._close_after(pdu(GENERIC_NACK, ESME_RINVCMDLEN, 0))
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
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._wbuf and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self._wbuf))
        self._wbuf.clear()

    def _write_now(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def _close_after(self, data: bytes = b"") -> None:
        self._flush()
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

    def send_deliver(self, delivery: _Delivery) -> None:
        seq = self.next_sequence()
        self.unacked[seq] = delivery
        delivery.sent_at = _monotonic()
        body = delivery.body
        self.queue(_pack_header(_HEADER_LEN + len(body), DELIVER_SM, 0, seq) + body)

    # --- the read loop -----------------------------------------------------

    def _handle(self, pdus: list[tuple[int, int, int, bytes]]) -> None:
        sim = self.sim
        stats = sim.stats
        out: list[bytes] = []
        late: list[bytes] = []
        receipts: list[tuple[str, int, bytes, float]] = []
        drop = False
        close = False
        now = time.time()
        for command_id, status, seq, body in pdus:
            if self.mode and sim.drop_every:
                sim._received += 1
                drop = sim._received % sim.drop_every == 0
            if command_id == SUBMIT_SM:
                stats.submit_sm += 1
                if self.mode not in ("tx", "trx"):
                    stats.rejected_bind_state += 1
                    out.append(_pack_header(_HEADER_LEN, SUBMIT_SM_RESP, ESME_RINVBNDSTS, seq))
                    continue
                try:
                    registered = _peek_registered_delivery(body)
                except CodecError as exc:
                    stats.malformed_received += 1
                    out.append(_pack_header(_HEADER_LEN, SUBMIT_SM_RESP, exc.status, seq))
                    continue
                if not drop:
                    refusal = sim._refusal()
                    if refusal:
                        out.append(_pack_header(_HEADER_LEN, SUBMIT_SM_RESP, refusal, seq))
                        continue
                number = sim._next_id
                sim._next_id = number + 1
                message_id = f"{number:X}" if sim._hex_ids else str(number)
                stats.submit_sm_ok += 1
                if sim.record:
                    sim._raw.append((self.system_id, message_id, body))
                if registered & 0x03:
                    receipts.append((message_id, number, body, now))
                if drop:
                    break
                if sim.malformed_every and stats.submit_sm_ok % sim.malformed_every == 0:
                    stats.malformed_sent += 1
                    out.append(sim._malformed(seq))  # just ahead of its own answer
                resp = _pack_header(_HEADER_LEN + len(message_id) + 1, SUBMIT_SM_RESP, 0, seq)
                resp += message_id.encode() + b"\x00"
                if sim.late_every and stats.submit_sm_ok % sim.late_every == 0:
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
                pass  # an answer to something we never asked (or enquire_link_resp): nothing to do
            else:
                stats.unknown_commands += 1
                stats.generic_nack_sent += 1
                out.append(_pack_header(_HEADER_LEN, GENERIC_NACK, ESME_RINVCMDID, seq))

        if receipts:
            sim._schedule_receipts(self.system_id, receipts)
        if drop:
            stats.dropped += 1
            # answers already collected in this turn may or may not reach the peer
            if out:
                self._write_now(b"".join(out))
            self.abort()
            return
        latency = sim.latency_ms / 1000.0
        data = b"".join(out)
        just_bound, self._just_bound = self._just_bound, False
        if latency > 0:
            sim._later(asyncio.get_running_loop().call_later(latency, self._emit, data, close, just_bound))
        else:
            if close:
                self._close_after(data)
            elif self._wbuf:
                self.queue(data)  # behind what this loop turn already queued (receipts, MO)
            elif data:
                self._write_now(data)  # one turn's answers are one write already
            if just_bound:  # waiting receipts and MO go out after the bind answer, never before it
                sim._bound(self)
        if late:
            loop = asyncio.get_running_loop()
            sim._later(loop.call_later(latency + sim.late_ms / 1000.0, self._write_now, b"".join(late)))

    def _emit(self, data: bytes, close: bool, just_bound: bool) -> None:
        """The delayed half of a read-loop turn when latency is injected."""
        if data:
            self._write_now(data)
        if just_bound:
            self.sim._bound(self)
        if close:
            self._close_after()

    def _on_bind(self, command_id: int, seq: int, body: bytes) -> bytes:
        sim = self.sim
        resp_id = command_id | RESPONSE_BIT
        # a refusal still names the SMSC: some clients (smpp34) cannot parse a header-only bind_resp
        refused = encode_bind_resp(sim.system_id, with_version=False)
        if self.mode:
            sim.stats.bind_failures += 1
            return pdu(resp_id, ESME_RALYBND, seq, refused)
        try:
            bind = decode_bind(body)
        except CodecError:
            sim.stats.bind_failures += 1
            sim.stats.malformed_received += 1
            return pdu(resp_id, ESME_RBINDFAIL, seq, refused)
        status = ESME_ROK
        if sim.users is not None:
            password = sim.users.get(bind.system_id)
            if password is None:
                status = ESME_RINVSYSID
            elif password != bind.password:
                status = ESME_RINVPASWD
        if status == ESME_ROK and sim.max_binds and sim._bound_count(bind.system_id) >= sim.max_binds:
            status = ESME_RBINDFAIL
        if status != ESME_ROK:
            sim.stats.bind_failures += 1
            return pdu(resp_id, status, seq, refused)
        self.system_id = bind.system_id
        self.mode = MODES.get(command_id, "trx")
        sim.stats.binds += 1
        self._just_bound = True
        return pdu(resp_id, ESME_ROK, seq, encode_bind_resp(sim.system_id))

    def _on_deliver_resp(self, status: int, seq: int) -> None:
        delivery = self.unacked.pop(seq, None)
        if delivery is None:
            return
        sim = self.sim
        if status == ESME_ROK:
            sim.stats.deliver_sm_resp += 1
            if delivery.future is not None and not delivery.future.done():
                delivery.future.set_result(status)
        elif status in REDELIVER_STATUSES:
            sim._redeliver_later(delivery)
        else:
            sim.stats.deliver_sm_refused += 1
            if delivery.future is not None and not delivery.future.done():
                delivery.future.set_result(status)

    def _on_query(self, seq: int, body: bytes) -> bytes:
        self.sim.stats.query_sm += 1
        if self.mode not in ("tx", "trx"):
            return pdu(QUERY_SM_RESP, ESME_RINVBNDSTS, seq)
        try:
            raw_id, _ = read_cstr(body, 0, 65)
        except CodecError:
            return pdu(QUERY_SM_RESP, ESME_RINVCMDLEN, seq)
        message_id = raw_id.decode("latin-1")
        state = self.sim._states.get(message_id)
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


class SmscServer:
    """A running simulator: ``port`` is the real port when bound to 0."""

    def __init__(self, sim: SmscSimulator, server: asyncio.Server) -> None:
        self.sim = sim
        self.server = server
        sockname = server.sockets[0].getsockname()
        self.host: str = sockname[0]
        self.port: int = sockname[1]


class SmscSimulator:
    """A fault-injecting SMSC. See the module docstring for how the knobs count."""

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        latency_ms: float = 0.0,
        dlr_delay_ms: float = 100.0,
        dlr_mix: Mapping[str, float] | None = None,
        dlr_by_destination: Mapping[str, str] | None = None,
        seed: int | None = None,
        id_format: str = "hex",
        receipt_id_format: str = "same",
        receipt_id_style: str = "plain",
        receipt_mode: str = "text+tlv",
        dlr_before_resp: bool = False,
        throttle_every: int = 0,
        queue_full_every: int = 0,
        drop_every: int = 0,
        late_every: int = 0,
        late_ms: float = 0.0,
        max_tps: float = 0.0,
        malformed_every: int = 0,
        malformed_factory: Callable[[int], bytes] | None = None,
        max_binds: int = 0,
        redeliver_delay_ms: float = 200.0,
        deliver_timeout_ms: float = 0.0,
        enquire_link_ms: float = 0.0,
        record: bool = True,
        system_id: str = "msgbridge-sim",
        id_start: int | None = None,
    ) -> None:
        self.users: dict[str, str] | None = dict(users) if users is not None else None
        self.latency_ms = latency_ms
        self.dlr_delay_ms = dlr_delay_ms
        self.dlr_mix: dict[str, float] = dict(dlr_mix or DEFAULT_DLR_MIX)
        self.dlr_by_destination: dict[str, str] = dict(dlr_by_destination or {})
        self.receipt_id_format = receipt_id_format
        self.receipt_id_style = receipt_id_style
        self.receipt_mode = receipt_mode
        self.dlr_before_resp = dlr_before_resp
        self.throttle_every = throttle_every
        self.queue_full_every = queue_full_every
        self.drop_every = drop_every
        self.late_every = late_every
        self.late_ms = late_ms
        self.max_tps = max_tps
        self.malformed_every = malformed_every
        self.malformed_factory = malformed_factory
        self.max_binds = max_binds
        self.redeliver_delay_ms = redeliver_delay_ms
        self.deliver_timeout_ms = deliver_timeout_ms
        self.enquire_link_ms = enquire_link_ms
        self.record = record
        self.system_id = system_id
        self.id_format = id_format
        self._check_options()

        self.stats = SmscStats()
        self.rng = random.Random(seed)
        self._next_id = id_start if id_start is not None else self.rng.randrange(0x10000000, 0x40000000)
        self._cpu0 = time.process_time()
        self._sessions: set[SmscSession] = set()
        self._receivers: dict[str, deque[SmscSession]] = defaultdict(deque)
        self._undelivered: dict[str, deque[_Delivery]] = defaultdict(deque)
        self._raw: list[tuple[str, str, bytes]] = []
        self._decoded: list[Submitted] = []
        self._states: dict[str, tuple[str, datetime | None]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._received = 0
        self._submits_seen = 0
        self._malformed_count = 0
        self._mo_ref = 0
        self._bucket_tokens = 0.0
        self._bucket_stamp = 0.0
        self._bucket_rate = 0.0
        self.server: SmscServer | None = None
        self._housekeeper: asyncio.Task[None] | None = None

    # --- configuration ---------------------------------------------------

    @property
    def id_format(self) -> str:
        return self._id_format

    @id_format.setter
    def id_format(self, value: str) -> None:
        if value not in ID_FORMATS:
            raise ValueError(f"unknown id format {value!r}; expected one of {ID_FORMATS}")
        self._id_format = value
        self._hex_ids = value == "hex"

    def _check_options(self) -> None:
        if self.receipt_id_format not in RECEIPT_ID_FORMATS:
            raise ValueError(f"receipt_id_format must be one of {RECEIPT_ID_FORMATS}")
        if self.receipt_id_style not in RECEIPT_ID_STYLES:
            raise ValueError(f"receipt_id_style must be one of {RECEIPT_ID_STYLES}")
        if self.receipt_mode not in RECEIPT_MODES:
            raise ValueError(f"receipt_mode must be one of {RECEIPT_MODES}")
        unknown = (set(self.dlr_mix) | set(self.dlr_by_destination.values())) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown receipt outcome(s) {sorted(unknown)}; known: {sorted(OUTCOMES)}")
        if not self.dlr_mix or sum(self.dlr_mix.values()) <= 0:
            raise ValueError("dlr_mix needs at least one positive weight")

    @property
    def port(self) -> int:
        if self.server is None:
            raise RuntimeError("the simulator is not serving")
        return self.server.port

    @property
    def host(self) -> str:
        if self.server is None:
            raise RuntimeError("the simulator is not serving")
        return self.server.host

    def snapshot(self) -> dict[str, float]:
        self.stats.cpu_seconds = time.process_time() - self._cpu0
        self.stats.receipts_pending = sum(len(q) for q in self._undelivered.values()) + sum(
            len(s.unacked) for s in self._sessions
        )
        return self.stats.as_dict()

    @property
    def submitted(self) -> list[Submitted]:
        """Every accepted submit_sm in arrival order (decoded on first access)."""
        for system_id, message_id, body in self._raw[len(self._decoded) :]:
            m = decode_sm(body)
            self._decoded.append(
                Submitted(
                    system_id, message_id, m.destination_addr, m.esm_class, m.data_coding, m.payload, m.tlvs
                )
            )
        return list(self._decoded)

    # --- serving -----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[SmscServer]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SmscSession(self), host, port, reuse_address=True)
        self.server = SmscServer(self, server)
        self._housekeeper = loop.create_task(self._housekeeping())
        log.info("SMSC simulator listening on %s:%d", self.server.host, self.server.port)
        try:
            yield self.server
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Unbind every session, close the listener and cancel pending timers."""
        if self.server is None:
            return
        server = self.server.server
        server.close()
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for session in list(self._sessions):
            if session.mode and not session.closed:
                session._write_now(pdu(UNBIND, 0, session.next_sequence()))
            session._close_after()
        await server.wait_closed()
        self.server = None

    def drop_all(self) -> int:
        """Abort every connection now (a network failure on demand); returns how many."""
        sessions = [s for s in self._sessions if not s.closed]
        for session in sessions:
            session.abort()
        self.stats.dropped += len(sessions)
        return len(sessions)

    def inject(self, data: bytes, system_id: str | None = None) -> int:
        """Write raw bytes to every bound session (of ``system_id`` if given); returns how many."""
        n = 0
        for session in list(self._sessions):
            if session.mode and not session.closed and (system_id is None or session.system_id == system_id):
                session.queue(data)
                n += 1
        return n

    async def _housekeeping(self) -> None:
        """Resend receipts nobody answered within ``deliver_timeout_ms``; send enquire_link every ``enquire_link_ms``."""
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            now = _monotonic()
            if self.deliver_timeout_ms > 0:
                limit = now - self.deliver_timeout_ms / 1000.0
                for session in list(self._sessions):
                    stale = []
                    for seq, delivery in session.unacked.items():  # oldest first
                        if delivery.sent_at > limit:
                            break
                        stale.append(seq)
                    for seq in stale:
                        self.stats.redelivered += 1
                        self._deliver(session.unacked.pop(seq))
            if self.enquire_link_ms > 0:
                interval = self.enquire_link_ms / 1000.0
                for session in list(self._sessions):
                    if session.mode and not session.closed and now - session.last_enquire >= interval:
                        session.last_enquire = now
                        self.stats.enquire_link_sent += 1
                        session.queue(pdu(ENQUIRE_LINK, 0, session.next_sequence()))

    def _later(self, handle: asyncio.TimerHandle) -> None:
        """Remember a timer so stop() can cancel it; forget the ones that have fired."""
        self._timers.add(handle)
        if len(self._timers) > 1024:
            now = asyncio.get_running_loop().time()
            self._timers = {t for t in self._timers if not t.cancelled() and t.when() > now}

    # --- session bookkeeping --------------------------------------------

    def _bound_count(self, system_id: str) -> int:
        return sum(1 for s in self._sessions if s.system_id == system_id and s.mode and not s.closed)

    def _bound(self, session: SmscSession) -> None:
        if session.mode in ("rx", "trx"):
            self._receivers[session.system_id].append(session)
            waiting = self._undelivered.pop(session.system_id, None)
            if waiting:
                for delivery in waiting:
                    self._deliver(delivery)

    def _session_gone(self, session: SmscSession) -> None:
        self._sessions.discard(session)
        receivers = self._receivers.get(session.system_id)
        if receivers and session in receivers:
            receivers.remove(session)
        if session.unacked:
            # unanswered deliver_sm are kept and sent again on the next bind
            self.stats.redelivered += len(session.unacked)
            for delivery in session.unacked.values():
                self._deliver(delivery)
            session.unacked.clear()

    def _deliver(self, delivery: _Delivery) -> None:
        receivers = self._receivers.get(delivery.system_id)
        while receivers:
            session = receivers[0]
            receivers.rotate(-1)
            if not session.closed:
                session.send_deliver(delivery)
                return
            receivers.remove(session)
        self._undelivered[delivery.system_id].append(delivery)

    def _redeliver_later(self, delivery: _Delivery) -> None:
        self.stats.redelivered += 1
        if self.server is None:
            self._undelivered[delivery.system_id].append(delivery)
            return
        loop = asyncio.get_running_loop()
        self._later(loop.call_later(self.redeliver_delay_ms / 1000.0, self._deliver, delivery))

    # --- submit_sm policy ------------------------------------------------

    def _refusal(self) -> int:
        """ESME_ROK, or the status this submit_sm is refused with."""
        self._submits_seen += 1
        n = self._submits_seen
        if self.throttle_every and n % self.throttle_every == 0:
            self.stats.throttled += 1
            return ESME_RTHROTTLED
        if self.queue_full_every and n % self.queue_full_every == 0:
            self.stats.queue_full += 1
            return ESME_RMSGQFUL
        if self.max_tps > 0 and not self._take_token():
            self.stats.throttled += 1
            return ESME_RTHROTTLED
        return ESME_ROK

    def _take_token(self) -> bool:
        now = time.monotonic()
        rate = float(self.max_tps)
        burst = max(1.0, rate / 10.0)
        if rate != self._bucket_rate:
            self._bucket_rate = rate
            self._bucket_tokens = burst
            self._bucket_stamp = now
        self._bucket_tokens = min(burst, self._bucket_tokens + (now - self._bucket_stamp) * rate)
        self._bucket_stamp = now
        if self._bucket_tokens >= 1.0:
            self._bucket_tokens -= 1.0
            return True
        return False

    def _malformed(self, seq: int) -> bytes:
        if self.malformed_factory is not None:
            return self.malformed_factory(seq)
        builders = list(MALFORMED.values())
        builder = builders[self._malformed_count % len(builders)]
        self._malformed_count += 1
        return builder(seq)

    # --- receipts --------------------------------------------------------

    def _outcome_picker(self) -> Callable[[bytes], str]:
        """Outcome by destination override, else drawn from ``dlr_mix``; built once per receipt batch."""
        fixed = {k.encode("latin-1"): v for k, v in self.dlr_by_destination.items()}
        names = list(self.dlr_mix)
        cumulative = list(itertools.accumulate(self.dlr_mix[n] for n in names))
        total = cumulative[-1]
        rand = self.rng.random
        only = names[0] if len(names) == 1 else None

        def pick(destination: bytes) -> str:
            if fixed:
                chosen = fixed.get(destination)
                if chosen is not None:
                    return chosen
            if only is not None:
                return only
            return names[min(bisect.bisect_right(cumulative, rand() * total), len(names) - 1)]

        return pick

    def _schedule_receipts(self, system_id: str, batch: list[tuple[str, int, bytes, float]]) -> None:
        if self.dlr_before_resp:
            self._send_receipts(system_id, batch)
            for session in self._receivers.get(system_id, ()):  # receipts first on the wire
                session._flush()
            return
        loop = asyncio.get_running_loop()
        self._later(loop.call_later(self.dlr_delay_ms / 1000.0, self._send_receipts, system_id, batch))

    def _send_receipts(self, system_id: str, batch: list[tuple[str, int, bytes, float]]) -> None:
        done = datetime.now(UTC)
        done_date = smpp_date(done)
        pick = self._outcome_picker()
        deliver = self._deliver
        receipts_sent = 0
        submit_dates: dict[float, str] = {}  # a batch shares one arrival time: format it once
        id_format, rid_format, rid_style, mode = (
            self.id_format,
            self.receipt_id_format,
            self.receipt_id_style,
            self.receipt_mode,
        )
        for message_id, number, body, submitted_at in batch:
            try:
                view = submit_view(body)
            except CodecError:  # checked on arrival; cannot happen, but a receipt is not worth a crash
                log.exception("undecodable submit_sm %s", message_id)
                continue
            outcome = pick(view.destination)
            if self.record:
                self._states[message_id] = (outcome, None if outcome in NOT_FINAL else done)
            if view.registered_delivery & 0x03 == 0x02 and outcome not in FAILURES:
                continue
            submit_date = submit_dates.get(submitted_at)
            if submit_date is None:
                submit_date = submit_dates[submitted_at] = smpp_date(
                    datetime.fromtimestamp(submitted_at, UTC)
                )
            rid = receipt_id(number, id_format, rid_format, rid_style)
            body_out = receipt_body(view, rid, outcome, submit_date, done_date, mode)
            receipts_sent += 1
            deliver(_Delivery(system_id, body_out, None))
        self.stats.receipts_sent += receipts_sent

    # --- mobile-originated messages -------------------------------------

    async def send_mo(
        self,
        *,
        system_id: str,
        source: str,
        destination: str,
        text: str,
        concat: str | None = None,
        coding: str = "auto",
        raw_split: bool = False,
        order: str = "forward",
        wait: bool = True,
        wait_seconds: float = 5.0,
    ) -> list[int]:
        """Send an MO message to a receiver bound as ``system_id``.

        Parts go out in ``order`` ("forward", "reverse" or "shuffle", seeded),
        so reassembly out of order can be tested. With ``wait`` it returns each
        part's deliver_sm_resp command_status; if no receiver is bound, parts
        wait for one (and ``wait`` may time out).
        """
        self._mo_ref = self._mo_ref % 0xFFFF + 1
        ref = self._mo_ref if concat == "udh16" else (self._mo_ref % 0xFF) + 1
        bodies = mo_bodies(
            source, destination, text, concat=concat, coding=coding, ref=ref, raw_split=raw_split
        )
        if order == "reverse":
            bodies.reverse()
        elif order == "shuffle":
            self.rng.shuffle(bodies)
        elif order != "forward":
            raise ValueError("order must be forward, reverse or shuffle")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[int]] = []
        for body in bodies:
            future: asyncio.Future[int] = loop.create_future()
            futures.append(future)
            self.stats.mo_sent += 1
            self._deliver(_Delivery(system_id, body, future))
        if not wait:
            return []
        return list(await asyncio.wait_for(asyncio.gather(*futures), wait_seconds))


def parse_users(spec: str) -> dict[str, str]:
    """``u:p[,u2:p2]`` -> {"u": "p", "u2": "p2"}."""
    users: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise ValueError(f"user {item!r}: expected system_id:password")
        users[name] = password
    return users


def parse_mix(spec: str) -> dict[str, float]:
    """``delivered=0.9,undeliverable=0.1`` -> weights by outcome name."""
    mix: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, weight = item.partition("=")
        if not sep or name not in OUTCOMES:
            raise ValueError(
                f"dlr mix entry {item!r}: expected OUTCOME=WEIGHT with OUTCOME in {sorted(OUTCOMES)}"
            )
        mix[name] = float(weight)
    return mix
