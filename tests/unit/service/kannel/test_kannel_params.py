"""The pure parts of reading Kannel and Jasmin requests: numbers as sscanf reads them, SMPP times, Jasmin's
argument checks in send.py's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from msgbridge.service.kannel.params import cgi_args, cgi_int, check_jasmin, smpp_when
from msgbridge.service.kannel.replies import Refused


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"31", 31),
        (b" 7", 7),
        (b"-1", -1),
        (b"+3", 3),
        (b"12abc", 12),
        (b"abc", None),
        (b"", None),
        (None, None),
    ],
)
def test_numbers_are_read_as_sscanf_reads_them(raw: bytes | None, value: int | None) -> None:
    assert cgi_int(raw) == value


def test_cgi_values_are_the_bytes_sent_and_the_first_one_counts() -> None:
    args = cgi_args("text=%04%1F%04%40&to=1+2&to=3&empty=")
    assert args == {"text": b"\x04\x1f\x04\x40", "to": b"1 2", "empty": b""}


NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_smpp_times_absolute_with_offset_and_relative() -> None:
    assert smpp_when("261203120000004+", NOW) == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)  # UTC+1h
    assert smpp_when("261203120000008-", NOW) == datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    assert smpp_when("000000000100000R", NOW) == NOW + timedelta(minutes=1)  # the documentation's example
    assert smpp_when("261399120000000+", NOW) is None  # month 13
    assert smpp_when("tomorrow", NOW) is None


BASE = {"username": "shop", "password": "mbk_x", "to": "+77011234567", "content": "Hello"}


def refusal(args: dict[str, str]) -> str:
    with pytest.raises(Refused) as caught:
        check_jasmin(args)
    return str(caught.value)


def test_jasmin_defaults_a_dlr_to_level_1_and_post() -> None:
    sent = check_jasmin({**BASE, "dlr-url": "http://app/dlr"})
    assert (sent.dlr_url, sent.dlr_level, sent.dlr_method) == ("http://app/dlr", 1, "POST")
    assert check_jasmin({**BASE, "dlr": "yes"}).dlr_url is None  # "dlr value is reconsidered as 'no'"
    assert check_jasmin({**BASE, "dlr-url": "http://app/dlr", "dlr-method": "get"}).dlr_method == "GET"


def test_jasmin_refusals_in_send_py_order() -> None:
    assert refusal({}) == 'Error "Mandatory arguments not found, please refer to the HTTPAPI specifications."'
    assert refusal({**BASE, "colour": "red"}) == 'Error "Argument [colour] is unknown."'
    assert refusal({**BASE, "to": "77-01"}) == 'Error "Argument [to] has an invalid value: [77-01]."'
    assert (
        refusal({k: v for k, v in BASE.items() if k != "password"})
        == 'Error "Mandatory argument [password] is not found."'
    )
    assert (
        refusal({k: v for k, v in BASE.items() if k != "content"})
        == 'Error "content or hex-content not present."'
    )
    assert (
        refusal({**BASE, "hex-content": "48"})
        == 'Error "content and hex-content cannot be used both in same request."'
    )
    assert refusal({**BASE, "coding": "4"}).startswith(
        'Error "Argument [coding] has an unsupported value: [4]'
    )


def test_jasmin_content_is_decoded_from_its_coding() -> None:
    ucs2 = {k: v for k, v in BASE.items() if k != "content"} | {
        "hex-content": "0623063106460628",
        "coding": "8",
    }
    assert check_jasmin(ucs2).text == "\u0623\u0631\u0646\u0628"  # the documentation's Arabic example
    raw = "\x06\x23\x06\x31\x06\x46\x06\x28"  # the same, sent as content
    assert check_jasmin({**BASE, "content": raw, "coding": "8"}).text == "\u0623\u0631\u0646\u0628"
    assert check_jasmin({**BASE, "content": "Grüße"}).text == "Grüße"
