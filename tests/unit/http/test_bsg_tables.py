"""BSG: every table row, documented request shapes, local validation and parsing without a network."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from msgbridge.adapters.http import bsg
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus

EXPECTED_ERRORS = [
    (1, "AUTH_FAILED"),
    (2, "ACCOUNT_BLOCKED"),
    (3, "INVALID_ARGUMENT"),
    (4, "UNSUPPORTED"),
    (5, "TEMPORARY_FAILURE"),
    (7, "INVALID_ARGUMENT"),
    (8, "INSUFFICIENT_FUNDS"),
    (20, "NOT_FOUND"),
    (21, "INVALID_DESTINATION"),
    (22, "INVALID_ARGUMENT"),
    (23, "DUPLICATE"),
    (24, "INVALID_ARGUMENT"),
    (25, "INVALID_SENDER"),
    (26, "MESSAGE_TOO_LONG"),
    (27, "INVALID_ARGUMENT"),
    (28, "INVALID_ARGUMENT"),
    (29, "INVALID_ARGUMENT"),
    (30, "NOT_FOUND"),
    (32, "INVALID_SENDER"),
    (33, "UNSUPPORTED"),
]
EXPECTED_HTTP = [
    (401, "AUTH_FAILED"),
    (403, "ACCESS_DENIED"),
    (404, "NOT_FOUND"),
    (422, "INVALID_ARGUMENT"),
    (429, "THROTTLED"),
    (500, "TEMPORARY_FAILURE"),
    (502, "TEMPORARY_FAILURE"),
    (503, "TEMPORARY_FAILURE"),
]
EXPECTED_FIELDS = [
    ("number", "INVALID_DESTINATION"),
    ("phone", "INVALID_DESTINATION"),
    ("phones", "INVALID_ARGUMENT"),
    ("messages", "INVALID_ARGUMENT"),
    ("sender", "INVALID_SENDER"),
    ("text", "MESSAGE_TOO_LONG"),
    ("reference_id", "INVALID_ARGUMENT"),
    ("validity", "INVALID_ARGUMENT"),
    ("tariff_code", "INVALID_ARGUMENT"),
    ("start_at", "INVALID_ARGUMENT"),
    ("groups", "INVALID_ARGUMENT"),
]
EXPECTED_STATUSES = [
    ("scheduled", "QUEUED"),
    ("moderation", "QUEUED"),
    ("sending", "QUEUED"),
    ("accepted", "ACCEPTED"),
    ("sent", "SUBMITTED"),
    ("delivered", "DELIVERED"),
    ("read", "DELIVERED"),
    ("expired", "EXPIRED"),
    ("failed", "FAILED"),
    ("undelivered", "UNDELIVERABLE"),
    ("rejected", "REJECTED"),
    ("unknown", "UNKNOWN"),
]

CFG = bsg.BsgConfig(base_url="https://one-api.bsg.world")


def test_tables_are_exactly_the_expected_rows() -> None:
    assert {k: v.value for k, v in bsg.ERRORS.items()} == dict(EXPECTED_ERRORS)
    assert {k: v.value for k, v in bsg.HTTP_ERRORS.items()} == dict(EXPECTED_HTTP)
    assert {k: v.value for k, v in bsg.FIELD_ERRORS.items()} == dict(EXPECTED_FIELDS)
    assert {k: v.value for k, v in bsg.STATUSES.items()} == dict(EXPECTED_STATUSES)


@pytest.mark.parametrize(("native", "expected"), EXPECTED_ERRORS)
def test_legacy_error_row(native: int, expected: str) -> None:
    info = bsg.error_of(200, {"error": native, "errorDescription": "desc"})
    assert info is not None
    assert info.code is ErrorCode(expected)
    assert info.native_code == native
    assert info.native_message == "desc"


@pytest.mark.parametrize(("status", "expected"), EXPECTED_HTTP)
def test_http_error_row(status: int, expected: str) -> None:
    info = bsg.error_of(status, {"message": "words"})
    assert info is not None
    assert info.code is ErrorCode(expected)
    assert info.native_code == status
    assert info.native_message == "words"


@pytest.mark.parametrize(("field", "expected"), EXPECTED_FIELDS)
def test_422_field_row(field: str, expected: str) -> None:
    info = bsg.error_of(
        422, {"message": "The given data was invalid.", "errors": {f"phones.0.{field}": ["bad"]}}
    )
    assert info is not None
    assert info.code is ErrorCode(expected)
    assert f"phones.0.{field}" in info.native_message


def test_text_rules_are_exactly_the_expected_rows() -> None:
    assert {k: v.value for k, v in bsg.TEXT_RULES.items()} == {
        ("reference_id", r"taken|duplicate"): "DUPLICATE",
        ("message", r"invalid campaign status"): "PERMANENT_FAILURE",
    }


def test_duplicate_reference_and_invalid_campaign_status() -> None:
    dup = bsg.error_of(
        422, {"errors": {"phones.2.reference_id": ["The reference id has already been taken."]}}
    )
    assert dup is not None and dup.code is ErrorCode.DUPLICATE
    stop = bsg.error_of(422, {"message": "Invalid campaign status"})
    assert stop is not None and stop.code is ErrorCode.PERMANENT_FAILURE


@pytest.mark.parametrize(("native", "expected"), EXPECTED_STATUSES)
def test_status_row_through_a_messages_page(native: str, expected: str) -> None:
    parsed = bsg.parse_messages(
        {"data": [{"id": 1, "campaign_id": 7, "reference_id": "abc", "status": native}]}, "bsg://x"
    )
    assert not isinstance(parsed, bsg.ErrorInfo)
    [receipt], count = parsed
    assert count == 1
    assert receipt.native_id == "7/abc"
    assert receipt.status is DeliveryStatus(expected)
    assert receipt.native_status == native


def test_unknown_status_value_is_unknown() -> None:
    assert bsg.map_status("teleported") is DeliveryStatus.UNKNOWN


def payload(request: httpx.Request) -> dict[str, object]:
    return json.loads(request.content)  # type: ignore[no-any-return]


def m(to: str = "+77011234567", text: str = "hello", **kw: object) -> Message:
    return Message(to=to, text=text, **kw)  # type: ignore[arg-type]


def test_bulk_send_shape() -> None:
    messages = [m(reference="A1"), m(to="77017654321", reference="B2", validity=timedelta(hours=5))]
    request = bsg.send_request(CFG, "TOKEN", messages, "Shop")
    assert request.method == "POST"
    assert str(request.url) == "https://one-api.bsg.world/api/campaigns/sms/send"
    assert request.headers["authorization"] == "Bearer TOKEN"
    assert payload(request) == {
        "phones": [
            {"number": 77011234567, "reference_id": "A1"},
            {"number": 77017654321, "reference_id": "B2"},
        ],
        "sender": "Shop",
        "text": "hello",
    }


def test_individual_send_shape_and_options() -> None:
    when = datetime.now(UTC) + timedelta(days=1)
    cfg = bsg.BsgConfig(base_url="https://one-api.bsg.world", tariff_code=3)
    messages = [
        m(text="a", reference="r1", validity=timedelta(hours=2), scheduled_at=when),
        m(text="b", reference="r2"),
    ]
    request = bsg.send_request(cfg, "T", messages, "Shop")
    assert str(request.url).endswith("/api/campaigns/sms/send-individual")
    assert payload(request) == {
        "messages": [
            {"phone": 77011234567, "text": "a", "sender": "Shop", "reference_id": "r1"},
            {"phone": 77011234567, "text": "b", "sender": "Shop", "reference_id": "r2"},
        ],
        "validity": 2,
        "tariff_code": 3,
        "start_at": when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }


def test_other_request_shapes() -> None:
    stop = bsg.stop_request(CFG, "T", "42")
    assert (stop.method, str(stop.url)) == ("PATCH", "https://one-api.bsg.world/api/campaigns/42/stop")
    login = bsg.login_request(CFG.base_url, "live_key")
    assert (login.method, str(login.url)) == ("POST", "https://one-api.bsg.world/api/auth/login")
    assert payload(login) == {"api_key": "live_key"}
    assert "authorization" not in login.headers
    refresh = bsg.refresh_request(CFG.base_url, "OLD")
    assert refresh.headers["authorization"] == "Bearer OLD"
    page = bsg.messages_request(CFG, "T", campaign_id="9", offset=500)
    assert page.url.params["filter[campaign_id]"] == "9"
    assert page.url.params["page[limit]"] == "500"
    assert page.url.params["page[offset]"] == "500"
    groups = bsg.groups_request(CFG, "T", [1, 2], "Shop", "Hi {12}")
    assert payload(groups) == {"groups": [1, 2], "sender": "Shop", "text": "Hi {12}"}
    with pytest.raises(ValueError):
        bsg.send_payload(CFG, [m()] * 10_001, "Shop")


def test_reference_ids_fit_the_documented_pattern() -> None:
    assert bsg.reference_id("Test98765") == "Test98765"
    derived = bsg.reference_id("row-17/campaign spring")
    assert len(derived) == 32 and derived.isalnum()
    assert bsg.reference_id("x" * 33) != "x" * 33
    assert (
        bsg.message_reference(Message(id="18eab2b4a640e404cf2bf27894ed", to="1", text="x"))
        == "18eab2b4a640e404cf2bf27894ed"
    )


@pytest.mark.parametrize(
    ("message", "sender", "field", "code"),
    [
        (m(to="+1234567"), "Shop", "number", "INVALID_DESTINATION"),
        (m(to="+1234567890123456"), "Shop", "number", "INVALID_DESTINATION"),
        (m(), "S", "sender", "INVALID_SENDER"),
        (m(), None, "sender", "INVALID_SENDER"),
        (m(text="x" * 766), "Shop", "text", "MESSAGE_TOO_LONG"),
        (m(text="я" * 336), "Shop", "text", "MESSAGE_TOO_LONG"),
        (m(validity=timedelta(hours=73)), "Shop", "validity", "INVALID_ARGUMENT"),
        (m(scheduled_at=datetime.now(UTC) + timedelta(days=31)), "Shop", "start_at", "INVALID_ARGUMENT"),
    ],
)
def test_local_validation_names_the_field(
    message: Message, sender: str | None, field: str, code: str
) -> None:
    info = bsg.validate(message, sender)
    assert info is not None
    assert info.code is ErrorCode(code)
    assert info.native_code == field
    assert info.native_message.startswith(f"{field}:")


def test_email_is_refused() -> None:
    from msgbridge.core.message import Channel

    info = bsg.validate(m(channel=Channel.EMAIL), "Shop")
    assert info is not None
    assert info.code is ErrorCode.UNSUPPORTED
    assert info.native_code == "channel"


def test_limits_that_pass() -> None:
    assert bsg.validate(m(text="x" * 765), "Shop") is None
    assert bsg.validate(m(text="я" * 335), "Shop") is None
    assert bsg.validate(m(validity=timedelta(hours=72)), "123456789012345") is None
    assert bsg.validate(m(to="+123456789"), "Shop") is None


def test_per_item_422_errors_by_index() -> None:
    failed = bsg.failed_indexes(
        {"errors": {"phones.3.number": ["bad"], "messages.0.text": ["long"], "sender": ["x"]}}
    )
    assert set(failed) == {0, 3}
    assert failed[3].code is ErrorCode.INVALID_DESTINATION
    assert failed[0].code is ErrorCode.MESSAGE_TOO_LONG


def test_campaign_parse_and_protocol_errors() -> None:
    assert bsg.parse_campaign({"data": {"id": 1, "status": "creation"}}) == {"id": 1, "status": "creation"}
    assert isinstance(bsg.parse_campaign({"data": {}}), bsg.ErrorInfo)
    assert isinstance(bsg.parse_messages({"nope": 1}, "x"), bsg.ErrorInfo)
    assert bsg.error_of(200, ["list"]) is not None


def test_token_expiry_is_read_from_the_jwt() -> None:
    from msgbridge.simulators.http.bsg import _jwt

    assert bsg.token_expiry(_jwt({"exp": 1700000000})) == 1700000000.0
    assert bsg.token_expiry("not-a-jwt") is None


def test_url_options() -> None:
    t = bsg.BsgTransport.from_url("bsg://live_KEY@one-api.bsg.world?tariff_code=2&sender=Shop")
    assert isinstance(t, bsg.BsgTransport)
    assert t.cfg.tariff_code == 2
    assert t.base_url == "https://one-api.bsg.world"
    assert "live_KEY" not in str(t.url) and "live_KEY" not in repr(t)
    with pytest.raises(ConfigError):
        bsg.BsgTransport.from_url("bsg://KEY@one-api.bsg.world?tariff_code=12")


@pytest.mark.parametrize(
    ("amount", "cost"),
    [
        ({"value": 0.0105, "currency": "EUR"}, (10_500, "EUR")),
        ({"value": "0.02", "currency": " eur "}, (20_000, "EUR")),
        ({"value": 0, "currency": "USD"}, (0, "USD")),  # free is a cost, of 0
        ({"value": None, "currency": "EUR"}, None),
        ({"value": "n/a", "currency": "EUR"}, None),
        ({"value": 0.02}, None),
        ({"value": 0.02, "currency": ""}, None),
        (0.02, None),
        (None, None),
    ],
)
def test_a_messages_amount_is_its_cost(amount: object, cost: tuple[int, str] | None) -> None:
    item = {"id": 1, "campaign_id": 7, "reference_id": "abc", "status": "delivered", "amount": amount}
    parsed = bsg.parse_messages({"data": [item]}, "bsg://x")
    assert not isinstance(parsed, bsg.ErrorInfo)
    [receipt], _ = parsed
    assert receipt.cost == cost
