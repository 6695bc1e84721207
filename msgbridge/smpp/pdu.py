"""SMPP 3.4 PDUs below the message fields: command ids, command_status values, framing, C-strings, TLVs.

Why not python-smpplib's PDU objects: they build a Python object graph per PDU
and cost about 150 µs of CPU per message; at 100,000 submit_sm/s the budget is
under 10 µs. Here a PDU is a header tuple plus ``bytes``; only the fields the
hot path needs are parsed, with ``struct`` and ``bytes.index``.

Framing follows SMPP 3.4 §3.2: ``command_length`` includes the header and
must lie in ``[16, MAX_PDU_LENGTH]``; anything else is a framing error the
session answers with generic_nack (ESME_RINVCMDLEN) and a close.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct(">IIII")
HEADER_LEN = 16
MAX_PDU_LENGTH = 64 * 1024
RESPONSE_BIT = 0x80000000

# command ids (SMPP 3.4 §5.1.2.1)
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
QUERY_SM = 0x00000003
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
REPLACE_SM = 0x00000007
CANCEL_SM = 0x00000008
BIND_TRANSCEIVER = 0x00000009
OUTBIND = 0x0000000B
ENQUIRE_LINK = 0x00000015
SUBMIT_MULTI = 0x00000021
ALERT_NOTIFICATION = 0x00000102
DATA_SM = 0x00000103

BIND_RECEIVER_RESP = BIND_RECEIVER | RESPONSE_BIT
BIND_TRANSMITTER_RESP = BIND_TRANSMITTER | RESPONSE_BIT
BIND_TRANSCEIVER_RESP = BIND_TRANSCEIVER | RESPONSE_BIT
SUBMIT_SM_RESP = SUBMIT_SM | RESPONSE_BIT
DELIVER_SM_RESP = DELIVER_SM | RESPONSE_BIT
UNBIND_RESP = UNBIND | RESPONSE_BIT
ENQUIRE_LINK_RESP = ENQUIRE_LINK | RESPONSE_BIT
QUERY_SM_RESP = QUERY_SM | RESPONSE_BIT
DATA_SM_RESP = DATA_SM | RESPONSE_BIT

BIND_COMMANDS = frozenset({BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER})

COMMAND_NAMES: dict[int, str] = {
    GENERIC_NACK: "generic_nack",
    BIND_RECEIVER: "bind_receiver",
    BIND_TRANSMITTER: "bind_transmitter",
    QUERY_SM: "query_sm",
    SUBMIT_SM: "submit_sm",
    DELIVER_SM: "deliver_sm",
    UNBIND: "unbind",
    REPLACE_SM: "replace_sm",
    CANCEL_SM: "cancel_sm",
    BIND_TRANSCEIVER: "bind_transceiver",
    OUTBIND: "outbind",
    ENQUIRE_LINK: "enquire_link",
    SUBMIT_MULTI: "submit_multi",
    ALERT_NOTIFICATION: "alert_notification",
    DATA_SM: "data_sm",
}

# command_status values used by the codec and sessions (full table: status.py)
ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RX_T_APPN = 0x64
ESME_RX_P_APPN = 0x65
ESME_RINVOPTPARSTREAM = 0xC0
ESME_RINVPARLEN = 0xC2
ESME_RUNKNOWNERR = 0xFF

# TLV tags
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_ADDITIONAL_STATUS_INFO_TEXT = 0x001D
TLV_SC_INTERFACE_VERSION = 0x0210
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_NETWORK_ERROR_CODE = 0x0423
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_DELIVERY_FAILURE_REASON = 0x0425
TLV_MESSAGE_STATE = 0x0427

# esm_class bits
ESM_UDHI = 0x40
ESM_TYPE_MASK = 0x3C
ESM_DELIVERY_RECEIPT = 0x04

# data_coding
DC_DEFAULT = 0x00
DC_IA5 = 0x01
DC_BINARY = 0x02
DC_LATIN1 = 0x03
DC_BINARY_2 = 0x04
DC_UCS2 = 0x08

INTERFACE_VERSION = 0x34

_B = struct.Struct(">B")
_H = struct.Struct(">H")
_TLV_HEAD = struct.Struct(">HH")


class CodecError(ValueError):
    """An undecodable PDU. ``status`` is what a generic_nack for it should carry."""

    def __init__(self, message: str, status: int = ESME_RINVCMDLEN) -> None:
        super().__init__(message)
        self.status = status


# --- framing -----------------------------------------------------------------


def pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return HEADER.pack(HEADER_LEN + len(body), command_id, status, sequence) + body


def frame_spans(
    buffer: bytearray | bytes, max_length: int = MAX_PDU_LENGTH
) -> tuple[list[tuple[int, int, int, int, int]], int, int | None]:
    """The one framing loop: where the complete PDUs at the front of ``buffer`` lie, without copying them.

    Returns ``([(command_id, status, sequence, body_start, body_stop), ...],
    consumed, bad_length)``. ``bad_length`` is the first ``command_length``
    outside ``[16, max_length]`` (None if there is none): the PDUs before it
    are listed, nothing after it is, and the stream cannot be resynchronised.
    Spans rather than bodies let the client slice a submit_sm_resp's
    message_id straight out of its buffer, nearly all of its traffic.
    """
    out: list[tuple[int, int, int, int, int]] = []
    append = out.append
    pos = 0
    end = len(buffer)
    unpack = HEADER.unpack_from
    while end - pos >= HEADER_LEN:
        length, command_id, status, sequence = unpack(buffer, pos)
        if length < HEADER_LEN or length > max_length:
            return out, pos, length
        stop = pos + length
        if stop > end:
            break
        append((command_id, status, sequence, pos + HEADER_LEN, stop))
        pos = stop
    return out, pos, None


def frames(
    buffer: bytearray | bytes, max_length: int = MAX_PDU_LENGTH
) -> tuple[list[tuple[int, int, int, bytes]], int]:
    """Split complete PDUs off the front of ``buffer`` (:func:`frame_spans`, with their bodies copied).

    Returns ``([(command_id, status, sequence, body), ...], consumed)``; the
    caller drops ``consumed`` bytes. Raises :class:`CodecError` on a length
    outside ``[16, max_length]`` — the stream cannot be resynchronised after that.
    """
    spans, consumed, bad = frame_spans(buffer, max_length)
    if bad is not None:
        raise CodecError(f"command_length {bad} outside [{HEADER_LEN}, {max_length}]")
    return [
        (command_id, status, seq, bytes(buffer[a:b])) for command_id, status, seq, a, b in spans
    ], consumed


# --- primitive fields --------------------------------------------------------


def cstr(value: str | bytes, max_len: int | None = None) -> bytes:
    raw = value.encode("latin-1") if isinstance(value, str) else value
    if max_len is not None and len(raw) + 1 > max_len:
        raise CodecError(f"C-string {raw[:20]!r}... longer than {max_len - 1}", ESME_RINVPARLEN)
    return raw + b"\x00"


def read_cstr(body: bytes, pos: int, max_len: int = 256) -> tuple[bytes, int]:
    try:
        end = body.index(b"\x00", pos, pos + max_len)
    except ValueError:
        raise CodecError("unterminated C-string", ESME_RINVCMDLEN) from None
    return body[pos:end], end + 1


def tlv(tag: int, value: bytes) -> bytes:
    return _TLV_HEAD.pack(tag, len(value)) + value


def tlv_u8(tag: int, value: int) -> bytes:
    return _TLV_HEAD.pack(tag, 1) + bytes((value,))


def tlv_u16(tag: int, value: int) -> bytes:
    return _TLV_HEAD.pack(tag, 2) + _H.pack(value)


def read_tlvs(body: bytes, pos: int) -> dict[int, bytes]:
    """Optional parameters in any order; unknown tags are kept (callers skip them)."""
    tlvs: dict[int, bytes] = {}
    end = len(body)
    while pos < end:
        if end - pos < 4:
            raise CodecError("truncated TLV header", ESME_RINVOPTPARSTREAM)
        tag, length = _TLV_HEAD.unpack_from(body, pos)
        pos += 4
        if end - pos < length:
            raise CodecError(f"TLV 0x{tag:04X} length {length} past the end of the PDU", ESME_RINVPARLEN)
        tlvs[tag] = body[pos : pos + length]
        pos += length
    return tlvs
