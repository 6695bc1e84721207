"""One ESME connection to the front: framing, binds, submits answered once committed, keepalive.

A protocol class, as the simulator's session (``simulators/smsc/session.py``): every complete PDU of a read
is handled in one turn, and the submits of that turn go to :meth:`Gateway.accept` as one batch (the
runtime's group commit merges batches of concurrent binds), so a window of 100 costs one commit, not 100.
A submit_sm_resp is written only after the commit returned: an OK means the message is in the outbox.

Writes are bounded: past :data:`WRITE_HIGH` octets the transport pauses us, and a reader that has not
drained within :data:`SLOW_READER_SECONDS` is dropped (what it had not acknowledged stays with the store).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from msgbridge.core.message import RECEIPT_ID
from msgbridge.service.contract import InvalidSubmission, Submission
from msgbridge.service.smppfront.accounts import Account, check_password
from msgbridge.service.smppfront.receipts import InFlight, target_for
from msgbridge.service.smppfront.status import COMMAND_STATUS
from msgbridge.service.smppfront.submit import Assembler, Part, Refused, Whole, decode_submit
from msgbridge.smpp import codec

if TYPE_CHECKING:
    from msgbridge.service.smppfront.server import SmppFront

log = logging.getLogger(__name__)

BIND_FAIL_DELAY = 1.0  # every refused bind is answered this long after it arrived (SmppFront.bind_fail_delay)
WRITE_HIGH = 256 * 1024
SLOW_READER_SECONDS = 10.0
MODES = {codec.BIND_TRANSMITTER: "tx", codec.BIND_RECEIVER: "rx", codec.BIND_TRANSCEIVER: "trx"}
SUBMITS = frozenset({codec.SUBMIT_SM, codec.DATA_SM, codec.SUBMIT_MULTI})


def _resp_id(command_id: int) -> int:
    return command_id | codec.RESPONSE_BIT


@dataclass(slots=True)
class Multi:
    """A submit_multi being answered. Every destination is a message of its own, decided apart (one may be
    refused, a bad number, while the others are queued), so the one submit_multi_resp waits for all of them:
    SMPP 3.4 §4.5.2 gives it one message_id and lists each destination not queued in unsuccess_sme.

    That one id is ``announced``: the id of the destination queued first (``SmppFront.accept`` queues one
    destination before the others). The others are queued carrying it (``RECEIPT_ID``), so every
    destination's receipt names the id the ESME was given, told apart by its source_addr, as an SMSC's are."""

    addresses: list[tuple[int, int, str]]  # (ton, npi, address) of each destination, as the ESME wrote them
    outcomes: dict[int, tuple[int, str]] = field(default_factory=dict)  # destination -> (status, our id)
    announced: str | None = None

    def answer(self) -> tuple[int, bytes]:
        """command_status and body: OK with the announced id and an unsuccess_sme (address,
        error_status_code) for each destination not queued; none queued: the first one's status, no body
        (as any refused submit is answered)."""
        outcomes = [self.outcomes[i] for i in range(len(self.addresses))]
        queued = [mid for status, mid in outcomes if status == codec.ESME_ROK]
        if not queued:
            return outcomes[0][0], b""
        failed = [
            bytes((ton, npi)) + codec.cstr(addr, 21) + struct.pack(">I", status)
            for (ton, npi, addr), (status, _) in zip(self.addresses, outcomes, strict=True)
            if status != codec.ESME_ROK
        ]
        announced = self.announced or queued[0]  # a resend answered from Recent queued nothing anew
        return codec.ESME_ROK, codec.encode_message_id(announced) + bytes((len(failed),)) + b"".join(failed)


class FrontSession(asyncio.Protocol):
    def __init__(self, front: SmppFront) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.buffer = bytearray()
        self.account: Account | None = None
        self.mode = ""
        self.closed = False
        self.binding = False
        self.in_window = 0  # submit PDUs read and not answered yet
        self.last_heard = self.connected_at = time.monotonic()
        self.enquires_unanswered = 0
        self.paused_at: float | None = None
        self._seq = 0
        self.assembler = Assembler()
        self.multis: dict[int, Multi] = {}  # sequence -> a submit_multi not answered yet
        self.unacked: dict[int, InFlight] = {}  # deliver_sm sequence -> the receipt it carries
        self._tasks: set[asyncio.Task[None]] = set()

    # --- asyncio.Protocol --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        with contextlib.suppress(AttributeError, NotImplementedError):
            transport.set_write_buffer_limits(high=self.front.write_high)  # type: ignore[attr-defined]
        self.front.connected(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.front.disconnected(self)

    def pause_writing(self) -> None:
        self.paused_at = time.monotonic()

    def resume_writing(self) -> None:
        self.paused_at = None

    def data_received(self, data: bytes) -> None:
        self.last_heard = time.monotonic()
        self.enquires_unanswered = 0
        buf = self.buffer
        buf += data
        try:
            pdus, used = codec.frames(buf)
        except codec.CodecError as exc:
            self.front.stats["generic_nack_sent"] += 1
            log.warning("closing %s: %s", self.name, exc)
            self.close(codec.pdu(codec.GENERIC_NACK, codec.ESME_RINVCMDLEN, 0))
            return
        del buf[:used]
        out: list[bytes] = []
        parts: list[Part] = []
        for command_id, status, seq, body in pdus:
            if command_id in SUBMITS:
                self._on_submit(command_id, seq, body, parts, out)
            elif command_id == codec.ENQUIRE_LINK:
                out.append(codec.pdu(codec.ENQUIRE_LINK_RESP, 0, seq))
            elif command_id == codec.ENQUIRE_LINK_RESP:
                pass
            elif command_id == codec.DELIVER_SM_RESP:
                self.front.deliver_answered(self, seq, status)
            elif command_id in codec.BIND_COMMANDS:
                self._on_bind(command_id, seq, body, out)
            elif command_id == codec.UNBIND:
                self.close(b"".join(out) + codec.pdu(codec.UNBIND_RESP, 0, seq))
                return
            elif command_id == codec.UNBIND_RESP:
                self.close(b"".join(out))
                return
            elif command_id == codec.GENERIC_NACK or command_id & codec.RESPONSE_BIT:
                pass
            elif (
                command_id in codec.COMMAND_NAMES
            ):  # known, not served here (query_sm, cancel_sm, replace_sm...)
                out.append(codec.pdu(_resp_id(command_id), codec.ESME_RINVCMDID, seq))
            else:
                self.front.stats["generic_nack_sent"] += 1
                out.append(codec.pdu(codec.GENERIC_NACK, codec.ESME_RINVCMDID, seq))
        if out:
            self.write(b"".join(out))
        if parts:
            self._spawn(self._submit(parts))

    # --- writing -----------------------------------------------------------

    @property
    def name(self) -> str:
        return f"{self.account.system_id if self.account else 'unbound'}@{self.peer}"

    def next_sequence(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self, data: bytes = b"") -> None:
        if self.transport is not None and not self.closed:
            if data:
                self.transport.write(data)
            self.transport.close()
        self.closed = True

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()
        self.closed = True

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- bind --------------------------------------------------------------

    def _on_bind(self, command_id: int, seq: int, body: bytes, out: list[bytes]) -> None:
        refused = codec.encode_bind_resp(self.front.system_id, with_version=False)
        if self.mode or self.binding:
            out.append(codec.pdu(_resp_id(command_id), codec.ESME_RALYBND, seq, refused))
            return
        try:
            bind = codec.decode_bind(body)
        except codec.CodecError:
            out.append(codec.pdu(_resp_id(command_id), codec.ESME_RBINDFAIL, seq, refused))
            return
        self.binding = True
        self._spawn(self._bind(command_id, seq, bind))

    async def _bind(self, command_id: int, seq: int, bind: codec.Bind) -> None:
        """Answer a bind; a refusal only ``front.bind_fail_delay`` after it arrived, whatever the reason.

        The source address is checked before the password: from outside an account's ``--allow`` networks
        every bind is ESME_RBINDFAIL, so a client there learns nothing about the password (no oracle to
        guess it from, which ``--allow`` exists to deny) and costs no scrypt work."""
        started = time.monotonic()
        front = self.front
        account = front.accounts.get(bind.system_id)
        if account is None:
            status = codec.ESME_RINVSYSID
        elif not account.allows(self.peer):
            status = codec.ESME_RBINDFAIL
        elif not await asyncio.to_thread(check_password, account, bind.password):
            status = codec.ESME_RINVPASWD
        elif front.bind_count(account.system_id) >= account.max_binds:
            status = codec.ESME_RBINDFAIL
        else:
            status = codec.ESME_ROK
        if status != codec.ESME_ROK:
            front.stats["bind_failures"] += 1
            await asyncio.sleep(max(0.0, front.bind_fail_delay - (time.monotonic() - started)))
            self.binding = False
            refused = codec.encode_bind_resp(front.system_id, with_version=False)
            self.write(codec.pdu(_resp_id(command_id), status, seq, refused))
            return
        assert account is not None
        self.account = account
        self.mode = MODES[command_id]
        self.binding = False
        self.write(
            codec.pdu(_resp_id(command_id), codec.ESME_ROK, seq, codec.encode_bind_resp(front.system_id))
        )
        front.bound(self)

    # --- submit ------------------------------------------------------------

    def _on_submit(self, command_id: int, seq: int, body: bytes, parts: list[Part], out: list[bytes]) -> None:
        resp = _resp_id(command_id)
        account = self.account
        if account is None or self.mode not in ("tx", "trx"):
            self.front.refused(codec.ESME_RINVBNDSTS)
            out.append(codec.pdu(resp, codec.ESME_RINVBNDSTS, seq))
            return
        reason = "window" if self.in_window >= account.window else "" if self.front.admit(account) else "tps"
        if reason:
            self.front.throttled(account.system_id, reason)
            out.append(codec.pdu(resp, codec.ESME_RTHROTTLED, seq))
            return
        try:
            decoded = decode_submit(command_id, body, seq)
        except Refused as exc:
            self.front.refused(exc.status)
            out.append(codec.pdu(resp, exc.status, seq))
            return
        if command_id == codec.SUBMIT_MULTI:
            if seq in self.multis:  # the same sequence again before its answer: it would take the first's
                self.front.refused(codec.ESME_RSYSERR)
                out.append(codec.pdu(resp, codec.ESME_RSYSERR, seq))
                return
            self.multis[seq] = Multi([p.address or (0, 0, "") for p in decoded])
        self.in_window += 1
        self.front.resp_ids[(id(self), seq)] = resp
        parts.extend(decoded)

    async def _submit(self, parts: list[Part]) -> None:
        now = time.time()
        wholes: list[Whole] = []
        answers: list[bytes] = []
        for part in parts:
            try:
                whole = self.assembler.add(part, now)
            except Refused as exc:
                answers += self._answer([part.sequence], exc.status, [], part.destination)
                continue
            if whole is not None:
                wholes.append(whole)
        if wholes:
            answers += await self.front.accept(self, wholes)
        if answers:
            self.write(b"".join(answers))

    def _answer(self, sequences: list[int], status: int, ids: list[str], destination: int = 0) -> list[bytes]:
        """The resps of ``sequences``, one message's parts. A submit_multi's is written once the outcome of
        its last destination (``destination``: which one this is) is known."""
        out = []
        for i, seq in enumerate(sequences):
            multi = self.multis.get(seq)
            if multi is not None:
                multi.outcomes[destination] = (status, ids[i] if status == codec.ESME_ROK else "")
                if len(multi.outcomes) < len(multi.addresses):
                    continue
                del self.multis[seq]
                answered, body = multi.answer()
            else:
                answered = status
                body = codec.encode_message_id(ids[i]) if status == codec.ESME_ROK else b""
            if answered != codec.ESME_ROK:
                self.front.refused(answered)
            resp = self.front.resp_ids.pop((id(self), seq), codec.SUBMIT_SM_RESP)
            self.in_window = max(0, self.in_window - 1)
            out.append(codec.pdu(resp, answered, seq, body))
        return out

    def expire_parts(self, now: float) -> None:
        answers: list[bytes] = []
        for seq, destination in self.assembler.expired(now):
            answers += self._answer([seq], codec.ESME_RSYSERR, [], destination)
        if answers:
            self.write(b"".join(answers))


def submission_of(whole: Whole, account: Account, receipt_id: str | None = None) -> Submission:
    """``whole`` as the gateway takes it; its receipt target is the account's ``smpp`` one, which the
    runtime accepts under this front's scope only (``validation.front_target_problem``). ``receipt_id``:
    the id its receipts name instead of its own (a submit_multi's, :class:`Multi`)."""
    target = target_for(account.system_id, whole.registered_delivery)
    parts = len(whole.sequences)
    return Submission(
        to=whole.to,
        text=whole.text,
        sender=whole.sender,
        reference=whole.reference if parts == 1 else f"{whole.reference}/{parts}",
        transport=account.transports[0] if account.transports else None,
        callback=target,
        options={RECEIPT_ID: receipt_id} if receipt_id is not None else {},
    )


def status_of(exc: InvalidSubmission, index: int) -> int:
    for e in exc.errors:
        if e.index == index:
            return COMMAND_STATUS[e.code]
    return codec.ESME_RSYSERR
