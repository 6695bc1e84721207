"""Delivery receipts the simulator sends: outcome table, id spellings, text and TLVs.

Real SMSCs disagree on how a receipt names the message: the id in the receipt
may be decimal where submit_sm_resp said hex (or the reverse), may carry
leading zeros or another letter case (PROTOCOLS.md A8). The simulator can
produce each variant so the client's correlation is tested against all of them.
"""

from __future__ import annotations

from datetime import datetime

from msgbridge.adapters.smpp.codec import (
    ESM_DELIVERY_RECEIPT,
    TLV_MESSAGE_STATE,
    TLV_NETWORK_ERROR_CODE,
    TLV_RECEIPTED_MESSAGE_ID,
    ShortMessage,
    cstr,
    tlv,
    tlv_u8,
)

# outcome name -> (stat word in the text, message_state TLV value, GSM network error code)
OUTCOMES: dict[str, tuple[str, int, int]] = {
    "enroute": ("ENROUTE", 1, 0),
    "delivered": ("DELIVRD", 2, 0),
    "expired": ("EXPIRED", 3, 27),  # GSM MAP 27: absent subscriber
    "deleted": ("DELETED", 4, 0),
    "undeliverable": ("UNDELIV", 5, 1),  # GSM MAP 1: unknown subscriber
    "accepted": ("ACCEPTD", 6, 0),
    "unknown": ("UNKNOWN", 7, 0),
    "rejected": ("REJECTD", 8, 13),  # GSM MAP 13: call barred
}

# outcomes that count as a failure for registered_delivery = 2 ("on failure only")
FAILURES: frozenset[str] = frozenset({"expired", "deleted", "undeliverable", "unknown", "rejected"})

ID_FORMATS: tuple[str, ...] = ("hex", "dec")
RECEIPT_ID_FORMATS: tuple[str, ...] = ("same", "hex", "dec")
RECEIPT_ID_STYLES: tuple[str, ...] = ("plain", "leading_zeros", "lower")
RECEIPT_MODES: tuple[str, ...] = ("text+tlv", "text", "tlv")

# Width the "leading_zeros" style pads receipt ids to (Kannel-era SMSCs pad decimal ids to 10-20 digits).
LEADING_ZEROS_WIDTH = 20

# Characters that read the same in ASCII and in unpacked GSM-7; others become '.'
# in the receipt's text: field so the receipt text is one unambiguous byte string.
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 !\"#%&'()*+,-./:;<=>?")


def spell_id(number: int, fmt: str) -> str:
    """The id as submit_sm_resp carries it."""
    if fmt == "hex":
        return f"{number:X}"
    if fmt == "dec":
        return str(number)
    raise ValueError(f"unknown id format {fmt!r}; expected one of {ID_FORMATS}")


def receipt_id(number: int, id_format: str, receipt_id_format: str, style: str) -> str:
    """The id as the receipt carries it: maybe another base, padded or lower-cased."""
    fmt = id_format if receipt_id_format == "same" else receipt_id_format
    if fmt not in ID_FORMATS:
        raise ValueError(f"unknown receipt id format {receipt_id_format!r}; expected one of {RECEIPT_ID_FORMATS}")
    rid = spell_id(number, fmt)
    if style == "plain":
        return rid
    if style == "leading_zeros":
        return rid.zfill(LEADING_ZEROS_WIDTH)
    if style == "lower":
        return rid.lower()
    raise ValueError(f"unknown receipt id style {style!r}; expected one of {RECEIPT_ID_STYLES}")


def smpp_date(when: datetime) -> str:
    return when.strftime("%y%m%d%H%M")


# unpacked GSM-7 / ASCII / Latin-1 octet -> itself when it reads the same in all three, else '.'
_PREVIEW_TABLE = bytes(b if chr(b) in _SAFE else 0x2E for b in range(256))


def text_preview(m: ShortMessage) -> str:
    """The first 20 characters of what was submitted, reduced to receipt-safe characters."""
    data = m.payload
    if m.esm_class & 0x40 and data:
        data = data[1 + data[0] :]
    if m.data_coding == 0x08:
        text = data[:40].decode("utf-16-be", errors="replace")
        return "".join(ch if ch in _SAFE else "." for ch in text[:20])
    return data[:20].translate(_PREVIEW_TABLE).decode("ascii")


def receipt_text(rid: str, outcome: str, submit_date: str, done_date: str, preview: str) -> str:
    """The de-facto receipt text; dates are ``YYMMDDhhmm`` strings (see :func:`smpp_date`)."""
    stat, _state, err = OUTCOMES[outcome]
    dlvrd = "001" if outcome == "delivered" else "000"
    return (
        f"id:{rid} sub:001 dlvrd:{dlvrd} submit date:{submit_date} "
        f"done date:{done_date} stat:{stat} err:{err % 1000:03d} text:{preview}"
    )


def receipt_tlvs(rid: str, outcome: str) -> bytes:
    _stat, state, err = OUTCOMES[outcome]
    return (
        tlv(TLV_RECEIPTED_MESSAGE_ID, cstr(rid))
        + tlv_u8(TLV_MESSAGE_STATE, state)
        + tlv(TLV_NETWORK_ERROR_CODE, bytes((3, (err >> 8) & 0xFF, err & 0xFF)))
    )


def receipt_body(submit: ShortMessage, rid: str, outcome: str, submit_date: str, done_date: str, mode: str) -> bytes:
    """deliver_sm body for one receipt: addresses swapped, esm_class 0x04, data_coding 0.

    Built by hand rather than through ``encode_sm``: at 100,000 receipts/s the
    dataclass round trip is most of the cost.
    """
    if mode not in RECEIPT_MODES:
        raise ValueError(f"unknown receipt mode {mode!r}; expected one of {RECEIPT_MODES}")
    text = b""
    if mode != "tlv":
        text = receipt_text(rid, outcome, submit_date, done_date, text_preview(submit)).encode("ascii")
    extra = receipt_tlvs(rid, outcome) if mode != "text" else b""
    return b"".join(
        (
            b"\x00",
            bytes((submit.dest_addr_ton, submit.dest_addr_npi)),
            submit.destination_addr.encode("latin-1"),
            b"\x00",
            bytes((submit.source_addr_ton, submit.source_addr_npi)),
            submit.source_addr.encode("latin-1"),
            bytes((0, ESM_DELIVERY_RECEIPT, 0, 0, 0, 0, 0, 0, 0, 0, len(text))),
            text,
            extra,
        )
    )
