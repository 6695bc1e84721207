"""Kannel's escape codes and URL encoding (gw/urltrans.c, gwlib/octstr.c), filled in two passes."""

from __future__ import annotations

from msgbridge.service.kannel.escapes import SUBMIT_TIME, fill, meta_value, url_encode
from msgbridge.service.kannel.params import SendSms
from msgbridge.service.kannel.routes import submit_time_url, submit_time_values


def test_url_encoding_keeps_what_kannel_keeps_and_writes_space_as_plus() -> None:
    assert url_encode("AZaz09-_.!~*'()") == "AZaz09-_.!~*'()"
    assert url_encode("a b") == "a+b"
    assert url_encode("+7 701/x?&=%") == "%2B7+701%2Fx%3F%26%3D%25"
    assert url_encode("é") == "%C3%A9"  # upper-case hex digits, UTF-8 bytes


def test_the_final_pass_fills_known_escapes_and_copies_unknown_ones() -> None:
    values = {"d": "1", "p": "%2B77011234567"}
    assert fill("http://h/dlr?type=%d&to=%p&x=%Z&pct=%%&end=%", values, final=True) == (
        "http://h/dlr?type=1&to=%2B77011234567&x=%Z&pct=%&end=%"
    )


def test_the_submit_pass_leaves_report_escapes_and_percent_signs_for_the_final_pass() -> None:
    template = "http://h/dlr?smsc=%i&acct=%o&type=%d&lit=%%d"
    first = fill(template, {"i": "sms", "o": url_encode("Ä B")}, final=False)
    assert first == "http://h/dlr?smsc=sms&acct=%%C3%%84+B&type=%d&lit=%%d"
    # "%C3%84" holds "%C" (charset) and "%8": the final pass must read the filled value as text.
    assert (
        fill(first, {"d": "8", "C": "WRONG"}, final=True)
        == "http://h/dlr?smsc=sms&acct=%C3%84+B&type=8&lit=%d"
    )


def test_meta_data_parameters_are_read_by_group_and_name() -> None:
    meta = "?smpp?my-data=Hello+World&other=1?http?k=v"
    assert meta_value(meta, "smpp", "my-data") == "Hello+World"
    assert meta_value(meta, "http", "k") == "v"
    assert meta_value(meta, "smpp", "missing") == ""
    assert fill("x=%#smpp#other#&y=%d", {"#": ""}, final=True, meta_data=meta) == "x=1&y=%d"
    assert "#" in SUBMIT_TIME and "d" not in SUBMIT_TIME


def test_the_front_fills_exactly_the_submit_time_escapes() -> None:
    send = SendSms(
        username="shop", to=("77011234567",), text="x", sender=None, coding=2, charset="UTF-16BE", validity=None,
        deferred=None, smsc=None, dlr_mask=31, dlr_url=None, account="ö",
    )  # fmt: skip
    assert set(submit_time_values(send, "http://h/", "sms")) == SUBMIT_TIME
    url = submit_time_url(send, "http://h/?i=%i&n=%n&c=%c&C=%C&O=%O&o=%o&m=%m&d=%d&R=%R", "sms")
    assert url.startswith(
        "http://h/?i=sms&n=shop&c=2&C=UTF-16BE&O=08&o=%%C3%%B6&m=-1&d=%d&R=http%%3A%%2F%%2Fh%%2F%%3Fi%%3D%%25i"
    )
    assert fill(url, {"d": "1"}, final=True).endswith(
        "&d=1&R=" + url_encode("http://h/?i=%i&n=%n&c=%c&C=%C&O=%O&o=%o&m=%m&d=%d&R=%R")
    )
