"""The SMSC.ru mail body and the <phone>@<domain> form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from msgbridge.adapters.smtp import sms_gateway
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import Message
from msgbridge.core.url import Secret


def test_smsc_body_is_the_colon_command_with_the_text_last() -> None:
    msg = Message(id="abc", to="+7 (701) 123-45-67", text="code: 1234\nbye")
    body = sms_gateway.smsc_body(msg, sms_gateway.SmscAccount("alice", Secret("pw")), "Shop")
    ident = sms_gateway.smsc_id(msg)
    assert body == f"alice:pw:{ident}::0,0,Shop:77011234567:code: 1234\nbye"
    assert ident.isdigit() and 0 < int(ident) < 2**31
    assert sms_gateway.smsc_id(msg) == ident  # stable for one message


def test_smsc_body_options_and_schedule() -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    msg = Message(id="x", to="+77011234567", text="hi", scheduled_at=at)
    body = sms_gateway.smsc_body(
        msg, sms_gateway.SmscAccount("", Secret("APIKEY"), translit=True, format=1), None
    )
    assert isinstance(body, str)
    fields = body.split(":")
    assert fields[0] == "" and fields[1] == "APIKEY"
    assert fields[3] == f"0{int(at.timestamp())}"
    assert fields[4] == "1,1,"
    assert fields[5:] == ["77011234567", "hi"]


@pytest.mark.parametrize("sender", ["a:b", "a,b"])
def test_smsc_refuses_a_sender_that_would_shift_fields(sender: str) -> None:
    out = sms_gateway.smsc_body(
        Message(to="+77011234567", text="x"), sms_gateway.SmscAccount("l", Secret("p")), sender
    )
    assert isinstance(out, ErrorInfo) and out.code is ErrorCode.INVALID_SENDER


def test_smsc_refuses_bad_numbers_and_bad_credentials() -> None:
    out = sms_gateway.smsc_body(Message(to="12", text="x"), sms_gateway.SmscAccount("l", Secret("p")), None)
    assert isinstance(out, ErrorInfo) and out.code is ErrorCode.INVALID_DESTINATION
    with pytest.raises(ConfigError):
        sms_gateway.SmscAccount("l", Secret("p:q"))


def test_gateway_address_uses_international_digits() -> None:
    msg = Message(to="+44 7911 123456", text="x")
    assert sms_gateway.gateway_address(msg, "sms.example.net") == "447911123456@sms.example.net"
    bad = sms_gateway.gateway_address(Message(to="abc", text="x"), "d")
    assert isinstance(bad, ErrorInfo) and bad.code is ErrorCode.INVALID_DESTINATION


def test_the_password_never_prints() -> None:
    account = sms_gateway.SmscAccount("alice", Secret("hunter2"))
    assert "hunter2" not in repr(account) and "hunter2" not in str(account)


@pytest.mark.parametrize("name", sorted(sms_gateway.SMSC_FORMATS))
def test_smsc_format_rows(name: str) -> None:
    expected = {"plain": 0, "flash": 1}
    assert sorted(sms_gateway.SMSC_FORMATS) == sorted(expected)
    assert sms_gateway.SMSC_FORMATS[name] == expected[name]
