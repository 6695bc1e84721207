"""submit_sm bodies the transport builds: addresses, codings, long-message modes, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from msgbridge.adapters.smpp.transport import (
    SmppTransport,
    smpp_relative,
    smpp_time,
    submitted,
)
from msgbridge.core import records
from msgbridge.core.encoding import decode_gsm7
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.message import Channel, Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.smpp import codec
from msgbridge.smpp.addressing import address as source_address


def transport(query: str = "") -> SmppTransport:
    t = SmppTransport.from_url(f"smpp://u:p@127.0.0.1:2775?{query}")
    assert isinstance(t, SmppTransport)
    return t


def bodies(t: SmppTransport, text: str, **kw: object) -> list[codec.ShortMessage]:
    out = t.encode_message(Message(to="+77011234567", text=text, **kw))  # type: ignore[arg-type]
    assert isinstance(out, list), out
    return [codec.decode_sm(b) for b in out]


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("MyShop", (5, 0, "MyShop")),
        ("+77011234567", (1, 1, "77011234567")),
        ("77011234567", (1, 1, "77011234567")),
        ("1234", (3, 0, "1234")),
        ("12345678", (3, 0, "12345678")),
    ],
)
def test_source_ton_npi_from_sender(sender: str, expected: tuple[int, int, str]) -> None:
    assert source_address(sender) == expected
    [sm] = bodies(transport(), "hi", sender=sender)
    assert (sm.source_addr_ton, sm.source_addr_npi, sm.source_addr) == expected
    assert (sm.dest_addr_ton, sm.dest_addr_npi, sm.destination_addr) == (1, 1, "77011234567")


def test_plain_gsm_message() -> None:
    [sm] = bodies(transport(), "Hello @ £ {x}")
    assert sm.data_coding == 0
    assert sm.registered_delivery == 1
    assert sm.esm_class == 0
    assert decode_gsm7(sm.short_message) == "Hello @ £ {x}"


def test_dlr_off() -> None:
    [sm] = bodies(transport("dlr=0"), "hi")
    assert sm.registered_delivery == 0


@pytest.mark.parametrize(
    ("query", "text", "dc", "payload"),
    [
        ("", "Привет", 8, "Привет".encode("utf-16-be")),
        ("coding=ucs2", "hi", 8, "hi".encode("utf-16-be")),
        ("coding=latin1", "café", 3, "café".encode("latin-1")),
        ("coding=latin1", "Привет", 8, "Привет".encode("utf-16-be")),
        ("", "backtick ` forces ucs2", 8, "backtick ` forces ucs2".encode("utf-16-be")),
    ],
)
def test_codings(query: str, text: str, dc: int, payload: bytes) -> None:
    [sm] = bodies(transport(query), text)
    assert (sm.data_coding, sm.short_message) == (dc, payload)


def test_forced_gsm_refuses_non_gsm_text() -> None:
    out = transport("coding=gsm").encode_message(Message(to="+77011234567", text="Привет"))
    assert not isinstance(out, list) and out.code is ErrorCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("mode", "per_segment", "header"),
    [("udh8", 153, 6), ("udh16", 152, 7)],
)
def test_udh_segments(mode: str, per_segment: int, header: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(400))
    sms = bodies(transport(f"long={mode}"), text)
    assert len(sms) == 3
    refs = set()
    joined = b""
    for i, sm in enumerate(sms, 1):
        assert sm.esm_class & codec.ESM_UDHI
        concat, data = codec.split_udh(sm.short_message)
        assert concat is not None and (concat.total, concat.seq) == (3, i)
        assert len(sm.short_message) - len(data) == header
        refs.add(concat.ref)
        joined += data
    assert len(refs) == 1
    assert len(codec.split_udh(sms[0].short_message)[1]) == per_segment
    assert decode_gsm7(joined) == text


def test_sar_segments() -> None:
    text = "x" * 200
    sms = bodies(transport("long=sar"), text)
    assert len(sms) == 2
    for i, sm in enumerate(sms, 1):
        info = codec.sar_info(sm.tlvs)
        assert info is not None and (info.total, info.seq) == (2, i)
        assert not sm.esm_class & codec.ESM_UDHI
    assert b"".join(sm.short_message for sm in sms) == text.encode()


def test_payload_mode() -> None:
    text = "y" * 500
    [sm] = bodies(transport("long=payload"), text)
    assert sm.short_message == b""
    assert sm.payload == text.encode()


def test_ucs2_long_message_never_splits_a_surrogate_pair() -> None:
    text = "😀" * 40  # 80 UTF-16 units: two segments
    sms = bodies(transport(), text)
    assert len(sms) == 2
    data = [codec.split_udh(sm.short_message)[1] for sm in sms]
    assert all(len(d) % 4 == 0 for d in data)
    assert b"".join(data).decode("utf-16-be") == text


def test_refs_differ_between_messages() -> None:
    t = transport()
    a = bodies(t, "z" * 200)[0]
    b = bodies(t, "z" * 200)[0]
    ca, cb = codec.split_udh(a.short_message)[0], codec.split_udh(b.short_message)[0]
    assert ca is not None and cb is not None and ca.ref != cb.ref


def test_schedule_and_validity() -> None:
    when = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    [sm] = bodies(transport(), "hi", scheduled_at=when, validity=timedelta(hours=1))
    assert sm.schedule_delivery_time == "310102030405000+"
    assert sm.validity_period == "000000010000000R"
    assert smpp_relative(timedelta(days=1)) == "000001000000000R"
    assert smpp_time(when) == "310102030405000+"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (Message(to="not a number", text="x"), ErrorCode.INVALID_DESTINATION),
        (Message(to="+7701", text="x", sender="AVeryLongSenderName"), ErrorCode.INVALID_SENDER),
        (Message(to="+7701", text="x" * (153 * 256)), ErrorCode.MESSAGE_TOO_LONG),
        (Message(to="+7701", text="x", channel=Channel.EMAIL), ErrorCode.UNSUPPORTED),
    ],
)
def test_refusals_before_sending(message: Message, code: ErrorCode) -> None:
    out = transport().encode_message(message)
    assert not isinstance(out, list) and out.code is code


@pytest.mark.parametrize(
    "url",
    [
        "smpp://u:p@h?long=udh7",
        "smpp://u:p@h?coding=koi8",
        "smpp://u:p@h?mode=rx",
        "smpp://u:p@h?id_base=octal",
        "smpp://u:p@h?window=0",
        "smpp://u:p@h?from=ThisIsTooLongForAlnum",
        "smpp://h:2775",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        SmppTransport.from_url(url)


def test_submitted_result_equals_a_keyword_one() -> None:
    fast = submitted("m1", ("A", "B"))
    slow = SendResult(
        message_id="m1", status=DeliveryStatus.SUBMITTED, native_id="B", native_ids=("A", "B"), segments=2
    )
    assert fast == slow
    assert records.dump(fast) == records.dump(slow)
    assert fast.ok


def test_link_names_the_account_and_secret_stays_hidden() -> None:
    t = SmppTransport.from_url("smpp://acct:s3cret@smsc.example:2775")
    assert t.link == "smpp://acct@smsc.example:2775"
    assert "s3cret" not in repr(t) and "s3cret" not in str(t.url)


def test_empty_message_id_gives_no_native_id() -> None:
    r = submitted("m1", ("",))
    assert (r.native_id, r.native_ids, r.segments, r.status) == (None, (), 1, DeliveryStatus.SUBMITTED)
    assert r == SendResult(message_id="m1", status=DeliveryStatus.SUBMITTED, segments=1)
    two = submitted("m2", ("A", ""))
    assert (two.native_id, two.native_ids, two.segments) == ("A", ("A",), 2)
