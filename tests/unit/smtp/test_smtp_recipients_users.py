"""RCPT address rules and the hashed users file."""

from __future__ import annotations

import pytest

from msgbridge.core.errors import ConfigError
from msgbridge.inbound.recipients import BAD_NUMBER, BAD_SYNTAX, RELAY_DENIED, Refused, phone_for
from msgbridge.inbound.smtp_gateway import parse_size
from msgbridge.inbound.users import User, format_user, hash_password, parse_users, verify_password

DOMAINS = frozenset({"sms.example.com"})


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("+77011234567@sms.example.com", "+77011234567"),
        ("77011234567@SMS.EXAMPLE.COM", "+77011234567"),
        ("<+7-701-123.45.67@sms.example.com>", "+77011234567"),
        ("+(44)7911123456@sms.example.com.", "+447911123456"),
    ],
)
def test_phone_addresses(address: str, expected: str) -> None:
    assert phone_for(address, DOMAINS) == expected


def test_national_numbers_use_the_default_region() -> None:
    assert phone_for("87011234567@sms.example.com", DOMAINS, "KZ") == "+77011234567"


@pytest.mark.parametrize(
    ("address", "reply"),
    [
        ("77011234567@evil.com", RELAY_DENIED),
        ("77011234567@sms.example.com.evil.com", RELAY_DENIED),
        ("77011234567", RELAY_DENIED),
        ("bob@sms.example.com", BAD_SYNTAX),
        ("७७०११२३४५६७@sms.example.com", BAD_SYNTAX),  # non-ASCII digits
        ("1234567@sms.example.com", BAD_NUMBER),  # too short
        ("1234567890123456@sms.example.com", BAD_NUMBER),  # too long
        ("99912345678@sms.example.com", BAD_NUMBER),  # no such country
    ],
)
def test_refusals(address: str, reply: str) -> None:
    assert phone_for(address, DOMAINS) == Refused(reply)


def test_reply_texts() -> None:
    assert RELAY_DENIED == "550 5.7.1 Relaying denied"
    assert BAD_SYNTAX.startswith("553 5.1.3")
    assert BAD_NUMBER.startswith("550 5.1.1")


def test_passwords_are_stored_hashed_and_checked() -> None:
    stored = hash_password("s3cret")
    assert "s3cret" not in stored and stored.startswith("scrypt$")
    assert verify_password(stored, b"s3cret")
    assert not verify_password(stored, b"s3cret ")
    assert not verify_password("scrypt$garbage", b"s3cret")
    assert not verify_password("md5$x", b"s3cret")
    assert hash_password("s3cret") != stored  # salted


def test_users_file_round_trip() -> None:
    line = format_user(User("bob", hash_password("pw"), "BobShop"))
    parsed = parse_users(f"# comment\n\n{line}\nalice:{hash_password('x')}\n")
    assert parsed["bob"].sender == "BobShop" and parsed["alice"].sender is None
    assert verify_password(parsed["bob"].password_hash, b"pw")
    with pytest.raises(ConfigError):
        parse_users("bob:plaintext-password")


@pytest.mark.parametrize(
    ("text", "size"), [("100KB", 102400), ("64k", 65536), ("1MB", 1048576), ("512", 512)]
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_destination_countries_can_be_limited() -> None:
    from msgbridge.inbound.recipients import COUNTRY_DENIED, country_of

    kz_only = frozenset({"KZ"})
    assert phone_for("77011234567@sms.example.com", DOMAINS, countries=kz_only) == "+77011234567"
    assert phone_for("79161234567@sms.example.com", DOMAINS, countries=kz_only) == Refused(COUNTRY_DENIED)
    assert COUNTRY_DENIED.startswith("550 5.7.1")
    assert country_of("+447400123456") == "GB"
    assert country_of("+79161234567") == "RU"
