"""The SMPP 3.4 PDU codec shared by the ESME client and the SMSC simulator: one name for its parts.

``codec.X`` is what the rest of the package writes; the parts live by what they hold:
:mod:`~msgbridge.smpp.pdu` (command ids, command_status values, framing,
C-strings and TLVs), :mod:`~msgbridge.smpp.sm` (the submit_sm / deliver_sm /
data_sm layout and everything derived from it), :mod:`~msgbridge.smpp.concat`
(UDH and SAR). Binds and message ids are here.
"""

from __future__ import annotations

from dataclasses import dataclass

from msgbridge.smpp.concat import *  # noqa: F403
from msgbridge.smpp.pdu import *  # noqa: F403
from msgbridge.smpp.pdu import (
    INTERFACE_VERSION,
    TLV_SC_INTERFACE_VERSION,
    CodecError,
    cstr,
    read_cstr,
    read_tlvs,
    tlv_u8,
)
from msgbridge.smpp.sm import *  # noqa: F403

# --- bind --------------------------------------------------------------------


@dataclass(slots=True)
class Bind:
    system_id: str
    password: str
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


def encode_bind(b: Bind) -> bytes:
    return (
        cstr(b.system_id, 16)
        + cstr(b.password, 9)
        + cstr(b.system_type, 13)
        + bytes((b.interface_version, b.addr_ton, b.addr_npi))
        + cstr(b.address_range, 41)
    )


def decode_bind(body: bytes) -> Bind:
    system_id, p = read_cstr(body, 0, 16)
    password, p = read_cstr(body, p, 9)
    system_type, p = read_cstr(body, p, 13)
    if len(body) < p + 3:
        raise CodecError("bind body too short")
    version, ton, npi = body[p], body[p + 1], body[p + 2]
    address_range, p = read_cstr(body, p + 3, 41)
    return Bind(
        system_id.decode("latin-1"),
        password.decode("latin-1"),
        system_type.decode("latin-1"),
        version,
        ton,
        npi,
        address_range.decode("latin-1"),
    )


def encode_bind_resp(system_id: str, *, with_version: bool = True) -> bytes:
    body = cstr(system_id, 16)
    if with_version:
        body += tlv_u8(TLV_SC_INTERFACE_VERSION, INTERFACE_VERSION)
    return body


def decode_bind_resp(body: bytes) -> tuple[str, dict[int, bytes]]:
    if not body:
        return "", {}
    system_id, p = read_cstr(body, 0, 16)
    return system_id.decode("latin-1"), read_tlvs(body, p)


def encode_message_id(message_id: str) -> bytes:
    """Body of submit_sm_resp / data_sm_resp (deliver_sm_resp carries an empty id)."""
    return cstr(message_id, 65)


def decode_message_id(body: bytes) -> str:
    """submit_sm_resp body; may be empty on error (SMPP 3.4 §4.4, §4.6)."""
    if not body:
        return ""
    message_id, _ = read_cstr(body, 0, 65)
    return message_id.decode("latin-1")
