"""The ``kannel`` and ``jasmin`` callback formats over StoredEvent and MessageRecord values: the report type
of every status, the filled-in dlr-url for each mask bit, Jasmin's levels and fields."""

from __future__ import annotations

import calendar
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.kannel.dlr import (
    JASMIN,
    KANNEL,
    KANNEL_TYPES,
    RECEIPT_STATS,
    jasmin_level,
    kannel_type,
    split_connector,
    with_connector,
)
from msgbridge.service.kannel.escapes import fill
from msgbridge.smpp.status import error_info
from msgbridge.store.base import MessageRecord, StoredEvent

S = DeliveryStatus
SENT_AT = calendar.timegm((2026, 12, 3, 9, 15, 30, 0, 0, 0))
DONE_AT = SENT_AT + 65.0


def record(native_id: str | None = "5f3a", *, text: str = "Hello world from msgbridge") -> MessageRecord:
    message = Message(id="msg1", to="+77011234567", sender="Shop", text=text, validity=timedelta(minutes=60))
    return MessageRecord(
        message=message, status=S.DELIVERED, attempts=1, native_id=native_id, native_ids=(), link="smpp://u@h:2775",
        segments=1, last_error=None, created_at=SENT_AT, updated_at=DONE_AT,
    )  # fmt: skip


def event(
    status: DeliveryStatus,
    *,
    native_status: str | None = None,
    error: ErrorInfo | None = None,
    target: CallbackTarget | None = None,
) -> StoredEvent:
    return StoredEvent(
        n=1, id="evt_01JEXAMPLE0000000000000000", type="message.status", occurred_at=DONE_AT, message_id="msg1",
        status=status, native_status=native_status, error=error, segments=1, reference=None, campaign=None,
        to="+77011234567", inbound=None, target=target, state="pending", attempts=0, next_at=None, last_error=None,
    )  # fmt: skip


# Every row of KANNEL_TYPES: (status, SMSC took it, the report type).
TYPE_ROWS = [
    (S.QUEUED, True, None), (S.QUEUED, False, None),
    (S.MAYBE_SUBMITTED, True, None), (S.MAYBE_SUBMITTED, False, None),
    (S.UNKNOWN, True, None), (S.UNKNOWN, False, None),
    (S.SUBMITTED, True, 8), (S.SUBMITTED, False, 8),
    (S.ACCEPTED, True, 4), (S.ACCEPTED, False, 4),
    (S.DELIVERED, True, 1), (S.DELIVERED, False, 1),
    (S.PARTIALLY_DELIVERED, True, 2), (S.PARTIALLY_DELIVERED, False, 2),
    (S.UNDELIVERABLE, True, 2), (S.UNDELIVERABLE, False, 2),
    (S.EXPIRED, True, 2), (S.EXPIRED, False, 2),
    (S.DELETED, True, 2), (S.DELETED, False, 2),
    (S.REJECTED, True, 2), (S.REJECTED, False, 16),
    (S.FAILED, True, 2), (S.FAILED, False, 16),
    (S.CANCELED, True, 16), (S.CANCELED, False, 16),
]  # fmt: skip


def test_every_status_has_a_row() -> None:
    assert set(KANNEL_TYPES) == set(DeliveryStatus)
    assert {(s, t) for s, t, _ in TYPE_ROWS} == {(s, t) for s in DeliveryStatus for t in (True, False)}


@pytest.mark.parametrize(("status", "smsc_took", "report"), TYPE_ROWS)
def test_report_type_of_each_status(status: DeliveryStatus, smsc_took: bool, report: int | None) -> None:
    assert kannel_type(status, smsc_took) == report


# The guide's chapter 10 example and every escape Table 7-10 lists for a report.
GUIDE_URL = "http://www.xyz.com/cgi/dlr.php?myId=123456&type=%d"
ALL = (
    "http://app.example/dlr?type=%d&reply=%A&fid=%F&mid=%I&to=%p&from=%P&q=%q&Q=%Q&t=%t&T=%T&err=%B"
    "&kw=%k&v=%v&unknown=%N&pct=%%"
)


def kannel_url(target_url: str, status: DeliveryStatus, mask: int, **kw: object) -> str | None:
    target = CallbackTarget(url=target_url, format="kannel", mask=mask, method="GET", key="shop")
    native_id = kw.pop("native_id", "5f3a")
    got = KANNEL.request(event(status, target=target, **kw), record(native_id), target, None)  # type: ignore[arg-type]
    if got is None:
        return None
    assert got.method == "GET" and got.body == b""
    return got.url


def test_the_guides_example_buffered_then_delivered() -> None:
    assert kannel_url(GUIDE_URL, S.ACCEPTED, 7) == "http://www.xyz.com/cgi/dlr.php?myId=123456&type=4"
    assert kannel_url(GUIDE_URL, S.DELIVERED, 7) == "http://www.xyz.com/cgi/dlr.php?myId=123456&type=1"
    assert kannel_url(GUIDE_URL, S.SUBMITTED, 7) is None  # 8 is not in 1+2+4


@pytest.mark.parametrize(
    ("bit", "status", "kw", "reply"),
    [
        (1, S.DELIVERED, {"native_status": "DELIVRD"},
         "id:5f3a sub:001 dlvrd:001 submit date:2612030915 done date:2612030916 stat:DELIVRD err:000 text:Hello world from msg"),
        (2, S.UNDELIVERABLE, {"native_status": "UNDELIV", "error": ErrorInfo(ErrorCode.PERMANENT_FAILURE, "012", "")},
         "id:5f3a sub:001 dlvrd:000 submit date:2612030915 done date:2612030916 stat:UNDELIV err:012 text:Hello world from msg"),
        (4, S.ACCEPTED, {"native_status": "ENROUTE"},
         "id:5f3a sub:001 dlvrd:000 submit date:2612030915 done date: stat:ENROUTE err:000 text:Hello world from msg"),
        (8, S.SUBMITTED, {}, "ACK/"),
        (16, S.REJECTED, {"native_id": None, "error": error_info(0x0B)},
         "NACK/0x0000000b/ESME_RINVDSTADR: Invalid Destination Address"),
    ],
)  # fmt: skip
def test_each_mask_bit_fills_the_url(
    bit: int, status: DeliveryStatus, kw: dict[str, object], reply: str
) -> None:
    url = kannel_url(ALL, status, bit, **kw)
    assert url is not None
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    assert query["type"] == str(bit)
    assert query["reply"] == reply
    assert query["fid"] == ("" if kw.get("native_id", "5f3a") is None else "5f3a")
    assert query["mid"] == "msg1"
    assert query["to"] == query["q"] == "+77011234567" and query["from"] == query["Q"] == "Shop"
    assert query["t"] == "2026-12-03 09:16:35" and query["T"] == str(int(DONE_AT))
    assert query["kw"] == reply.split()[0]
    assert query["v"] == "58"  # minutes of validity left: 60 from 09:15:30, reported at 09:16:35
    assert "unknown=%N&pct=%" in url  # an escape Kannel does not know stays; %% is one %
    assert url.startswith("http://app.example/dlr?type=")
    if kw.get("error") is not None and bit == 2:
        assert query["err"] == "012"
    # Every other bit of the mask excludes it.
    assert kannel_url(ALL, status, 31 & ~bit, **kw) is None


def test_url_encoding_of_filled_values_is_kannels() -> None:
    url = kannel_url("http://h/?to=%p&r=%A", S.SUBMITTED, 31)
    assert url == "http://h/?to=%2B77011234567&r=ACK%2F"


def test_submit_time_escapes_survive_the_report_pass() -> None:
    first = fill("http://h/?smsc=%i&n=%n&c=%c&type=%d", {"i": "sms", "n": "shop", "c": "0"}, final=False)
    assert kannel_url(first, S.DELIVERED, 1) == "http://h/?smsc=sms&n=shop&c=0&type=1"


def test_a_message_without_status_or_unknown_outcome_is_not_reported() -> None:
    assert kannel_url(ALL, S.MAYBE_SUBMITTED, 31) is None
    assert kannel_url(ALL, S.QUEUED, 31) is None


# -- Jasmin ------------------------------------------------------------------------------------------


def jasmin_request(
    status: DeliveryStatus, level: int, method: str = "POST", **kw: object
) -> dict[str, str] | None:
    target = CallbackTarget(
        url=with_connector("http://app.example/dlr?app=1", "sms"),
        format="jasmin",
        mask=level,
        method=method,
        key="shop",
    )
    native_id = kw.pop("native_id", "5f3a")
    got = JASMIN.request(event(status, target=target, **kw), record(native_id), target, None)  # type: ignore[arg-type]
    if got is None:
        return None
    if method == "GET":
        parts = urlsplit(got.url)
        assert (
            got.body == b"" and parts.fragment == "" and got.url.startswith("http://app.example/dlr?app=1&")
        )
        return dict(parse_qsl(parts.query, keep_blank_values=True))
    assert got.url == "http://app.example/dlr?app=1"
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(got.body.decode(), keep_blank_values=True))


def test_jasmin_level_1_is_the_submit_result() -> None:
    assert jasmin_request(S.SUBMITTED, 1) == {
        "id": "msg1",
        "level": "1",
        "connector": "sms",
        "message_status": "ESME_ROK",
    }
    refused = jasmin_request(S.REJECTED, 1, native_id=None, error=error_info(0x0B))
    assert refused is not None and refused["message_status"] == "ESME_RINVDSTADR"
    http_refusal = jasmin_request(
        S.FAILED, 1, native_id=None, error=ErrorInfo(ErrorCode.INSUFFICIENT_FUNDS, "402", "no money")
    )
    assert http_refusal is not None and http_refusal["message_status"] == "ESME_RSUBMITFAIL"
    assert jasmin_request(S.DELIVERED, 1) is None  # a receipt is level 2


def test_jasmin_level_2_is_the_receipt_with_its_fields() -> None:
    got = jasmin_request(S.DELIVERED, 2, method="GET")
    assert got == {
        "app": "1", "id": "msg1", "level": "2", "connector": "sms", "message_status": "DELIVRD", "id_smsc": "5f3a",
        "sub": "001", "dlvrd": "001", "subdate": "2612030915", "donedate": "2612030916", "err": "000",
        "text": "Hello world from msg",
    }  # fmt: skip
    assert jasmin_request(S.SUBMITTED, 2) is None


def test_jasmin_level_3_gets_both() -> None:
    assert jasmin_request(S.SUBMITTED, 3) is not None and jasmin_request(S.EXPIRED, 3) is not None


@pytest.mark.parametrize(("status", "stat"), sorted(RECEIPT_STATS.items()))
def test_jasmin_message_status_of_each_receipt(status: DeliveryStatus, stat: str) -> None:
    got = jasmin_request(status, 2)
    assert got is not None and got["message_status"] == stat


@pytest.mark.parametrize(
    ("status", "smsc_took", "level"),
    [(S.QUEUED, False, None), (S.MAYBE_SUBMITTED, False, None), (S.SUBMITTED, True, 1), (S.CANCELED, False, 1),
     (S.REJECTED, False, 1), (S.FAILED, False, 1), (S.REJECTED, True, 2), (S.FAILED, True, 2), (S.ACCEPTED, True, 2),
     (S.DELIVERED, True, 2), (S.UNKNOWN, True, 2)],
)  # fmt: skip
def test_jasmin_level_of_each_status(status: DeliveryStatus, smsc_took: bool, level: int | None) -> None:
    assert jasmin_level(event(status), record("5f3a" if smsc_took else None)) == level


def test_the_connector_rides_in_the_fragment() -> None:
    url = with_connector("https://app.example/dlr?x=1", "backup")
    assert url == "https://app.example/dlr?x=1#connector=backup"
    assert split_connector(url) == ("https://app.example/dlr?x=1", "backup")
    assert split_connector("https://app.example/dlr") == ("https://app.example/dlr", "unknown")
