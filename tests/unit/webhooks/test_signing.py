"""The signature header: what a receiver computes itself matches, and every way it can be wrong is refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

import msgbridge
from msgbridge.webhooks.signing import InvalidSignature, sign, verify_signature

BODY = b'{"event_id":"evt_01","type":"message.status"}'
NOW = 1_764_720_000


def test_header_is_the_documented_hmac() -> None:
    header = sign(BODY, "whsec_test", NOW)
    expected = hmac.new(b"whsec_test", f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_a_fresh_signature_verifies_from_the_package_root() -> None:
    msgbridge.verify_signature(BODY, sign(BODY, b"whsec_test", NOW), "whsec_test", now=NOW + 299)


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (None, "no Msgbridge-Signature header"),
        ("", "no Msgbridge-Signature header"),
        ("garbage", "not name=value"),
        ("t=abc,v1=00", "not a unix time"),
        ("v1=00", "no t= timestamp"),
        (f"t={NOW}", "no v1= signature"),
        (f"t={NOW},v1=00", "does not match"),
    ],
)
def test_bad_headers_say_what_is_wrong(header: str | None, words: str) -> None:
    with pytest.raises(InvalidSignature, match=words) as caught:
        verify_signature(BODY, header, "whsec_test", now=NOW)
    assert caught.value.code is msgbridge.ErrorCode.AUTH_FAILED


def test_old_and_future_signatures_are_refused() -> None:
    header = sign(BODY, "whsec_test", NOW)
    with pytest.raises(InvalidSignature, match="301 s old"):
        verify_signature(BODY, header, "whsec_test", now=NOW + 301)
    with pytest.raises(InvalidSignature, match="ahead"):
        verify_signature(BODY, header, "whsec_test", now=NOW - 301)
    verify_signature(BODY, header, "whsec_test", now=NOW + 3600, tolerance=3601)


def test_another_body_or_secret_is_refused() -> None:
    header = sign(BODY, "whsec_test", NOW)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(BODY + b" ", header, "whsec_test", now=NOW)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(BODY, header, "whsec_other", now=NOW)


def test_moving_the_body_to_another_time_breaks_the_signature() -> None:
    digest = sign(BODY, "whsec_test", NOW).split(",")[1]
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(BODY, f"t={NOW + 100},{digest}", "whsec_test", now=NOW + 100)


def test_rotation_signs_with_both_and_either_verifies() -> None:
    header = sign(BODY, ["whsec_new", "whsec_old"], NOW)
    assert header.count("v1=") == 2
    verify_signature(BODY, header, "whsec_old", now=NOW)
    verify_signature(BODY, header, "whsec_new", now=NOW)
    # A receiver that knows both accepts a sender that still signs with the old one only.
    verify_signature(BODY, sign(BODY, "whsec_old", NOW), ["whsec_new", "whsec_old"], now=NOW)


def test_an_empty_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        sign(BODY, "", NOW)
    with pytest.raises(ValueError, match="non-empty"):
        verify_signature(BODY, f"t={NOW},v1=00", [], now=NOW)


@given(body=st.binary(max_size=512), secret=st.binary(min_size=1, max_size=64), t=st.integers(0, 2**33))
def test_any_body_signed_verifies_and_one_flipped_byte_does_not(body: bytes, secret: bytes, t: int) -> None:
    header = sign(body, secret, t)
    verify_signature(body, header, secret, now=t)
    tampered = (body or b"\0")[:-1] + bytes([(body or b"\0")[-1] ^ 1])
    with pytest.raises(InvalidSignature):
        verify_signature(tampered, header, secret, now=t)
