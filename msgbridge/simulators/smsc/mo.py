"""Mobile-originated deliver_sm bodies, single or concatenated (UDH 8/16-bit, SAR, message_payload).

``raw_split`` cuts the encoded octets at fixed positions instead of at
character boundaries, as some handsets and SMSCs do; a part may then end in
the middle of an ESC pair or a UTF-16 surrogate pair, which a client must only
decode after joining the parts (SMPP 3.4 §4.6, 3GPP TS 23.040 concatenation; docs/sources.md).
"""

from __future__ import annotations

from msgbridge.core.encoding import LIMITS, Encoding, choose_encoding, encode, split
from msgbridge.smpp.addressing import address
from msgbridge.smpp.codec import (
    DC_DEFAULT,
    DC_LATIN1,
    DC_UCS2,
    ESM_UDHI,
    TLV_MESSAGE_PAYLOAD,
    ShortMessage,
    encode_sm,
    sar_tlvs,
    tlv,
    udh_8bit,
    udh_16bit,
)

CONCAT_MODES: tuple[str | None, ...] = (None, "udh8", "udh16", "sar", "payload")
CODINGS: dict[str, Encoding] = {"gsm": Encoding.GSM7, "latin1": Encoding.LATIN1, "ucs2": Encoding.UCS2}
DATA_CODING: dict[Encoding, int] = {
    Encoding.GSM7: DC_DEFAULT,
    Encoding.LATIN1: DC_LATIN1,
    Encoding.UCS2: DC_UCS2,
}
# octets per unit of each encoding, to cut raw payloads at segment size
_UNIT_OCTETS: dict[Encoding, int] = {Encoding.GSM7: 1, Encoding.LATIN1: 1, Encoding.UCS2: 2}


def _cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def mo_bodies(
    source: str,
    destination: str,
    text: str,
    *,
    concat: str | None = None,
    coding: str = "auto",
    ref: int = 1,
    raw_split: bool = False,
) -> list[bytes]:
    """deliver_sm bodies (esm_class 0x00, or 0x40 with a UDH) carrying ``text`` from ``source``."""
    if concat not in CONCAT_MODES:
        raise ValueError(f"unknown concat mode {concat!r}; expected one of {CONCAT_MODES}")
    enc = choose_encoding(text) if coding == "auto" else CODINGS[coding]
    s_ton, s_npi, src = address(source)
    d_ton, d_npi, dst = address(destination)

    def body(payload: bytes, esm: int = 0, extra: bytes = b"") -> bytes:
        m = ShortMessage(
            source_addr=src,
            destination_addr=dst,
            short_message=payload,
            source_addr_ton=s_ton,
            source_addr_npi=s_npi,
            dest_addr_ton=d_ton,
            dest_addr_npi=d_npi,
            esm_class=esm,
            data_coding=DATA_CODING[enc],
        )
        return encode_sm(m, extra)

    whole = encode(text, enc)
    if concat is None:
        if len(whole) > 254:
            raise ValueError(f"{len(whole)} octets do not fit one deliver_sm; choose a concat mode")
        return [body(whole)]
    if concat == "payload":
        return [body(b"", extra=tlv(TLV_MESSAGE_PAYLOAD, whole))]

    ref16 = concat == "udh16"
    if len(split(text, enc, ref16=ref16)) == 1:
        return [body(whole)]  # fits one message: no concatenation header, as a handset sends it
    if raw_split:
        limits = LIMITS[enc]
        per = (limits.multi_16bit_ref if ref16 else limits.multi_8bit_ref) * _UNIT_OCTETS[enc]
        parts = _cut(whole, per)
    else:
        parts = [encode(segment, enc) for segment in split(text, enc, ref16=ref16)]
    total = len(parts)
    if total > 255:
        raise ValueError(f"{total} segments; at most 255")
    out: list[bytes] = []
    for seq, part in enumerate(parts, start=1):
        if concat == "udh8":
            out.append(body(udh_8bit(ref, total, seq) + part, ESM_UDHI))
        elif concat == "udh16":
            out.append(body(udh_16bit(ref, total, seq) + part, ESM_UDHI))
        else:
            out.append(body(part, extra=sar_tlvs(ref, total, seq)))
    return out
