"""submit_sm, deliver_sm and data_sm bodies: the field layout declared once, and what is built from it.

The encoder, the decoders and the simulator's peek all follow
:data:`SM_LAYOUT` (SMPP 3.4 §4.4.1, §4.6.1, §4.7.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from functools import partial
from typing import cast

from msgbridge.smpp.pdu import (
    ESM_DELIVERY_RECEIPT,
    ESM_TYPE_MASK,
    ESME_RINVCMDLEN,
    ESME_RINVMSGLEN,
    TLV_MESSAGE_PAYLOAD,
    CodecError,
    cstr,
    read_tlvs,
    tlv,
)

# --- submit_sm / deliver_sm --------------------------------------------------


@dataclass(slots=True)
class ShortMessage:
    """submit_sm and deliver_sm share one body layout (SMPP 3.4 §4.4, §4.6)."""

    source_addr: str = ""
    destination_addr: str = ""
    short_message: bytes = b""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 1
    dest_addr_npi: int = 1
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    service_type: str = ""
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def payload(self) -> bytes:
        """The message octets: short_message, or message_payload when sm_length is 0."""
        if not self.short_message and TLV_MESSAGE_PAYLOAD in self.tlvs:
            return self.tlvs[TLV_MESSAGE_PAYLOAD]
        return self.short_message

    @property
    def is_receipt(self) -> bool:
        return (self.esm_class & ESM_TYPE_MASK) == ESM_DELIVERY_RECEIPT


# The submit_sm / deliver_sm body up to sm_length, in order (SMPP 3.4 §4.4.1, §4.6.1), declared once:
# (field, size) with size 0 for a one-octet integer, else a C-Octet String of at most size octets with its NUL.
# encode_sm and the transport's cached submit_sm pieces (adapters/smpp/operations.py) are built from it.
SM_LAYOUT: tuple[tuple[str, int], ...] = (
    ("service_type", 6),
    ("source_addr_ton", 0),
    ("source_addr_npi", 0),
    ("source_addr", 21),
    ("dest_addr_ton", 0),
    ("dest_addr_npi", 0),
    ("destination_addr", 21),
    ("esm_class", 0),
    ("protocol_id", 0),
    ("priority_flag", 0),
    ("schedule_delivery_time", 17),
    ("validity_period", 17),
    ("registered_delivery", 0),
    ("replace_if_present_flag", 0),
    ("data_coding", 0),
    ("sm_default_msg_id", 0),
)
_SM_INDEX = {name: i for i, (name, _) in enumerate(SM_LAYOUT)}


def encode_fields(first: str, last: str, value_of: Callable[[str], str | int]) -> bytes:
    """The octets of the SM_LAYOUT fields ``first`` to ``last`` (both included), each value from ``value_of``."""
    out: list[bytes] = []
    for name, size in SM_LAYOUT[_SM_INDEX[first] : _SM_INDEX[last] + 1]:
        value = value_of(name)
        if size:
            if not isinstance(value, str):
                raise CodecError(f"{name} is a C-Octet String, not {value!r}")
            out.append(cstr(value, size))
        else:
            if not isinstance(value, int):
                raise CodecError(f"{name} is an integer, not {value!r}")
            out.append(bytes((value,)))
    return b"".join(out)


def encode_sm(m: ShortMessage, extra_tlvs: bytes = b"") -> bytes:
    if len(m.short_message) > 254:
        raise CodecError("short_message longer than 254 octets; use message_payload", ESME_RINVMSGLEN)
    tlvs = extra_tlvs + b"".join(tlv(tag, value) for tag, value in m.tlvs.items())
    fields = encode_fields("service_type", "sm_default_msg_id", partial(getattr, m))
    return b"".join((fields, bytes((len(m.short_message),)), m.short_message, tlvs))


# C-strings the decoders read longer than SM_LAYOUT lets the encoder write: addresses up to 65 octets,
# as data_sm carries them (SMPP 3.4 §4.7.1), so a long address is read rather than refused.
SM_READ_LIMITS: dict[str, int] = {"source_addr": 65, "destination_addr": 65}


def sm_cstrings(layout: tuple[tuple[str, int], ...] = SM_LAYOUT) -> tuple[tuple[str, int, int], ...]:
    """(C-string field, most octets read with its NUL, one-octet fields after it up to the next C-string)."""
    out: list[tuple[str, int, int]] = []
    for name, size in layout:
        if size:
            out.append((name, SM_READ_LIMITS.get(name, size), 0))
        elif out:
            last, limit, fixed = out[-1]
            out[-1] = (last, limit, fixed + 1)
    # the one-octet fields after the last C-string are SM_FIXED_TAIL, read apart
    last, limit, _fixed = out[-1]
    out[-1] = (last, limit, 0)
    return tuple(out)


_LAST_CSTRING = max(i for i, (_name, size) in enumerate(SM_LAYOUT) if size)
SM_FIXED_TAIL = len(SM_LAYOUT) - _LAST_CSTRING  # the one-octet fields after the last C-string, and sm_length


def _registered_delivery_peeker(layout: tuple[tuple[str, int, int], ...]) -> Callable[[bytes], int]:
    """Build the peek from :data:`SM_LAYOUT` (through :func:`sm_cstrings`), its sizes bound as closure cells.

    A loop over the layout costs about a tenth more than five unrolled scans
    (some 80 ns per submit_sm); the unpacking below fails at import if the
    layout stops having five C-strings, so the two cannot drift apart.
    """
    (s0, k0), (s1, k1), (s2, k2), (s3, k3), (s4, k4) = ((size, 1 + fixed) for _name, size, fixed in layout)
    tail = SM_FIXED_TAIL
    length_at = tail - 1  # sm_length closes the fixed octets

    def peek_registered_delivery(body: bytes) -> int:
        """Check a submit_sm body's layout and return registered_delivery, without building objects.

        Raises CodecError exactly where :func:`decode_sm` would, so a body
        accepted here always decodes later: what lets the simulator answer
        100,000 submit_sm/s and decode only when a receipt or a test needs it.
        """
        index = body.index
        try:
            p = index(0, 0, s0) + k0
            p = index(0, p, p + s1) + k1
            p = index(0, p, p + s2) + k2
            p = index(0, p, p + s3) + k3
            p = index(0, p, p + s4) + k4
        except ValueError:
            raise CodecError("unterminated C-string in submit_sm") from None
        if len(body) < p + tail:
            raise CodecError("submit_sm body too short")
        sm_end = p + tail + body[p + length_at]
        if len(body) < sm_end:
            raise CodecError("sm_length past the end of the PDU", ESME_RINVMSGLEN)
        if sm_end < len(body):
            read_tlvs(body, sm_end)
        return body[p]

    return peek_registered_delivery


peek_registered_delivery = _registered_delivery_peeker(sm_cstrings())


# The data_sm body before its TLVs (SMPP 3.4 §4.7.1): the SM_LAYOUT fields it shares, in the same order
# and sizes; it has no short_message, its text is only ever in message_payload.
DATA_SM_FIELDS = (
    "service_type",
    "source_addr_ton",
    "source_addr_npi",
    "source_addr",
    "dest_addr_ton",
    "dest_addr_npi",
    "destination_addr",
    "esm_class",
    "registered_delivery",
    "data_coding",
)
DATA_SM_LAYOUT: tuple[tuple[str, int], ...] = tuple(
    (name, size) for name, size in SM_LAYOUT if name in DATA_SM_FIELDS
)


def decoder_source(name: str, layout: tuple[tuple[str, int], ...], *, sm_length: bool, what: str) -> str:
    """The text of a decoder for a body laid out as ``layout``, then (``sm_length``) short_message, then TLVs.

    Generated, as :mod:`dataclasses` generates ``__init__``: the decoders run
    once per receipt and MO part, up to 100,000 times a second, and written
    out as straight-line C-string scans and a positional constructor they cost
    half of a loop over the layout. Generating them from the one layout keeps
    that speed without a second hand-written copy of the field order. Errors
    are :func:`read_cstr`'s (an unterminated C-string) and "``what`` body too
    short".
    """
    lines = [f"def {name}(body):", "    find = body.find", "    try:"]
    base, off = "0", 0
    values: dict[str, str] = {}
    for field_name, size in layout:
        at = base if not off else (str(off) if base == "0" else f"{base} + {off}")
        var = f"v_{field_name}"
        if size:
            limit = SM_READ_LIMITS.get(field_name, size)
            if base != "0":  # the start, kept before e moves on to this string's end
                lines.append(f"        p = {at}")
                at = "p"
            end = str(off + limit) if base == "0" else f"p + {limit}"
            lines += [
                f"        e = find(0, {at}, {end})",
                "        if e < 0:",
                '            raise CodecError("unterminated C-string", ESME_RINVCMDLEN)',
                f"        {var} = body[{at}:e]",
            ]
            values[field_name] = f'{var}.decode("latin-1")'
            base, off = "e", 1
        else:
            lines.append(f"        {var} = body[{at}]")
            values[field_name] = var
            off += 1
    at = str(off) if base == "0" else f"{base} + {off}"
    if sm_length:
        lines += [f"        sm_len = body[{at}]", f"        p = {base} + {off + 1}"]
    else:
        lines.append(f"        p = {at}")
    lines += ["    except IndexError:", f'        raise CodecError("{what} body too short") from None']
    if sm_length:
        lines += [
            "    stop = p + sm_len",
            "    if len(body) < stop:",
            '        raise CodecError(f"sm_length {sm_len} past the end of the PDU", ESME_RINVMSGLEN)',
        ]
        values["short_message"] = "body[p:stop]"
        values["tlvs"] = "read_tlvs(body, stop) if stop < len(body) else {}"
    else:
        values["tlvs"] = "read_tlvs(body, p)"
    args = []
    for f in fields(ShortMessage):
        if f.name in values:
            args.append(values.pop(f.name))
        else:
            args.append(f"DEFAULT_{f.name}")
    if values:
        raise ValueError(f"layout fields ShortMessage does not hold: {sorted(values)}")
    lines.append("    return ShortMessage(" + ", ".join(args) + ")")
    return "\n".join(lines) + "\n"


def build_decoder(
    name: str, layout: tuple[tuple[str, int], ...], *, sm_length: bool, what: str
) -> Callable[[bytes], ShortMessage]:
    """Compile :func:`decoder_source`; fields the layout lacks take ShortMessage's defaults."""
    namespace: dict[str, object] = {
        "ShortMessage": ShortMessage,
        "CodecError": CodecError,
        "ESME_RINVCMDLEN": ESME_RINVCMDLEN,
        "ESME_RINVMSGLEN": ESME_RINVMSGLEN,
        "read_tlvs": read_tlvs,
    }
    for f in fields(ShortMessage):
        if f.default is not MISSING:
            namespace[f"DEFAULT_{f.name}"] = f.default
    exec(decoder_source(name, layout, sm_length=sm_length, what=what), namespace)
    decode = namespace[name]
    assert callable(decode)
    return cast(Callable[[bytes], ShortMessage], decode)


decode_sm = build_decoder("decode_sm", SM_LAYOUT, sm_length=True, what="submit_sm/deliver_sm")
decode_sm.__doc__ = (
    "A submit_sm or deliver_sm body as a ShortMessage (SMPP 3.4 §4.4.1, §4.6.1), by SM_LAYOUT."
)
decode_data_sm = build_decoder("decode_data_sm", DATA_SM_LAYOUT, sm_length=False, what="data_sm")
decode_data_sm.__doc__ = "data_sm from the SMSC (MO or receipt) as a ShortMessage (SMPP 3.4 §4.7.1); its text is in message_payload."
