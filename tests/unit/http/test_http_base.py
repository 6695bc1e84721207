"""The shared HTTP layer: HTTP-level failures become ErrorInfo data with the native text kept."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from msgbridge.adapters.http.base import (
    HTTP_STATUS,
    SAFE_TO_RESEND,
    chunks,
    classify_exception,
    classify_response,
    http_status_code,
    parse_retry_after,
    truncate,
)
from msgbridge.core.errors import ErrorCode

EXPECTED_HTTP_STATUS = [
    (400, "INVALID_ARGUMENT"),
    (401, "AUTH_FAILED"),
    (402, "INSUFFICIENT_FUNDS"),
    (403, "ACCESS_DENIED"),
    (404, "NOT_FOUND"),
    (405, "PROTOCOL_ERROR"),
    (408, "TIMEOUT"),
    (409, "DUPLICATE"),
    (413, "INVALID_ARGUMENT"),
    (422, "INVALID_ARGUMENT"),
    (429, "THROTTLED"),
    (500, "TEMPORARY_FAILURE"),
    (502, "TEMPORARY_FAILURE"),
    (503, "TEMPORARY_FAILURE"),
    (504, "TIMEOUT"),
]


def test_http_status_table_is_exactly_the_expected_rows() -> None:
    assert {k: v.value for k, v in HTTP_STATUS.items()} == dict(EXPECTED_HTTP_STATUS)


@pytest.mark.parametrize(("status", "expected"), EXPECTED_HTTP_STATUS)
def test_http_status_row(status: int, expected: str) -> None:
    assert http_status_code(status) is ErrorCode(expected)


def test_unlisted_statuses_fall_back_by_class() -> None:
    assert http_status_code(599) is ErrorCode.TEMPORARY_FAILURE
    assert http_status_code(418) is ErrorCode.PROTOCOL_ERROR


def response(
    status: int, body: bytes, content_type: str = "application/json", **headers: str
) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": content_type, **headers})


def test_json_body_is_parsed() -> None:
    data, error = classify_response(response(200, b'{"result": {"sms_id": 1}}'))
    assert error is None
    assert data == {"result": {"sms_id": 1}}


def test_html_502_page_is_temporary_failure_with_text_kept() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    data, error = classify_response(response(502, page, "text/html"))
    assert data is None
    assert error is not None
    assert error.code is ErrorCode.TEMPORARY_FAILURE
    assert error.native_code == 502
    assert "502 Bad Gateway" in error.native_message


def test_html_page_with_200_is_protocol_error() -> None:
    _, error = classify_response(response(200, b"<html><body>maintenance</body></html>", "text/html"))
    assert error is not None
    assert error.code is ErrorCode.PROTOCOL_ERROR
    assert "maintenance" in error.native_message


def test_truncated_json_is_protocol_error_with_text_kept() -> None:
    _, error = classify_response(response(200, b'{"result": {"message_id": 34'))
    assert error is not None
    assert error.code is ErrorCode.PROTOCOL_ERROR
    assert '{"result": {"message_id": 34' in error.native_message


def test_empty_body_is_protocol_error() -> None:
    _, error = classify_response(response(200, b""))
    assert error is not None
    assert error.code is ErrorCode.PROTOCOL_ERROR
    assert "empty body" in error.native_message


def test_429_is_throttled_with_retry_after() -> None:
    _, error = classify_response(response(429, b"slow down", "text/plain", **{"retry-after": "7"}))
    assert error is not None
    assert error.code is ErrorCode.THROTTLED
    assert error.retry_after == 7.0
    assert error.native_message == "slow down"


def test_4xx_with_json_body_is_left_to_the_provider_parser() -> None:
    data, error = classify_response(response(422, b'{"message": "The given data was invalid."}'))
    assert error is None
    assert data == {"message": "The given data was invalid."}


def test_401_is_auth_failed_even_with_a_json_body_which_is_kept() -> None:
    data, error = classify_response(response(401, b'{"message": "Unauthenticated."}'))
    assert error is not None
    assert error.code is ErrorCode.AUTH_FAILED
    assert data == {"message": "Unauthenticated."}
    assert "Unauthenticated." in error.native_message


def test_4xx_without_json_maps_through_the_status_table() -> None:
    _, error = classify_response(response(401, b"Unauthorized", "text/plain"))
    assert error is not None
    assert error.code is ErrorCode.AUTH_FAILED


def test_text_mode_keeps_text_and_rejects_empty() -> None:
    data, error = classify_response(response(200, b"OK - 1 SMS, ID - 5", "text/plain"), expect="text")
    assert error is None
    assert data == "OK - 1 SMS, ID - 5"
    _, error = classify_response(response(200, b"  ", "text/plain"), expect="text")
    assert error is not None
    assert error.code is ErrorCode.PROTOCOL_ERROR


def test_native_text_is_truncated() -> None:
    long = "x" * 5000
    assert len(truncate(long)) == 300
    _, error = classify_response(response(503, long.encode(), "text/plain"))
    assert error is not None
    assert len(error.native_message) == 300


EXCEPTIONS = [
    (httpx.ConnectError("refused"), "NETWORK_ERROR"),
    (httpx.ConnectTimeout("slow connect"), "NETWORK_ERROR"),
    (httpx.PoolTimeout("pool"), "NETWORK_ERROR"),
    (httpx.ReadTimeout("no answer"), "TIMEOUT"),
    (httpx.WriteTimeout("stuck"), "TIMEOUT"),
    (httpx.RemoteProtocolError("Server disconnected"), "TIMEOUT"),
    (httpx.ReadError("reset"), "TIMEOUT"),
    (httpx.UnsupportedProtocol("ftp"), "INVALID_ARGUMENT"),
]


@pytest.mark.parametrize(("exc", "expected"), EXCEPTIONS)
def test_exception_classification(exc: httpx.HTTPError, expected: str) -> None:
    info = classify_exception(exc)
    assert info.code is ErrorCode(expected)
    assert info.native_code == type(exc).__name__


def test_only_timeouts_leave_the_outcome_unknown() -> None:
    assert classify_exception(httpx.ReadTimeout("x")).code.outcome_unknown
    assert not classify_exception(httpx.ConnectError("x")).code.outcome_unknown


def test_safe_to_resend_is_connect_errors_and_throttling_only() -> None:
    assert {c.value for c in SAFE_TO_RESEND} == {"NETWORK_ERROR", "THROTTLED"}


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0


def test_chunks() -> None:
    assert [list(c) for c in chunks(list(range(7)), 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError):
        list(chunks([1], 0))


def test_failed_results_are_in_doubt_only_when_the_outcome_is_unknown() -> None:
    from msgbridge.adapters.http.base import HttpTransport
    from msgbridge.core.errors import ErrorInfo
    from msgbridge.core.message import Message

    message = Message(to="+77011234567", text="x")
    cases = [
        (ErrorInfo(code=ErrorCode.TIMEOUT, native_code="ReadTimeout"), "MAYBE_SUBMITTED"),
        (ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_code=200), "MAYBE_SUBMITTED"),
        (ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_code=400), "FAILED"),
        (ErrorInfo(code=ErrorCode.TEMPORARY_FAILURE, native_code=502), "FAILED"),
        (ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_code="ConnectError"), "FAILED"),
    ]
    for error, expected in cases:
        result = HttpTransport.failed(message, error)
        assert result.status.value == expected, error
        assert result.error == error
