"""Selzy: every table row, the request shapes of the documents, and parsing without a network."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from msgbridge.adapters.http import selzy
from msgbridge.core.errors import ErrorCode
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus

EXPECTED_ERRORS = [
    ("unspecified", "PERMANENT_FAILURE"),
    ("invalid_api_key", "AUTH_FAILED"),
    ("access_denied", "ACCESS_DENIED"),
    ("unknown_method", "UNSUPPORTED"),
    ("invalid_arg", "INVALID_ARGUMENT"),
    ("not_enough_money", "INSUFFICIENT_FUNDS"),
    ("retry_later", "TEMPORARY_FAILURE"),
    ("api_call_limit_exceeded_for_api_key", "THROTTLED"),
    ("api_call_limit_exceeded_for_ip", "THROTTLED"),
    ("too_many_double_optins", "THROTTLED"),
    ("dest_invalid", "INVALID_DESTINATION"),
    ("src_invalid", "INVALID_SENDER"),
]

EXPECTED_STATUSES = [
    ("not_sent", "QUEUED"),
    ("ok_sent", "SUBMITTED"),
    ("ok_delivered", "DELIVERED"),
    ("err_src_invalid", "REJECTED"),
    ("err_dest_invalid", "UNDELIVERABLE"),
    ("err_skip_letter", "CANCELED"),
    ("err_not_allowed", "REJECTED"),
    ("err_delivery_failed", "UNDELIVERABLE"),
    ("err_lost", "FAILED"),
    ("err_internal", "FAILED"),
]

CFG = selzy.SelzyConfig(base_url="https://api.selzy.com", api_key="KEY123", lang="en", platform="MySite")


def test_error_table_is_exactly_the_expected_rows() -> None:
    assert {k: v.value for k, v in selzy.ERRORS.items()} == dict(EXPECTED_ERRORS)


@pytest.mark.parametrize(("native", "expected"), EXPECTED_ERRORS)
def test_error_row_through_a_response(native: str, expected: str) -> None:
    info = selzy.error_of({"error": "something", "code": native, "result": ""})
    assert info is not None
    assert info.code is ErrorCode(expected)
    assert info.native_code == native
    assert info.native_message == "something"


def test_status_table_is_exactly_the_expected_rows() -> None:
    assert {k: v.value for k, v in selzy.STATUSES.items()} == dict(EXPECTED_STATUSES)


@pytest.mark.parametrize(("native", "expected"), EXPECTED_STATUSES)
def test_status_row_through_check_sms(native: str, expected: str) -> None:
    receipt = selzy.parse_check({"result": {"status": native}}, "77", "selzy://x")
    assert not isinstance(receipt, selzy.ErrorInfo)
    assert receipt.status is DeliveryStatus(expected)
    assert receipt.native_status == native


def test_documented_rule_for_new_status_values() -> None:
    assert selzy.map_status("err_new_reason") is DeliveryStatus.FAILED
    assert selzy.map_status("ok_read") is DeliveryStatus.UNKNOWN
    assert selzy.map_status("") is DeliveryStatus.UNKNOWN


EXPECTED_TEXT_RULES = {
    ("unspecified", r"invalid sms id|not found"): "NOT_FOUND",
    ("invalid_arg", r"sender"): "INVALID_SENDER",
    ("invalid_arg", r"text.*(long|length)"): "MESSAGE_TOO_LONG",
    ("invalid_arg", r"phone"): "INVALID_DESTINATION",
}


def test_text_rules_are_exactly_the_expected_rows() -> None:
    assert {k: v.value for k, v in selzy.TEXT_RULES.items()} == EXPECTED_TEXT_RULES


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        ("unspecified", "AK100313-05 [invalid sms id]", "NOT_FOUND"),
        ("invalid_arg", "invalid sender", "INVALID_SENDER"),
        ("invalid_arg", "text: too long (1200 > 1000 characters)", "MESSAGE_TOO_LONG"),
        ("invalid_arg", "invalid phone", "INVALID_DESTINATION"),
        ("invalid_arg", "invalid list_id", "INVALID_ARGUMENT"),
        ("brand_new_code", "?", "PERMANENT_FAILURE"),
    ],
)
def test_text_refinements(code: str, text: str, expected: str) -> None:
    assert selzy.map_error(code, text) is ErrorCode(expected)


def test_daily_quota_carries_a_long_retry_after() -> None:
    info = selzy.error_of({"error": "quota", "code": "too_many_double_optins"})
    assert info is not None
    assert info.retry_after == 3600.0


def body_of(request: httpx.Request) -> dict[str, list[str]]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.content.decode())


def test_send_request_shape_key_in_body_never_url() -> None:
    request = selzy.send_request(CFG, ["77011234567", "77017654321"], "Shop", "Hello")
    assert request.method == "POST"
    assert str(request.url) == "https://api.selzy.com/en/api/sendSms"
    assert "KEY123" not in str(request.url)
    assert body_of(request) == {
        "format": ["json"],
        "api_key": ["KEY123"],
        "platform": ["MySite"],
        "phone": ["77011234567,77017654321"],
        "sender": ["Shop"],
        "text": ["Hello"],
    }


def test_send_request_limits() -> None:
    selzy.send_request(CFG, ["7701"] * 150, "Shop", "x")
    with pytest.raises(ValueError):
        selzy.send_request(CFG, ["7701"] * 151, "Shop", "x")


def test_every_method_carries_platform_and_key_in_body() -> None:
    requests = [
        selzy.check_request(CFG, "2376678.79092020303"),
        selzy.api_request(CFG, "getLists"),
        selzy.api_request(CFG, "createList", {"title": "t"}),
        selzy.import_request(CFG, "5", [("77011234567", {})], []),
        selzy.create_campaign_request(CFG, "9", None),
        selzy.api_request(CFG, "cancelCampaign", {"campaign_id": "1"}),
    ]
    for request in requests:
        body = body_of(request)
        assert body["platform"] == ["MySite"]
        assert body["api_key"] == ["KEY123"]
        assert request.url.query == b""
    assert body_of(requests[0])["sms_id"] == ["2376678.79092020303"]


def test_import_request_shape() -> None:
    request = selzy.import_request(
        CFG, "12", [("77011234567", {"name": "Ann"}), ("77017654321", {"name": "Bo"})], ["name"]
    )
    body = body_of(request)
    assert [body[f"field_names[{i}]"] for i in range(3)] == [["phone"], ["phone_list_ids"], ["name"]]
    assert body["data[0][0]"] == ["77011234567"]
    assert body["data[0][1]"] == ["12"]
    assert body["data[1][2]"] == ["Bo"]
    with pytest.raises(ValueError):
        selzy.import_request(CFG, "12", [("7701", {})] * 501, [])


def test_create_campaign_schedules_in_utc() -> None:
    when = datetime(2030, 5, 1, 9, 30, tzinfo=UTC)
    body = body_of(selzy.create_campaign_request(CFG, "9", when))
    assert body["start_time"] == ["2030-05-01 09:30"]
    assert body["timezone"] == ["UTC"]
    assert body["track_read"] == ["1"]
    assert body["track_links"] == ["1"]
    assert "start_time" not in body_of(selzy.create_campaign_request(CFG, "9", None))


def test_published_rate_limit_is_the_default_cap() -> None:
    capped = selzy.SelzyTransport.from_url("selzy://K@api.selzy.com")
    assert capped.bucket is not None
    assert capped.bucket.rate == 20.0  # 1200 calls a minute
    assert selzy.SelzyTransport.from_url("selzy://K@api.selzy.com?rate=0").bucket is None
    assert selzy.SelzyTransport.from_url("selzy://K@api.selzy.com?rate=5").bucket.rate == 5.0  # type: ignore[union-attr]


def test_url_text_field_is_checked() -> None:
    t = selzy.SelzyTransport.from_url("selzy://K@api.selzy.com?text_field=my_text")
    assert isinstance(t, selzy.SelzyTransport)
    assert t.text_field == "my_text"
    with pytest.raises(selzy.ConfigError):
        selzy.SelzyTransport.from_url("selzy://K@api.selzy.com?text_field=My Text")


def msgs(*phones: str) -> list[Message]:
    return [Message(to=p, text="hi") for p in phones]


def test_parse_single_result_keeps_sms_id_opaque_and_warnings() -> None:
    data = {
        "result": {"currency": "USD", "price": "0.02", "sms_id": "2376678.79092020303"},
        "warnings": [{"warning": "probably not a mobile phone"}],
    }
    [result] = selzy.parse_send(data, msgs("+77011234567"))
    assert result.status is DeliveryStatus.SUBMITTED
    assert result.native_id == "2376678.79092020303"
    assert result.warnings == ("probably not a mobile phone",)
    assert result.cost == (20_000, "USD")  # the answer's price and currency


def test_parse_multi_result_matches_by_phone_with_per_number_errors() -> None:
    data = {
        "result": [
            {"phone": "77017654321", "sms_id": 11},
            {"phone": "77011234567", "error": "invalid phone", "code": "dest_invalid"},
        ]
    }
    first, second = selzy.parse_send(data, msgs("+77011234567", "+77017654321"))
    assert first.status is DeliveryStatus.REJECTED
    assert first.error is not None
    assert first.error.code is ErrorCode.INVALID_DESTINATION
    assert second.native_id == "11"
    assert (first.cost, second.cost) == (None, None)  # no price given: none known, not 0


def test_parse_missing_number_is_maybe_submitted_not_lost() -> None:
    data = {"result": [{"sms_id": 11}]}
    ok, missing = selzy.parse_send(data, msgs("+77011234567", "+77017654321"))
    assert ok.native_id == "11"
    assert missing.status is DeliveryStatus.MAYBE_SUBMITTED
    assert missing.error is not None
    assert missing.error.code is ErrorCode.PROTOCOL_ERROR


def test_parse_whole_call_error_rejects_every_message() -> None:
    data = {"error": "Not enough money", "code": "not_enough_money", "result": ""}
    results = selzy.parse_send(data, msgs("+77011234567", "+77017654321"))
    assert [r.status for r in results] == [DeliveryStatus.REJECTED] * 2
    assert all(r.error is not None and r.error.code is ErrorCode.INSUFFICIENT_FUNDS for r in results)


def test_parse_odd_shapes_are_protocol_errors() -> None:
    [r] = selzy.parse_send(["not", "an", "object"], msgs("+77011234567"))
    assert r.error is not None
    assert r.error.code is ErrorCode.PROTOCOL_ERROR
    assert r.status is DeliveryStatus.MAYBE_SUBMITTED
    assert selzy.error_of({"nothing": 1}) is not None


def test_delivery_stats_rows_become_receipts() -> None:
    data = {
        "result": {
            "fields": ["email", "phone", "send_result"],
            "data": [["", "77011234567", "ok_delivered"], ["", "77017654321", "err_lost"]],
        }
    }
    receipts = selzy.parse_delivery_stats(data, "55", "selzy://x")
    assert not isinstance(receipts, selzy.ErrorInfo)
    assert [(r.native_id, r.status.value) for r in receipts] == [
        ("c55:77011234567", "DELIVERED"),
        ("c55:77017654321", "FAILED"),
    ]
    assert selzy.split_campaign_native_id("c55:77011234567") == ("55", "77011234567")
    assert selzy.split_campaign_native_id("2376678.79") is None


def test_fields_selzy_cannot_honour_are_refused_not_dropped() -> None:
    from datetime import timedelta

    from msgbridge.core.message import Channel

    for message in (
        Message(to="+77011234567", text="x", validity=timedelta(hours=1)),
        Message(to="+77011234567", text="x", channel=Channel.EMAIL),
        Message(to="+77011234567", text="x", scheduled_at=datetime(2030, 1, 1, tzinfo=UTC)),
    ):
        info = selzy.validate(message, "Shop")
        assert info is not None
        assert info.code is ErrorCode.UNSUPPORTED


def test_local_validation() -> None:
    assert selzy.validate(Message(to="+77011234567", text="x"), None) is not None  # no sender
    assert selzy.validate(Message(to="+77011234567", text="x", sender="Shop"), None) is None
    long = selzy.validate(Message(to="+77011234567", text="x" * 1001), "Shop")
    assert long is not None
    assert long.code is ErrorCode.MESSAGE_TOO_LONG
    bad = selzy.validate(Message(to="12", text="x"), "Shop")
    assert bad is not None
    assert bad.code is ErrorCode.INVALID_DESTINATION


def test_url_options_are_checked() -> None:
    t = selzy.SelzyTransport.from_url("selzy://KEY@api.selzy.com?lang=ru&platform=MySite")
    assert isinstance(t, selzy.SelzyTransport)
    assert t.cfg.lang == "ru"
    assert t.cfg.platform == "MySite"
    assert t.base_url == "https://api.selzy.com"
    assert "KEY" not in str(t.url)
    for bad in ("lang=de", "platform=My Site"):
        with pytest.raises(selzy.ConfigError):
            selzy.SelzyTransport.from_url(f"selzy://KEY@api.selzy.com?{bad}")
    with pytest.raises(selzy.ConfigError):
        selzy.SelzyTransport.from_url("selzy://api.selzy.com")
