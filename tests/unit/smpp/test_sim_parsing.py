"""The simulator's own parsing: its fast submit_sm checks agree with the codec, option strings, addresses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.simulators.smsc import SmscSimulator, parse_mix, parse_users
from msgbridge.simulators.smsc.receipts import receipt_id, submit_view
from msgbridge.simulators.smsc.session import peek_registered_delivery
from msgbridge.smpp import codec
from msgbridge.smpp.addressing import address

cstring = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=20)
octet = st.integers(0, 255)

messages = st.builds(
    codec.ShortMessage,
    source_addr=cstring,
    destination_addr=cstring,
    short_message=st.binary(max_size=254),
    source_addr_ton=octet,
    dest_addr_ton=octet,
    esm_class=octet,
    registered_delivery=octet,
    data_coding=octet,
    schedule_delivery_time=st.text(alphabet="0123456789R+-", max_size=16),
    tlvs=st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=30), max_size=3),
)


@given(messages)
@settings(max_examples=200)
def test_fast_paths_read_valid_bodies_like_the_codec(m: codec.ShortMessage) -> None:
    body = codec.encode_sm(m)
    assert peek_registered_delivery(body) == m.registered_delivery
    view = submit_view(body)
    assert view.destination == m.destination_addr.encode("latin-1")
    assert view.source == m.source_addr.encode("latin-1")
    assert (view.esm_class, view.registered_delivery, view.data_coding) == (
        m.esm_class,
        m.registered_delivery,
        m.data_coding,
    )
    assert view.payload == codec.decode_sm(body).payload


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_a_body_the_peek_accepts_always_decodes(body: bytes) -> None:
    try:
        peek_registered_delivery(body)
    except codec.CodecError:
        return
    decoded = codec.decode_sm(body)  # must not raise: submitted is decoded lazily from accepted bodies
    assert submit_view(body).payload == decoded.payload


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("u:p", {"u": "p"}),
        ("u:p,u2:p2", {"u": "p", "u2": "p2"}),
        (" a:b , c:", {"a": "b", "c": ""}),
        ("x:with:colon", {"x": "with:colon"}),
    ],
)
def test_parse_users(spec: str, expected: dict[str, str]) -> None:
    assert parse_users(spec) == expected


@pytest.mark.parametrize("spec", ["nopassword", ":p", "u:p,broken"])
def test_parse_users_refuses(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_users(spec)


def test_parse_mix() -> None:
    assert parse_mix("delivered=0.9,undeliverable=0.05,expired=0.05") == {
        "delivered": 0.9,
        "undeliverable": 0.05,
        "expired": 0.05,
    }
    with pytest.raises(ValueError):
        parse_mix("lost=1")
    with pytest.raises(ValueError):
        parse_mix("delivered")


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("+77011234567", (1, 1, "77011234567")),
        ("77011234567", (1, 1, "77011234567")),
        ("+1234", (1, 1, "1234")),
        ("1234", (3, 0, "1234")),
        ("12345678", (3, 0, "12345678")),
        ("MyBrand", (5, 0, "MyBrand")),
    ],
)
def test_address_ton_npi(addr: str, expected: tuple[int, int, str]) -> None:
    assert address(addr) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id_format": "base64"},
        {"receipt_id_format": "oct"},
        {"receipt_id_style": "upper"},
        {"receipt_mode": "xml"},
        {"dlr_mix": {"lost": 1.0}},
        {"dlr_mix": {"delivered": 0.0}},
        {"dlr_by_destination": {"1": "vanished"}},
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SmscSimulator(**kwargs)  # type: ignore[arg-type]


def test_receipt_id_refuses_unknown_spellings() -> None:
    with pytest.raises(ValueError):
        receipt_id(1, "hex", "oct", "plain")
    with pytest.raises(ValueError):
        receipt_id(1, "hex", "same", "upper")
