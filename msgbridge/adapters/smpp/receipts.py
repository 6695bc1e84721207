"""Delivery receipts: parse them, map their state, and normalise the ids they name.

The receipt text is de facto, not standard (``id:... sub:... dlvrd:... submit
date:... done date:... stat:... err:... text:...``): SMSCs reorder fields,
write ``Text:``, add seconds to dates and spell ids in hex, decimal or UUID
form, with leading zeros and either case. So each field has its own regex and
is searched for anywhere in the text. When the receipt TLVs are present
(receipted_message_id, message_state, network_error_code) they win over the
text, as in Jasmin and Kannel.

Ids are compared after normalisation (strip, upper-case, drop leading zeros,
as Jasmin does) and, per link, after converting the base where the SMSC
answers submit_sm in one base and names the id in the receipt in another
(Kannel ``msg-id-type``, Jasmin ``dlr_msg_id_bases``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from msgbridge.core.status import DeliveryStatus
from msgbridge.smpp import codec
from msgbridge.smpp.receipt_text import MESSAGE_STATES, STANDARD, parse_text

# stat:XXXXXXX in the receipt text -> DeliveryStatus. Every row is tested.
STAT_TABLE: dict[str, DeliveryStatus] = {
    "ENROUTE": DeliveryStatus.ACCEPTED,
    "DELIVRD": DeliveryStatus.DELIVERED,
    "DELIVERED": DeliveryStatus.DELIVERED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "DELETED": DeliveryStatus.DELETED,
    "UNDELIV": DeliveryStatus.UNDELIVERABLE,
    "UNDELIVERABLE": DeliveryStatus.UNDELIVERABLE,
    "ACCEPTD": DeliveryStatus.ACCEPTED,
    "ACCEPTED": DeliveryStatus.ACCEPTED,
    "UNKNOWN": DeliveryStatus.FAILED,  # SMPP "invalid state": final, not "not known yet"
    "REJECTD": DeliveryStatus.REJECTED,
    "REJECTED": DeliveryStatus.REJECTED,
    # Kannel treats these as intermediate (buffered at the SMSC)
    "ACKED": DeliveryStatus.ACCEPTED,
    "BUFFRED": DeliveryStatus.ACCEPTED,
    "BUFFERD": DeliveryStatus.ACCEPTED,
}

# message_state TLV (0x0427) -> DeliveryStatus. Every row is tested.
_STATE_STATUS: dict[int, DeliveryStatus] = {
    1: DeliveryStatus.ACCEPTED,
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.EXPIRED,
    4: DeliveryStatus.DELETED,
    5: DeliveryStatus.UNDELIVERABLE,
    6: DeliveryStatus.ACCEPTED,
    7: DeliveryStatus.FAILED,
    8: DeliveryStatus.REJECTED,
}
MESSAGE_STATE_TABLE: dict[int, tuple[str, DeliveryStatus]] = {
    state: (MESSAGE_STATES[state], status) for state, status in _STATE_STATUS.items()
}

NETWORK_TYPES: dict[int, str] = {1: "ANSI-136", 2: "IS-95", 3: "GSM"}


@dataclass(slots=True)
class ParsedReceipt:
    """A receipt as the SMSC wrote it; ``message_id`` is raw (not normalised)."""

    message_id: str
    status: DeliveryStatus
    native_status: str
    err: str = ""
    network_error: str = ""
    submit_date: str = ""
    done_date: str = ""
    text: str = ""
    fields: dict[str, str] | None = None


class ReceiptError(ValueError):
    """A deliver_sm flagged as a receipt that names no id or no state."""


_NETWORK_ERRORS: dict[bytes, str] = {}


def _network_error(raw: bytes) -> str:
    """``GSM:27`` for a 3-octet network_error_code (type + code); few distinct values, so cached."""
    text = _NETWORK_ERRORS.get(raw)
    if text is None:
        if len(raw) != 3:
            text = raw.hex()
        else:
            kind = NETWORK_TYPES.get(raw[0], str(raw[0]))
            text = f"{kind}:{int.from_bytes(raw[1:3], 'big')}"
        if len(_NETWORK_ERRORS) < 1024:
            _NETWORK_ERRORS[raw] = text
    return text


def parse_receipt(sm: codec.ShortMessage) -> ParsedReceipt:
    """Parse a receipt deliver_sm (text and/or TLVs); TLVs win where both are present."""
    tlvs = sm.tlvs
    raw_text = (sm.short_message or tlvs.get(codec.TLV_MESSAGE_PAYLOAD, b"")).decode(
        "latin-1", errors="replace"
    )
    m = STANDARD.match(raw_text)
    fields: dict[str, str] | None = None
    if m is not None:
        message_id, native_status, err, submit_date, done_date, text = m.group(
            "id", "stat", "err", "submit_date", "done_date", "text"
        )
        text = text or ""
    else:
        fields = parse_text(raw_text)
        message_id = fields.get("id", "")
        native_status = fields.get("stat", "")
        err = fields.get("err", "")
        submit_date = fields.get("submit_date", "")
        done_date = fields.get("done_date", "")
        text = fields.get("text", "")
    status = STAT_TABLE.get(native_status.upper()) if native_status else None
    if tlvs:
        receipted = tlvs.get(codec.TLV_RECEIPTED_MESSAGE_ID)
        if receipted:
            message_id = receipted.rstrip(b"\x00").decode("latin-1")
        state = tlvs.get(codec.TLV_MESSAGE_STATE)
        if state:
            row = MESSAGE_STATE_TABLE.get(state[0])
            if row is not None:
                native_status = native_status or row[0]
                status = row[1]
        network = tlvs.get(codec.TLV_NETWORK_ERROR_CODE)
        network_error = _network_error(network) if network is not None else ""
    else:
        network_error = ""
    if not message_id:
        raise ReceiptError(f"receipt names no message id: {raw_text[:80]!r}")
    if status is None:
        raise ReceiptError(f"receipt for {message_id} has no known state: {raw_text[:80]!r}")
    return ParsedReceipt(
        message_id, status, native_status.upper(), err, network_error, submit_date, done_date, text, fields
    )


# --- ids ----------------------------------------------------------------------


class IdBase(StrEnum):
    """How a link spells message ids (Jasmin ``dlr_msg_id_bases`` / Kannel ``msg-id-type``)."""

    SAME = "same"  # both compared as strings, after normalisation
    RESP_HEX = "resp_hex"  # submit_sm_resp id is hex, receipt id decimal
    RECEIPT_HEX = "receipt_hex"  # submit_sm_resp id decimal, receipt id hex
    AUTO = "auto"  # as SAME, but match a receipt against recent ids in the other base too


def normalize_id(raw: str) -> str:
    """Strip, upper-case, drop leading zeros (an all-zero id stays ``0``)."""
    s = raw.strip().upper().lstrip("0")
    return s or ("0" if raw.strip() else "")


def _hex_to_dec(n: str) -> str | None:
    try:
        return str(int(n, 16))
    except ValueError:
        return None


def _dec_to_hex(n: str) -> str | None:
    return format(int(n), "X") if n.isdigit() else None


def resp_key(raw: str, base: IdBase) -> str:
    """The correlation key for an id from submit_sm_resp."""
    n = normalize_id(raw)
    if base is IdBase.RESP_HEX:
        return _hex_to_dec(n) or n
    return n


def receipt_key(raw: str, base: IdBase) -> str:
    """The correlation key for an id named in a receipt."""
    n = normalize_id(raw)
    if base is IdBase.RECEIPT_HEX:
        return _hex_to_dec(n) or n
    return n


def alternatives(key: str) -> list[tuple[IdBase, str]]:
    """Other spellings of a receipt key that a submit_sm_resp key may have taken (AUTO mode).

    A receipt in decimal for a hex resp id: the resp key is the hex spelling.
    A receipt in hex for a decimal resp id: the resp key is the decimal spelling.
    """
    out: list[tuple[IdBase, str]] = []
    as_hex = _dec_to_hex(key)
    if as_hex is not None and as_hex != key:
        out.append((IdBase.RESP_HEX, as_hex))
    as_dec = _hex_to_dec(key)
    if as_dec is not None and as_dec != key:
        out.append((IdBase.RECEIPT_HEX, as_dec))
    return out
