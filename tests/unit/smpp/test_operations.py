"""submit_sm bodies from the cached encoder equal, byte for byte, codec.encode_sm of the same fields."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.adapters.smpp.operations import (
    CODINGS,
    LONG_MODES,
    SubmitEncoder,
    choose,
    smpp_relative,
    smpp_time,
)
from msgbridge.core.encoding import GSM_BASIC, GSM_CHARS, GSM_EXTENSION, LIMITS, Encoding, encode, split
from msgbridge.core.errors import ErrorInfo
from msgbridge.core.message import Message
from msgbridge.smpp import codec
from msgbridge.smpp.addressing import address

DATA_CODING = {Encoding.GSM7: 0, Encoding.LATIN1: 3, Encoding.UCS2: 8}
# The transport's own character set before the coding choice moved to core.encoding.
OLD_GSM_CHARS = frozenset(GSM_BASIC.replace("\x1b", "")) | frozenset(GSM_EXTENSION) | {"ç"}

texts = st.text(
    alphabet=st.sampled_from(sorted(OLD_GSM_CHARS) + list("ÿþ¼ПриветЖ€😀中")),
    max_size=420,
)
senders = st.sampled_from([None, "", "MyShop", "Shop-2", "+77011234567", "1234", "12345678", "77011234567"])
destinations = st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)
when = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


def old_choose(text: str, coding: str) -> Encoding | None:
    """The transport's coding rule as it was, for comparison."""
    if coding == "ucs2":
        return Encoding.UCS2
    gsm = OLD_GSM_CHARS.issuperset(text)
    if coding == "gsm":
        return Encoding.GSM7 if gsm else None
    if coding == "latin1":
        return Encoding.LATIN1 if all(ord(c) < 256 for c in text) else Encoding.UCS2
    return Encoding.GSM7 if gsm else Encoding.UCS2


def expected(message: Message, *, coding: str, long: str, dlr: bool, source: str, ref: int) -> list[bytes]:
    """The bodies, each field set on a ShortMessage and encoded by codec.encode_sm."""
    ton, npi, addr = address(message.sender or source) if (message.sender or source) else (0, 0, "")
    enc = old_choose(message.text, coding)
    assert enc is not None
    dest = message.to.removeprefix("+")
    base = {
        "service_type": "svc",
        "source_addr_ton": ton,
        "source_addr_npi": npi,
        "source_addr": addr,
        "destination_addr": dest,
        "registered_delivery": 1 if dlr else 0,
        "data_coding": DATA_CODING[enc],
        "schedule_delivery_time": smpp_time(message.scheduled_at) if message.scheduled_at else "",
        "validity_period": smpp_relative(message.validity) if message.validity else "",
    }
    data = encode(message.text, enc)
    units = len(data) // 2 if enc is Encoding.UCS2 else len(data)
    if units <= LIMITS[enc].single:
        return [codec.encode_sm(codec.ShortMessage(short_message=data, **base))]  # type: ignore[arg-type]
    if long == "payload":
        sm = codec.ShortMessage(tlvs={codec.TLV_MESSAGE_PAYLOAD: data}, **base)  # type: ignore[arg-type]
        return [codec.encode_sm(sm)]
    parts = split(message.text, enc, ref16=long == "udh16")
    total = len(parts)
    out = []
    for i, part in enumerate(parts, 1):
        if long == "sar":
            sm = codec.ShortMessage(short_message=encode(part, enc), **base)  # type: ignore[arg-type]
            out.append(codec.encode_sm(sm, codec.sar_tlvs(ref & 0xFFFF, total, i)))
        else:
            udh = (
                codec.udh_16bit(ref & 0xFFFF, total, i)
                if long == "udh16"
                else codec.udh_8bit(ref & 0xFF, total, i)
            )
            sm = codec.ShortMessage(short_message=udh + encode(part, enc), esm_class=codec.ESM_UDHI, **base)  # type: ignore[arg-type]
            out.append(codec.encode_sm(sm))
    return out


@settings(max_examples=400, deadline=None)
@given(
    text=texts,
    sender=senders,
    to=destinations,
    coding=st.sampled_from(CODINGS),
    long=st.sampled_from(LONG_MODES),
    dlr=st.booleans(),
    source=st.sampled_from(["", "Default", "+4915112345678"]),
    scheduled=st.booleans(),
    validity=st.sampled_from([None, timedelta(minutes=5), timedelta(days=400)]),
)
def test_bodies_equal_the_codec_encoder(
    text: str,
    sender: str | None,
    to: str,
    coding: str,
    long: str,
    dlr: bool,
    source: str,
    scheduled: bool,
    validity: timedelta | None,
) -> None:
    message = Message(
        to=to, text=text, sender=sender, scheduled_at=when if scheduled else None, validity=validity
    )
    encoder = SubmitEncoder(
        service_type="svc", source=source, dlr=dlr, coding=coding, long=long, refs=itertools.count(300)
    )
    out = encoder.encode(message)
    if old_choose(text, coding) is None:
        assert isinstance(out, ErrorInfo)
        return
    if isinstance(out, ErrorInfo):  # only a message too long for 255 segments may be refused here
        assert out.code.name == "MESSAGE_TOO_LONG"
        return
    assert out == expected(message, coding=coding, long=long, dlr=dlr, source=source, ref=300)


def test_the_gsm_character_set_is_the_one_the_transport_had() -> None:
    assert GSM_CHARS == OLD_GSM_CHARS


@given(texts, st.sampled_from(CODINGS))
def test_coding_choice_is_the_transport_rule(text: str, coding: str) -> None:
    assert choose(text, coding) is old_choose(text, coding)


def test_encode_sm_follows_the_declared_layout() -> None:
    """Every field of SM_LAYOUT, in order, then sm_length and short_message: the order decode_sm reads."""
    m = codec.ShortMessage(
        "src", "dst", b"hi", 5, 0, 1, 1, 0x40, 2, 3, "310102030405000+", "000001000000000R", 1, 0, 8, 0, "svc"
    )
    assert codec.decode_sm(codec.encode_sm(m)) == m
    assert [name for name, _ in codec.SM_LAYOUT][:4] == [
        "service_type",
        "source_addr_ton",
        "source_addr_npi",
        "source_addr",
    ]
