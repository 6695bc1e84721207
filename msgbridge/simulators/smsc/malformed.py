"""Malformed PDUs the simulator can inject, to prove a client survives a broken peer.

Each builder takes the sequence number the next real PDU would use and returns
raw bytes. Some are recoverable (a well-framed PDU with a bad body: the client
should answer generic_nack and go on); the length errors are not (the stream
cannot be resynchronised, so the client must drop the link and reconnect).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from msgbridge.smpp.codec import (
    DELIVER_SM,
    GENERIC_NACK,
    HEADER,
    MAX_PDU_LENGTH,
    SUBMIT_SM_RESP,
    pdu,
)


def oversize_length(seq: int) -> bytes:
    """command_length far above any sane cap; a reader that trusts it would wait forever or allocate 4 GiB."""
    return HEADER.pack(0xFFFFFFF0, DELIVER_SM, 0, seq) + b"\x00" * 16


def just_over_cap(seq: int) -> bytes:
    return HEADER.pack(MAX_PDU_LENGTH + 1, DELIVER_SM, 0, seq) + b"\x00" * 16


def undersize_length(seq: int) -> bytes:
    """command_length below the 16-octet header."""
    return struct.pack(">IIII", 8, DELIVER_SM, 0, seq)


def unknown_command(seq: int) -> bytes:
    return pdu(0x000000F7, 0, seq, b"\x01\x02\x03")


def truncated_deliver_sm(seq: int) -> bytes:
    """Well framed, but the body stops inside the mandatory fields."""
    return pdu(DELIVER_SM, 0, seq, b"\x00\x01\x0177011")


def deliver_sm_bad_sm_length(seq: int) -> bytes:
    """sm_length says 200 octets; 3 follow."""
    body = (
        b"\x00" + b"\x01\x01" + b"77011234567\x00" + b"\x01\x01" + b"1234\x00" + b"\x00\x00\x00" + b"\x00\x00"
    )
    body += bytes((0, 0, 0, 0, 200)) + b"abc"
    return pdu(DELIVER_SM, 0, seq, body)


def deliver_sm_bad_tlv(seq: int) -> bytes:
    """Valid mandatory fields followed by a TLV whose length runs past the PDU."""
    body = b"\x00" + b"\x01\x01" + b"77011234567\x00" + b"\x01\x01" + b"1234\x00" + b"\x04\x00\x00"
    body += b"\x00\x00" + bytes((0, 0, 0, 0, 0)) + b"\x00\x1e\x00\xff" + b"12"
    return pdu(DELIVER_SM, 0, seq, body)


def resp_unknown_sequence(seq: int) -> bytes:
    """A submit_sm_resp for a sequence number nobody sent."""
    return pdu(SUBMIT_SM_RESP, 0, 0x7FFFFFF0, b"DEADBEEF\x00")


def resp_unterminated_id(seq: int) -> bytes:
    """A submit_sm_resp for an unknown sequence whose message_id has no NUL."""
    return pdu(SUBMIT_SM_RESP, 0, 0x7FFFFFF1, b"X" * 70)


def nack_unknown_sequence(seq: int) -> bytes:
    return pdu(GENERIC_NACK, 0x03, 0x7FFFFFF2)


# name -> builder; the simulator cycles through them in this order
MALFORMED: dict[str, Callable[[int], bytes]] = {
    "unknown_command": unknown_command,
    "truncated_deliver_sm": truncated_deliver_sm,
    "deliver_sm_bad_sm_length": deliver_sm_bad_sm_length,
    "deliver_sm_bad_tlv": deliver_sm_bad_tlv,
    "resp_unknown_sequence": resp_unknown_sequence,
    "resp_unterminated_id": resp_unterminated_id,
    "nack_unknown_sequence": nack_unknown_sequence,
    "undersize_length": undersize_length,
    "just_over_cap": just_over_cap,
    "oversize_length": oversize_length,
}
