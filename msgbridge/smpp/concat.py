"""Concatenated messages: the UDH information elements and the SAR TLVs (3GPP TS 23.040 §9.2.3.24.1, SMPP 3.4 §5.3.2.22-24)."""

from __future__ import annotations

from dataclasses import dataclass

from msgbridge.smpp.pdu import (
    ESME_RINVMSGLEN,
    ESME_RINVPARLEN,
    TLV_SAR_MSG_REF_NUM,
    TLV_SAR_SEGMENT_SEQNUM,
    TLV_SAR_TOTAL_SEGMENTS,
    CodecError,
    tlv_u8,
    tlv_u16,
)


def udh_8bit(ref: int, total: int, seq: int) -> bytes:
    return bytes((0x05, 0x00, 0x03, ref & 0xFF, total, seq))


def udh_16bit(ref: int, total: int, seq: int) -> bytes:
    return bytes((0x06, 0x08, 0x04, (ref >> 8) & 0xFF, ref & 0xFF, total, seq))


def sar_tlvs(ref: int, total: int, seq: int) -> bytes:
    return (
        tlv_u16(TLV_SAR_MSG_REF_NUM, ref & 0xFFFF)
        + tlv_u8(TLV_SAR_TOTAL_SEGMENTS, total)
        + tlv_u8(TLV_SAR_SEGMENT_SEQNUM, seq)
    )


@dataclass(frozen=True, slots=True)
class Concat:
    ref: int
    total: int
    seq: int


def split_udh(data: bytes) -> tuple[Concat | None, bytes]:
    """Strip a UDH from a UDHI message; return the concatenation info element if any and the payload."""
    if not data:
        raise CodecError("UDHI set on an empty message", ESME_RINVMSGLEN)
    udhl = data[0]
    if len(data) < 1 + udhl:
        raise CodecError("UDH length past the end of the message", ESME_RINVMSGLEN)
    header, payload = data[1 : 1 + udhl], data[1 + udhl :]
    concat: Concat | None = None
    p = 0
    while p + 2 <= len(header):
        iei, iel = header[p], header[p + 1]
        value = header[p + 2 : p + 2 + iel]
        if iei == 0x00 and iel == 3 and len(value) == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and iel == 4 and len(value) == 4:
            concat = Concat((value[0] << 8) | value[1], value[2], value[3])
        p += 2 + iel
    return concat, payload


def sar_info(tlvs: dict[int, bytes]) -> Concat | None:
    """The SAR TLVs as a Concat; CodecError (ESME_RINVPARLEN) when one has the wrong size."""
    if TLV_SAR_MSG_REF_NUM in tlvs and TLV_SAR_TOTAL_SEGMENTS in tlvs and TLV_SAR_SEGMENT_SEQNUM in tlvs:
        ref, total, seq = (
            tlvs[TLV_SAR_MSG_REF_NUM],
            tlvs[TLV_SAR_TOTAL_SEGMENTS],
            tlvs[TLV_SAR_SEGMENT_SEQNUM],
        )
        if len(ref) != 2 or len(total) != 1 or len(seq) != 1:
            raise CodecError("SAR TLV of the wrong size", ESME_RINVPARLEN)
        return Concat(int.from_bytes(ref, "big"), total[0], seq[0])
    return None
