"""Receipt text and TLV parsing, the stat/message_state tables, and id normalisation."""

from __future__ import annotations

import pytest

from msgbridge.adapters.smpp.receipts import (
    MESSAGE_STATE_TABLE,
    STAT_TABLE,
    IdBase,
    ReceiptError,
    alternatives,
    normalize_id,
    parse_receipt,
    parse_text,
    receipt_key,
    resp_key,
)
from msgbridge.core.status import DeliveryStatus as D
from msgbridge.smpp import codec

STAT_EXPECTED = {
    "ENROUTE": D.ACCEPTED,
    "DELIVRD": D.DELIVERED,
    "DELIVERED": D.DELIVERED,
    "EXPIRED": D.EXPIRED,
    "DELETED": D.DELETED,
    "UNDELIV": D.UNDELIVERABLE,
    "UNDELIVERABLE": D.UNDELIVERABLE,
    "ACCEPTD": D.ACCEPTED,
    "ACCEPTED": D.ACCEPTED,
    "UNKNOWN": D.FAILED,
    "REJECTD": D.REJECTED,
    "REJECTED": D.REJECTED,
    "ACKED": D.ACCEPTED,
    "BUFFRED": D.ACCEPTED,
    "BUFFERD": D.ACCEPTED,
}

STATE_EXPECTED = {
    1: D.ACCEPTED,
    2: D.DELIVERED,
    3: D.EXPIRED,
    4: D.DELETED,
    5: D.UNDELIVERABLE,
    6: D.ACCEPTED,
    7: D.FAILED,
    8: D.REJECTED,
}


def receipt(text: str, **tlvs: bytes) -> codec.ShortMessage:
    tags = {
        "receipted": codec.TLV_RECEIPTED_MESSAGE_ID,
        "state": codec.TLV_MESSAGE_STATE,
        "network": codec.TLV_NETWORK_ERROR_CODE,
    }
    return codec.ShortMessage(
        source_addr="77011234567",
        destination_addr="Test",
        esm_class=codec.ESM_DELIVERY_RECEIPT,
        short_message=text.encode("latin-1"),
        tlvs={tags[k]: v for k, v in tlvs.items()},
    )


def test_stat_table_is_the_expected_one() -> None:
    assert STAT_TABLE == STAT_EXPECTED


@pytest.mark.parametrize("stat", sorted(STAT_TABLE))
def test_every_stat_row_through_the_parser(stat: str) -> None:
    text = f"id:123 sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 stat:{stat} err:000 text:hi"
    assert parse_receipt(receipt(text)).status is STAT_EXPECTED[stat]


def test_message_state_table_is_the_expected_one() -> None:
    assert {k: v[1] for k, v in MESSAGE_STATE_TABLE.items()} == STATE_EXPECTED


@pytest.mark.parametrize("state", sorted(MESSAGE_STATE_TABLE))
def test_every_message_state_row_through_the_parser(state: int) -> None:
    parsed = parse_receipt(receipt("", receipted=b"ABC\x00", state=bytes((state,))))
    assert parsed.status is STATE_EXPECTED[state]
    assert parsed.message_id == "ABC"


def test_standard_text() -> None:
    text = (
        "id:0A1B2C sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 "
        "stat:DELIVRD err:000 text:Hello world"
    )
    p = parse_receipt(receipt(text))
    assert (p.message_id, p.status, p.native_status, p.err) == ("0A1B2C", D.DELIVERED, "DELIVRD", "000")
    assert (p.submit_date, p.done_date, p.text) == ("2501311200", "2501311201", "Hello world")


@pytest.mark.parametrize(
    "text",
    [
        "stat:UNDELIV err:001 id:42 sub:001 dlvrd:000 Text:x",  # any order, capital Text
        "id:42 sub:001 dlvrd:000 submit date:250131120000 done date:250131120100 stat:UNDELIV err:001 text:",
        "ID:42 STAT:undeliv ERR:1",  # upper-case names, lower-case value
        "id: 42 stat: UNDELIV",  # spaces after the colon
    ],
)
def test_text_variants(text: str) -> None:
    p = parse_receipt(receipt(text))
    assert p.message_id == "42"
    assert p.status is D.UNDELIVERABLE


def test_uuid_ids() -> None:
    p = parse_receipt(receipt("id:0b0a5c2e-7a6d-4f35-9c3e-1f2d3c4b5a69 stat:DELIVRD err:000"))
    assert p.message_id == "0b0a5c2e-7a6d-4f35-9c3e-1f2d3c4b5a69"
    assert normalize_id(p.message_id) == "B0A5C2E-7A6D-4F35-9C3E-1F2D3C4B5A69"


def test_a_part_id_with_a_dot_is_read_whole_in_either_layout() -> None:
    standard = (
        "id:5f3a.2 sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 stat:DELIVRD err:000 text:"
    )
    for text in (standard, "stat:DELIVRD id:5f3a.2 err:000"):  # one pass, and the per-field search
        assert parse_receipt(receipt(text)).message_id == "5f3a.2", text


def test_tlvs_win_over_text() -> None:
    p = parse_receipt(
        receipt("id:111 stat:DELIVRD err:000", receipted=b"222\x00", state=b"\x05", network=b"\x03\x00\x01")
    )
    assert p.message_id == "222"
    assert p.status is D.UNDELIVERABLE
    assert p.network_error == "GSM:1"


def test_receipt_without_id_or_state_is_an_error() -> None:
    with pytest.raises(ReceiptError):
        parse_receipt(receipt("stat:DELIVRD"))
    with pytest.raises(ReceiptError):
        parse_receipt(receipt("id:12 stat:WHATEVER"))


def test_text_field_keeps_everything_after_it() -> None:
    assert parse_text("id:1 stat:DELIVRD text:a b: c")["text"] == "a b: c"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("00001a2b", "1A2B"), (" 1A2B ", "1A2B"), ("1a2b", "1A2B"), ("000", "0"), ("0", "0"), ("", "")],
)
def test_normalize_id(raw: str, normal: str) -> None:
    assert normalize_id(raw) == normal


@pytest.mark.parametrize(
    ("base", "resp", "rcpt"),
    [
        (IdBase.SAME, "0A1B", "a1b"),
        (IdBase.RESP_HEX, "FF", "255"),
        (IdBase.RESP_HEX, "00ff", "000255"),
        (IdBase.RECEIPT_HEX, "255", "ff"),
        (IdBase.RECEIPT_HEX, "255", "000000FF"),
    ],
)
def test_keys_agree_per_base(base: IdBase, resp: str, rcpt: str) -> None:
    assert resp_key(resp, base) == receipt_key(rcpt, base)


def test_alternatives_offer_both_bases() -> None:
    assert set(alternatives("255")) == {(IdBase.RESP_HEX, "FF"), (IdBase.RECEIPT_HEX, "597")}
    assert alternatives("FF") == [(IdBase.RECEIPT_HEX, "255")]
    assert alternatives("B0A5C2E-7A6D") == []


def test_the_receipt_text_the_simulator_writes_is_read_in_one_pass() -> None:
    from msgbridge.adapters.smpp.receipts import MESSAGE_STATE_TABLE, STAT_TABLE
    from msgbridge.smpp.receipt_text import STANDARD, STAT_WORDS, format_receipt

    for state, word in STAT_WORDS.items():
        text = format_receipt("1A2B", 1, 1, "2501010000", "2501010001", word, 1027, "hi there")
        m = STANDARD.match(text)
        assert m is not None, text
        assert m.group("id", "sub", "dlvrd", "stat", "err", "text") == (
            "1A2B",
            "001",
            "001",
            word,
            "027",
            "hi there",
        )
        # the stat word and the message_state of one state mean the same to the reader
        assert STAT_TABLE[word] is MESSAGE_STATE_TABLE[state][1]
