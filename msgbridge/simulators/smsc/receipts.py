"""Delivery receipts the simulator sends: outcome table, id spellings, text and TLVs.

Real SMSCs disagree on how a receipt names the message: the id in the receipt
may be decimal where submit_sm_resp said hex (or the reverse), may carry
leading zeros or another letter case (SMPP 3.4 Appendix B). The simulator can
produce each variant so the client's correlation is tested against all of them.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NamedTuple

from msgbridge.smpp.codec import (
    ESM_DELIVERY_RECEIPT,
    TLV_MESSAGE_PAYLOAD,
    TLV_MESSAGE_STATE,
    TLV_NETWORK_ERROR_CODE,
    TLV_RECEIPTED_MESSAGE_ID,
    CodecError,
    cstr,
    read_tlvs,
    tlv,
    tlv_u8,
)
from msgbridge.smpp.receipt_text import STAT_WORDS, format_receipt
from msgbridge.smpp.sm import SM_FIXED_TAIL, SM_LAYOUT, sm_cstrings

# outcome name -> (message_state TLV value, GSM network error code)
_STATES: dict[str, tuple[int, int]] = {
    "enroute": (1, 0),
    "delivered": (2, 0),
    "expired": (3, 27),  # GSM MAP 27: absent subscriber
    "deleted": (4, 0),
    "undeliverable": (5, 1),  # GSM MAP 1: unknown subscriber
    "accepted": (6, 0),
    "unknown": (7, 0),
    "rejected": (8, 13),  # GSM MAP 13: call barred
}
# outcome name -> (stat word in the text, message_state TLV value, GSM network error code)
OUTCOMES: dict[str, tuple[str, int, int]] = {
    name: (STAT_WORDS[state], state, err) for name, (state, err) in _STATES.items()
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
        raise ValueError(
            f"unknown receipt id format {receipt_id_format!r}; expected one of {RECEIPT_ID_FORMATS}"
        )
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


class SubmitView(NamedTuple):
    """The fields of a submit_sm a receipt needs, as raw octets: cheaper than a full decode."""

    source_ton_npi: bytes
    source: bytes
    dest_ton_npi: bytes
    destination: bytes
    esm_class: int
    registered_delivery: int
    data_coding: int
    payload: bytes


def _fixed_before(name: str) -> int:
    """How many one-octet fields of SM_LAYOUT sit between the C-string before ``name`` and ``name``."""
    at = [field for field, _size in SM_LAYOUT].index(name)
    start = at
    while SM_LAYOUT[start - 1][1] == 0:
        start -= 1
    return at - start


def _submit_viewer() -> Callable[[bytes], SubmitView]:
    """Build :func:`submit_view` from SM_LAYOUT (through ``sm_cstrings``), as the session's peek is built.

    The offsets are bound as closure cells, so the view costs what the hand-unrolled slicing did, and the
    unpacking below fails at import if the layout stops having its five C-strings in this order.
    """
    layout = sm_cstrings()  # (field, most octets read with its NUL, one-octet fields after it)
    order = ("service_type", "source_addr", "destination_addr", "schedule_delivery_time", "validity_period")
    if tuple(name for name, _size, _fixed in layout) != order:
        raise ImportError(f"submit_view expects the C-strings {order} in SM_LAYOUT")
    (_, s0, f0), (_, s1, f1), (_, s2, f2), (_, s3, f3), (_, s4, _f4) = layout
    esm_at = 1 + _fixed_before("esm_class")  # from destination_addr's NUL
    registered_at = _fixed_before("registered_delivery")  # from just after validity_period's NUL
    coding_at = _fixed_before("data_coding")
    length_at = SM_FIXED_TAIL - 1
    tail = SM_FIXED_TAIL
    after_dest = 1 + f2  # destination_addr's NUL and the fixed octets up to schedule_delivery_time
    after_schedule = 1 + f3

    def submit_view(body: bytes) -> SubmitView:
        """Slice a submit_sm body (already checked on arrival) into what a receipt needs."""
        index = body.index
        try:
            p = index(0, 0, s0) + 1
            q = p + f0
            source_tn_npi = body[p:q]
            e = index(0, q, q + s1)
            source = body[q:e]
            p = e + 1
            q = p + f1
            dest_tn_npi = body[p:q]
            e = index(0, q, q + s2)
            destination = body[q:e]
            esm = body[e + esm_at]
            p = e + after_dest
            p = index(0, p, p + s3) + after_schedule
            p = index(0, p, p + s4) + 1
            registered, coding, sm_len = body[p + registered_at], body[p + coding_at], body[p + length_at]
        except (ValueError, IndexError):
            raise CodecError("submit_sm body too short") from None
        p += tail
        payload = body[p : p + sm_len]
        if not sm_len and p < len(body):
            payload = read_tlvs(body, p).get(TLV_MESSAGE_PAYLOAD, b"")
        return SubmitView(source_tn_npi, source, dest_tn_npi, destination, esm, registered, coding, payload)

    return submit_view


submit_view = _submit_viewer()


def text_preview(view: SubmitView) -> str:
    """The first 20 characters of what was submitted, reduced to receipt-safe characters."""
    data = view.payload
    if view.esm_class & 0x40 and data:
        data = data[1 + data[0] :]
    if view.data_coding == 0x08:
        text = data[:40].decode("utf-16-be", errors="replace")
        return "".join(ch if ch in _SAFE else "." for ch in text[:20])
    return data[:20].translate(_PREVIEW_TABLE).decode("ascii")


def receipt_text(rid: str, outcome: str, submit_date: str, done_date: str, preview: str) -> str:
    """The de-facto receipt text; dates are ``YYMMDDhhmm`` strings (see :func:`smpp_date`)."""
    stat, _state, err = OUTCOMES[outcome]
    return format_receipt(
        rid, 1, 1 if outcome == "delivered" else 0, submit_date, done_date, stat, err, preview
    )


# message_state and network_error_code TLVs per outcome, encoded once
_STATE_TLVS: dict[str, bytes] = {
    name: tlv_u8(TLV_MESSAGE_STATE, state)
    + tlv(TLV_NETWORK_ERROR_CODE, bytes((3, (err >> 8) & 0xFF, err & 0xFF)))
    for name, (_stat, state, err) in OUTCOMES.items()
}


def receipt_tlvs(rid: str, outcome: str) -> bytes:
    return tlv(TLV_RECEIPTED_MESSAGE_ID, cstr(rid)) + _STATE_TLVS[outcome]


def receipt_body(
    view: SubmitView, rid: str, outcome: str, submit_date: str, done_date: str, mode: str
) -> bytes:
    """deliver_sm body for one receipt: addresses swapped, esm_class 0x04, data_coding 0.

    Built by hand rather than through ``encode_sm``: at 100,000 receipts/s the
    dataclass round trip is most of the cost.
    """
    if mode not in RECEIPT_MODES:
        raise ValueError(f"unknown receipt mode {mode!r}; expected one of {RECEIPT_MODES}")
    text = b""
    if mode != "tlv":
        text = receipt_text(rid, outcome, submit_date, done_date, text_preview(view)).encode("ascii")
    extra = receipt_tlvs(rid, outcome) if mode != "text" else b""
    return b"".join(
        (
            b"\x00",
            view.dest_ton_npi,
            view.destination,
            b"\x00",
            view.source_ton_npi,
            view.source,
            bytes((0, ESM_DELIVERY_RECEIPT, 0, 0, 0, 0, 0, 0, 0, 0, len(text))),
            text,
            extra,
        )
    )


def outcome_picker(
    dlr_by_destination: Mapping[str, str], dlr_mix: Mapping[str, float], rng: random.Random
) -> Callable[[bytes], str]:
    """Outcome by destination override, else drawn from ``dlr_mix``; built once per receipt batch."""
    fixed = {k.encode("latin-1"): v for k, v in dlr_by_destination.items()}
    names = list(dlr_mix)
    cumulative = list(itertools.accumulate(dlr_mix[n] for n in names))
    total = cumulative[-1]
    rand = rng.random
    only = names[0] if len(names) == 1 else None

    def pick(destination: bytes) -> str:
        if fixed:
            chosen = fixed.get(destination)
            if chosen is not None:
                return chosen
        if only is not None:
            return only
        return names[min(bisect.bisect_right(cumulative, rand() * total), len(names) - 1)]

    return pick
