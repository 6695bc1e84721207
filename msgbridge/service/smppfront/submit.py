"""What a submit_sm, data_sm or submit_multi becomes: one or more texts for :meth:`Gateway.accept`.

Decoding is the shared codec's (``decode_sm``, ``decode_data_sm``, ``concat``) and the client's MO text
decoder (``adapters/smpp/mo.decode_payload``); nothing here parses octets itself.

Long messages. UDH (8- and 16-bit references), SAR TLVs and message_payload are all reassembled into one
text, which the chosen transport sends as it sends any text: an HTTP provider or SMTP gets it whole, an
SMPP upstream splits it again into its own segments (its own references). That is the minimal honest
version: nothing is forwarded before the whole message is durable. The parts of a message are answered
together, once the whole text is committed, each with an id of its own (``<message id>`` for a single
part, ``<message id>.<k>`` for part k of a long one), and a receipt goes back for every part id, as
SMSCs do for the segments they deliver. An ESME must therefore keep the parts of one message in its window
at once; parts whose siblings do not arrive within :data:`PARTS_TIMEOUT` are answered ESME_RSYSERR
(temporary: the ESME sends them again) and nothing of them is queued.

Idempotency. ``reference`` is ``<seq>.<bucket>.<digest>``, under the scope ``smpp@<system_id>``: the
sequence number of the (first) PDU, the :data:`RESEND_WINDOW` time bucket it arrived in and 12 hex digits
of a BLAKE2b of destination, source and octets. A resend of the same PDU in the same bucket finds the first
message (the store's unique key); one crossing into the next bucket is found in the process's memory of
recent submissions (:class:`Recent`). What is left: a resend that crosses a bucket boundary *and* a restart
of the process is queued a second time. Sequence numbers restart with every bind, so without the bucket a
repeated text to the same number with a reused sequence number would be dropped as a duplicate for good.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

from msgbridge.adapters.smpp.mo import concat_of, decode_payload
from msgbridge.smpp import codec

RESEND_WINDOW = 600.0  # seconds within which a resent submit_sm is recognised
PARTS_TIMEOUT = 30.0  # seconds the first part of a long message waits for the others
RECENT_MAX = 200_000


class Refused(Exception):
    """A PDU answered with ``status`` and nothing queued."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def _address(addr: str, ton: int) -> str:
    return f"+{addr}" if ton == 1 and addr.isdigit() else addr


@dataclass(slots=True)
class Part:
    """One decoded PDU: the text it carries (whole, or a part of one) and where it goes."""

    sequence: int
    to: str
    sender: str | None
    data: bytes
    data_coding: int
    registered_delivery: int
    concat: codec.Concat | None
    digest: str
    destination: int = 0  # its index among a submit_multi's destinations (0: any other PDU)
    address: tuple[int, int, str] | None = None  # submit_multi: (ton, npi, address) as written


def decode_submit(command_id: int, body: bytes, sequence: int) -> list[Part]:
    """submit_sm / data_sm -> one Part; submit_multi -> one Part per SME destination. Raises Refused."""
    try:
        if command_id == codec.SUBMIT_MULTI:
            return _decode_multi(body, sequence)
        sm = codec.decode_data_sm(body) if command_id == codec.DATA_SM else codec.decode_sm(body)
    except codec.CodecError as exc:
        raise Refused(exc.status, str(exc)) from None
    return [_part(sm, sm.destination_addr, sm.dest_addr_ton, sequence)]


def _part(
    sm: codec.ShortMessage,
    destination: str,
    ton: int,
    sequence: int,
    index: int = 0,
    address: tuple[int, int, str] | None = None,
) -> Part:
    try:
        concat, data = concat_of(sm)
    except codec.CodecError as exc:
        raise Refused(exc.status, str(exc)) from None
    if not destination:
        raise Refused(0x0B, "no destination_addr")  # ESME_RINVDSTADR
    to = _address(destination, ton)
    sender = _address(sm.source_addr, sm.source_addr_ton) or None
    digest = hashlib.blake2b(f"{to}\x00{sender}\x00".encode() + sm.payload, digest_size=6).hexdigest()
    return Part(
        sequence, to, sender, data, sm.data_coding, sm.registered_delivery, concat, digest, index, address
    )


def _decode_multi(body: bytes, sequence: int) -> list[Part]:
    """submit_multi (SMPP 3.4 §4.5.1): the destinations are read here, the rest is submit_sm's layout."""
    service_type, p = codec.read_cstr(body, 0, 6)
    if len(body) < p + 2:
        raise Refused(codec.ESME_RINVCMDLEN, "submit_multi body too short")
    src_ton, src_npi = body[p], body[p + 1]
    source, p = codec.read_cstr(body, p + 2, 21)
    if len(body) <= p:
        raise Refused(codec.ESME_RINVCMDLEN, "submit_multi body too short")
    count, p = body[p], p + 1
    if not 1 <= count <= 254:
        raise Refused(0x33, "number_of_dests must be 1-254")  # ESME_RINVNUMDESTS
    destinations: list[tuple[str, int, int]] = []
    for _ in range(count):
        if len(body) <= p:
            raise Refused(codec.ESME_RINVCMDLEN, "submit_multi destinations past the end")
        flag = body[p]
        if flag == 1:
            if len(body) <= p + 2:
                raise Refused(codec.ESME_RINVCMDLEN, "submit_multi destinations past the end")
            ton, npi = body[p + 1], body[p + 2]
            addr, p = codec.read_cstr(body, p + 3, 21)
            destinations.append((addr.decode("latin-1"), ton, npi))
        elif flag == 2:
            raise Refused(0x44, "distribution lists are not kept here")  # ESME_RCNTSUBDL
        else:
            raise Refused(0x40, f"dest_flag {flag}")  # ESME_RINVDESTFLAG
    # The rest is a submit_sm body from esm_class on: rebuild one with an empty destination to decode it.
    head = codec.cstr(service_type) + bytes((src_ton, src_npi)) + codec.cstr(source) + bytes((1, 1)) + b"\x00"
    try:
        sm = codec.decode_sm(head + body[p:])
    except codec.CodecError as exc:
        raise Refused(exc.status, str(exc)) from None
    return [
        _part(sm, addr, ton, sequence, i, (ton, npi, addr)) for i, (addr, ton, npi) in enumerate(destinations)
    ]


def text_of(data: bytes, data_coding: int) -> str:
    if data_coding in (codec.DC_BINARY, codec.DC_BINARY_2):
        raise Refused(0xC4, "binary data_coding is not sent as text")  # ESME_RINVOPTPARAMVAL
    return decode_payload(data, data_coding)


@dataclass(slots=True)
class Whole:
    """A complete message: its text, its parts' sequence numbers in order, and its idempotency reference."""

    to: str
    sender: str | None
    text: str
    sequences: list[int]
    registered_delivery: int
    reference: str
    digest: str  # of the whole: with the first sequence number, what names a resend (Recent)
    destination: int = 0  # Part.destination of its parts


@dataclass(slots=True)
class _Pending:
    first_seen: float
    total: int
    parts: dict[int, Part] = field(default_factory=dict)


class Assembler:
    """One account's long messages being put together; keyed as Kannel keys MO parts."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str | None, int, int], _Pending] = {}

    def add(self, part: Part, now: float) -> Whole | None:
        """The message ``part`` completes (or is, alone), or None while parts are missing. Raises Refused."""
        c = part.concat
        if c is None or c.total <= 1:
            return Whole(part.to, part.sender, text_of(part.data, part.data_coding), [part.sequence],
                         part.registered_delivery, reference(part.sequence, part.digest, now), part.digest,
                         part.destination)  # fmt: skip
        if not 1 <= c.seq <= c.total:
            raise Refused(codec.ESME_RINVMSGLEN, f"part {c.seq} of {c.total}")
        key = (part.to, part.sender, c.ref, c.total)
        pending = self._pending.setdefault(key, _Pending(now, c.total))
        pending.parts[c.seq] = part
        if len(pending.parts) < c.total:
            return None
        del self._pending[key]
        parts = [pending.parts[i] for i in range(1, c.total + 1)]
        text = text_of(b"".join(p.data for p in parts), parts[0].data_coding)
        digest = hashlib.blake2b("".join(p.digest for p in parts).encode(), digest_size=6).hexdigest()
        return Whole(part.to, part.sender, text, [p.sequence for p in parts], parts[0].registered_delivery,
                     reference(parts[0].sequence, digest, now), digest, part.destination)  # fmt: skip

    def expired(self, now: float) -> list[tuple[int, int]]:
        """(sequence number, destination) of the parts whose message did not complete in time (their sets
        are dropped); the destination tells a submit_multi's answer which of its destinations failed."""
        out: list[tuple[int, int]] = []
        for key, pending in list(self._pending.items()):
            if now - pending.first_seen > PARTS_TIMEOUT:
                del self._pending[key]
                out.extend((p.sequence, p.destination) for p in pending.parts.values())
        return out


def reference(sequence: int, digest: str, now: float) -> str:
    return f"{sequence}.{int(now // RESEND_WINDOW)}.{digest}"


class Recent:
    """One account's submissions of the last resend window, by (sequence, digest) -> message id: what finds
    a resend that arrives in the bucket after its original's (the store's key finds one in the same)."""

    def __init__(self) -> None:
        self._ids: OrderedDict[tuple[int, str], tuple[float, str]] = OrderedDict()

    def get(self, sequence: int, digest: str, now: float) -> str | None:
        hit = self._ids.get((sequence, digest))
        if hit is None or now - hit[0] > RESEND_WINDOW:
            return None
        return hit[1]

    def put(self, sequence: int, digest: str, message_id: str, now: float) -> None:
        self._ids[(sequence, digest)] = (now, message_id)
        self._ids.move_to_end((sequence, digest))
        while len(self._ids) > RECENT_MAX:
            self._ids.popitem(last=False)
