"""The shared HTTP layer's limits: one safe JSON parser, finite waits, validated durations, 5xx in doubt."""

from __future__ import annotations

import httpx
import pytest

from msgbridge.adapters.http.base import (
    MAX_JSON_DEPTH,
    HttpTransport,
    Reply,
    classify_response,
    json_depth_within,
    parse_json,
    parse_retry_after,
)
from msgbridge.adapters.http.bsg import BsgTransport, token_expiry
from msgbridge.adapters.http.selzy import SelzyTransport
from msgbridge.adapters.http.smsc import parse_reply
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import Message


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_100000_deep_is_refused_not_a_crash() -> None:
    value, why = parse_json("[" * 100_000)
    assert value is None and why is not None and "nested deeper" in why


def test_json_depth_limit_is_exact() -> None:
    value, why = parse_json(nested(MAX_JSON_DEPTH))
    assert why is None and json_depth_within(value, MAX_JSON_DEPTH)
    value, why = parse_json(nested(MAX_JSON_DEPTH + 1))
    assert value is None and why is not None and "nested deeper" in why
    assert json_depth_within({"a": [{"b": 1}]}, 3) and not json_depth_within({"a": [{"b": 1}]}, 2)


@pytest.mark.parametrize(
    "text", ["NaN", '{"cost": Infinity}', "[-Infinity]", '{"balance": 1e999}', "1" * 5000, b"\xff\xfe{", "{"]
)
def test_json_a_provider_cannot_mean_is_refused(text: str | bytes) -> None:
    value, why = parse_json(text)
    assert value is None and why


def test_ordinary_json_is_read() -> None:
    assert parse_json('{"result": [{"sms_id": 1.5, "phone": "7701"}]}') == (
        {"result": [{"sms_id": 1.5, "phone": "7701"}]},
        None,
    )


@pytest.mark.parametrize(
    ("status", "code"), [(200, ErrorCode.PROTOCOL_ERROR), (502, ErrorCode.TEMPORARY_FAILURE)]
)
def test_a_nested_body_is_classified_by_its_status(status: int, code: ErrorCode) -> None:
    data, error = classify_response(httpx.Response(status, content=b"[" * 100_000))
    assert data is None and error is not None and error.code is code and error.native_code == status


def test_smsc_and_bsg_parse_through_the_same_parser() -> None:
    reply = parse_reply("[" * 100_000, 3)
    assert reply.malformed and "nested deeper" in reply.error_text
    assert token_expiry("a." + "W1tb" * 40000 + ".b") is None  # a JWT payload of "[[[" ...
    assert token_expiry("a.eyJleHAiOjFlOTk5fQ.b") is None  # {"exp":1e999}


@pytest.mark.parametrize("value", ["inf", "nan", "1e999", "-inf", "Infinity"])
def test_retry_after_that_is_not_a_finite_wait_is_ignored(value: str) -> None:
    assert parse_retry_after(value) is None


def test_retry_after_in_the_past_or_negative_is_now() -> None:
    assert parse_retry_after("-5") == 0.0


@pytest.mark.parametrize(
    "option", ["timeout=0", "timeout=-1", "timeout=nan", "timeout=inf", "connect_timeout=0"]
)
def test_durations_must_be_positive_and_finite(option: str) -> None:
    with pytest.raises(ConfigError, match=option.split("=")[0]):
        SelzyTransport.from_url(f"selzy://k@api.selzy.com?{option}")


@pytest.mark.parametrize("option", ["max_retry_wait=-1", "max_retry_wait=inf", "max_retry_wait=nan"])
def test_max_retry_wait_must_be_finite_and_not_negative(option: str) -> None:
    with pytest.raises(ConfigError, match="max_retry_wait"):
        SelzyTransport.from_url(f"selzy://k@api.selzy.com?{option}")


def reply(status: int, *, from_body: bool = False) -> tuple[ErrorInfo, Reply]:
    error = ErrorInfo(
        code=ErrorCode.TEMPORARY_FAILURE if status >= 500 else ErrorCode.THROTTLED, native_code=status
    )
    request = httpx.Request("POST", "https://api.example.invalid/send")
    return error, Reply(request=request, response=httpx.Response(status), error=error, from_body=from_body)


@pytest.mark.parametrize(
    ("status", "transport", "expected"),
    [
        (502, HttpTransport, "MAYBE_SUBMITTED"),
        (500, HttpTransport, "MAYBE_SUBMITTED"),
        (503, SelzyTransport, "MAYBE_SUBMITTED"),
        (502, BsgTransport, "FAILED"),  # resend_is_safe: BSG refuses a repeated reference_id
        (429, HttpTransport, "FAILED"),
    ],
)
def test_a_failed_send_is_in_doubt_after_a_5xx_unless_a_repeat_is_safe(
    status: int, transport: type[HttpTransport], expected: str
) -> None:
    error, answer = reply(status)
    result = transport.failed(Message(to="+77011234567", text="x"), error, answer)
    assert result.status.value == expected and result.error == error


def test_only_bsg_says_a_repeated_send_is_safe() -> None:
    from msgbridge.adapters.http.mobizon import MobizonTransport
    from msgbridge.adapters.http.smsc import SmscTransport

    safe = {
        cls.__name__: cls.resend_is_safe
        for cls in (SelzyTransport, BsgTransport, SmscTransport, MobizonTransport)
    }
    assert safe == {
        "SelzyTransport": False,
        "BsgTransport": True,
        "SmscTransport": False,
        "MobizonTransport": False,
    }


def test_reply_tells_an_exchange_failure_from_a_provider_refusal() -> None:
    _, failed = reply(502)
    assert failed.exchange_failed and failed.server_error
    _, refused = reply(502, from_body=True)
    assert not refused.exchange_failed and not refused.server_error
