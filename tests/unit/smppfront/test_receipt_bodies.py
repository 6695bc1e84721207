"""The pump's deliver_sm receipt bodies are joined from cached pieces: each must equal, byte for byte,
``codec.encode_sm`` of the same fields (what the pump wrote before it kept the pieces)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.service.smppfront.receipts import MESSAGE_STATE, deliver_bodies, parts_of
from msgbridge.smpp import codec
from msgbridge.smpp.addressing import address
from msgbridge.smpp.receipt_text import STAT_WORDS, format_receipt
from msgbridge.store.base import StoredEvent

SUBMITTED_AT = datetime(2026, 1, 31, 12, 0, 59, tzinfo=UTC).timestamp()
DONE_AT = datetime(2026, 1, 31, 12, 1, 0, tzinfo=UTC).timestamp()


def event(status: S, reference: str | None, to: str | None, error: ErrorInfo | None = None) -> StoredEvent:
    return StoredEvent(
        n=1, id="evt_x", type="message.status", occurred_at=DONE_AT, message_id="msg_1", status=status,
        native_status=None, error=error, segments=1, reference=reference, campaign=None, to=to, inbound=None,
        target=CallbackTarget("smpp://acme", format="smpp", mask=1), state="pending", attempts=0,
        next_at=DONE_AT, last_error=None,
    )  # fmt: skip


def encoded_field_by_field(
    e: StoredEvent, sender: str | None, text: str, receipt_id: str | None = None
) -> list[bytes]:
    assert e.message_id is not None and e.status is not None
    n = parts_of(e.reference)
    named = receipt_id or e.message_id
    ids = [named] if n == 1 else [f"{named}.{k}" for k in range(1, n + 1)]
    state = MESSAGE_STATE.get(e.status, 7)
    err = 0
    if e.error is not None and e.error.native_code is not None:
        with contextlib.suppress(TypeError, ValueError):
            err = int(str(e.error.native_code), 0)
    src_ton, src_npi, src = address(e.to or "")
    dst_ton, dst_npi, dst = address(sender) if sender else (0, 0, "")
    out = []
    for mid in ids:
        receipt = format_receipt(
            mid, 1, 1 if e.status is S.DELIVERED else 0, "2601311200", "2601311201", STAT_WORDS[state], err,
            text[:20],
        )  # fmt: skip
        sm = codec.ShortMessage(
            source_addr=src, source_addr_ton=src_ton, source_addr_npi=src_npi,
            destination_addr=dst, dest_addr_ton=dst_ton, dest_addr_npi=dst_npi,
            esm_class=codec.ESM_DELIVERY_RECEIPT, short_message=receipt.encode("ascii", "replace"),
            tlvs={codec.TLV_RECEIPTED_MESSAGE_ID: codec.cstr(mid), codec.TLV_MESSAGE_STATE: bytes((state,))},
        )  # fmt: skip
        out.append(codec.encode_sm(sm))
    return out


@pytest.mark.parametrize(
    ("status", "reference", "to", "sender", "error"),
    [
        (S.DELIVERED, "1.2.abc", "+77011234567", "Shop", None),
        (S.DELIVERED, "1.2.abc/3", "+77011234567", "+77019999999", None),
        (
            S.UNDELIVERABLE,
            None,
            "77011234567",
            None,
            ErrorInfo(code=ErrorCode.INVALID_DESTINATION, native_code="0x0b"),
        ),
        (
            S.REJECTED,
            None,
            None,
            "12345",
            ErrorInfo(code=ErrorCode.INVALID_DESTINATION, native_code="not a number"),
        ),
        (S.ACCEPTED, "9.9.f/2", "+1", "Ünïcode", None),
    ],
)
def test_each_body_equals_the_field_by_field_encoding(
    status: S, reference: str | None, to: str | None, sender: str | None, error: ErrorInfo | None
) -> None:
    e = event(status, reference, to, error)
    text = "Hello, this is message number 1 — and more"
    assert deliver_bodies(e, sender, text, SUBMITTED_AT) == encoded_field_by_field(e, sender, text)


@pytest.mark.parametrize(("reference", "ids"), [("1.2.abc", ["msg_first"]), ("1.2.abc/2", ["msg_first.1", "msg_first.2"])])
def test_a_receipt_id_is_named_in_the_messages_stead_in_the_text_and_the_tlv(
    reference: str, ids: list[str]
) -> None:
    """A submit_multi's further destination: its receipts name the id the resp announced (session.Multi)."""
    e = event(S.DELIVERED, reference, "+77011234568")
    bodies = deliver_bodies(e, "Shop", "to all", SUBMITTED_AT, "msg_first")
    assert bodies == encoded_field_by_field(e, "Shop", "to all", "msg_first")
    for body, mid in zip(bodies, ids, strict=True):
        sm = codec.decode_sm(body)
        assert sm.short_message.startswith(f"id:{mid} ".encode())
        assert sm.tlvs[codec.TLV_RECEIPTED_MESSAGE_ID] == codec.cstr(mid)
        assert sm.source_addr == "77011234568"
