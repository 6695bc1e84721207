"""HttpTransport.call / call_with_retry against a real server: which failures are retried, and how often."""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from msgbridge.adapters.http.base import HttpTransport
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import Message, SendResult
from msgbridge.core.ratelimit import Backoff
from msgbridge.simulators.http.server import Emulator, Request, Response, json_response, serve

FAST = Backoff(base=0.001, cap=0.01, jitter=False)


class Ok(Emulator):
    async def dispatch(self, request: Request) -> Response:
        if request.path == "/limited":
            return json_response({"error": "rate", "code": "limit"})
        if request.path == "/auth" and request.headers.get("authorization") != "Bearer good":
            return json_response({"message": "Unauthenticated."}, 401)
        return json_response({"ok": True})


class Plain(HttpTransport):
    scheme = "plain"
    default_host = "api.example.invalid"

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        return []


def transport(base_url: str, **options: str) -> Plain:
    # A generous timeout: only the test about a request that never gets an answer sets a short one.
    query = "&".join(f"{k}={v}" for k, v in {"base_url": base_url, "timeout": "10", **options}.items())
    return Plain.from_url(f"plain://SECRETKEY123@api.example.invalid?{query}", backoff=FAST)  # type: ignore[return-value]


def get(url: str) -> httpx.Request:
    return httpx.Request("GET", url)


async def test_send_is_retried_after_429_and_not_doubled() -> None:
    emulator = Ok()
    emulator.inject("http429", "http429")
    async with serve(emulator) as server:
        t = transport(server.url)
        reply = await t.call_with_retry(lambda: get(server.url + "/send"), send=True)
        await t.aclose()
    assert reply.ok
    assert emulator.requests["GET /send"] == 3


@pytest.mark.parametrize("fault", ["html502", "http500", "truncated", "empty"])
async def test_send_is_not_retried_after_an_answer_that_may_have_taken_effect(fault: str) -> None:
    emulator = Ok()
    emulator.inject(fault)
    async with serve(emulator) as server:
        t = transport(server.url)
        reply = await t.call_with_retry(lambda: get(server.url + "/send"), send=True)
        await t.aclose()
    assert reply.error is not None
    assert reply.error.code in (ErrorCode.TEMPORARY_FAILURE, ErrorCode.PROTOCOL_ERROR)
    assert emulator.requests["GET /send"] == 1


async def test_send_after_timeout_is_not_retried_and_marked_maybe_submitted() -> None:
    emulator = Ok()
    emulator.inject("hang")
    async with serve(emulator) as server:
        t = transport(server.url, timeout="0.3")
        reply = await t.call_with_retry(lambda: get(server.url + "/send"), send=True)
        await t.aclose()
    assert reply.error is not None
    assert reply.error.code is ErrorCode.TIMEOUT
    assert emulator.requests["GET /send"] == 1
    result = Plain.failed(Message(to="+77011234567", text="x"), reply.error)
    assert result.status.value == "MAYBE_SUBMITTED"


async def test_send_after_dropped_connection_is_outcome_unknown() -> None:
    emulator = Ok()
    emulator.inject("drop")
    async with serve(emulator) as server:
        t = transport(server.url)
        reply = await t.call_with_retry(lambda: get(server.url + "/send"), send=True)
        await t.aclose()
    assert reply.error is not None
    assert reply.error.code.outcome_unknown
    assert emulator.requests["GET /send"] == 1


async def test_reads_are_retried_after_temporary_failures() -> None:
    emulator = Ok()
    emulator.inject("html502", "empty")
    async with serve(emulator) as server:
        t = transport(server.url)
        reply = await t.call_with_retry(lambda: get(server.url + "/status"), send=False)
        await t.aclose()
    # empty body is a PROTOCOL_ERROR: not retryable, so the second attempt's answer stands
    assert reply.error is not None
    assert reply.error.code is ErrorCode.PROTOCOL_ERROR
    assert emulator.requests["GET /status"] == 2


async def test_connect_refused_is_network_error_and_retried_up_to_attempts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    t = transport(url, attempts="3")
    reply = await t.call_with_retry(lambda: get(url + "/send"), send=True)
    await t.aclose()
    assert reply.error is not None
    assert reply.error.code is ErrorCode.NETWORK_ERROR
    assert t.requests_made == 3


async def test_retry_after_beyond_the_cap_goes_back_to_the_caller() -> None:
    emulator = Ok()
    emulator.inject("http429")
    async with serve(emulator) as server:
        t = transport(server.url, max_retry_wait="0.5")
        reply = await t.call_with_retry(lambda: get(server.url + "/send"), send=True)  # Retry-After: 1
        await t.aclose()
    assert reply.error is not None
    assert reply.error.code is ErrorCode.THROTTLED
    assert reply.error.retry_after == 1.0
    assert emulator.requests["GET /send"] == 1


async def test_provider_rate_limit_code_is_retried() -> None:
    emulator = Ok()

    def provider_error(data: Any) -> ErrorInfo | None:
        if isinstance(data, dict) and data.get("code") == "limit":
            return ErrorInfo(code=ErrorCode.THROTTLED, native_code="limit", native_message=data["error"])
        return None

    async with serve(emulator) as server:
        t = transport(server.url, attempts="4")
        reply = await t.call_with_retry(
            lambda: get(server.url + "/limited"), send=True, provider_error=provider_error
        )
        await t.aclose()
    assert reply.error is not None
    assert reply.error.native_code == "limit"
    assert emulator.requests["GET /limited"] == 4


async def test_auth_failure_refreshes_once() -> None:
    emulator = Ok()
    token = {"value": "stale"}
    refreshes: list[int] = []

    async def refresh() -> bool:
        refreshes.append(1)
        token["value"] = "good"
        return True

    async with serve(emulator) as server:
        t = transport(server.url)

        def build() -> httpx.Request:
            return httpx.Request(
                "GET", server.url + "/auth", headers={"Authorization": f"Bearer {token['value']}"}
            )

        reply = await t.call_with_retry(build, send=True, on_auth_failure=refresh)
        token["value"] = "bad-again"

        async def useless() -> bool:
            refreshes.append(1)
            return True

        failed = await t.call_with_retry(build, send=True, on_auth_failure=useless)
        await t.aclose()
    assert reply.ok
    assert failed.error is not None
    assert failed.error.code is ErrorCode.AUTH_FAILED
    assert len(refreshes) == 2  # once per call, never in a loop
    assert emulator.requests["GET /auth"] == 4


async def test_secret_never_logged_and_url_redacted(caplog: pytest.LogCaptureFixture) -> None:
    emulator = Ok()
    emulator.inject("html502")
    caplog.set_level(logging.DEBUG)
    async with serve(emulator) as server:
        t = transport(server.url)
        await t.call(get(server.url + "/x"))
        await t.aclose()
        assert t.link == f"plain://127.0.0.1:{server.port}"
    assert "SECRETKEY123" not in caplog.text
    assert "SECRETKEY123" not in repr(t)
    assert t.api_key() == "SECRETKEY123"


async def test_injected_client_is_borrowed_not_closed() -> None:
    async with serve(Ok()) as server, httpx.AsyncClient() as client:
        t = Plain.from_url(f"plain://k@h?base_url={server.url}", client=client)
        assert (await t.call(get(server.url + "/x"))).ok
        await t.aclose()
        assert not client.is_closed


def test_base_url_and_default_host() -> None:
    assert Plain.from_url("plain://k@h.example").base_url == "https://h.example"  # type: ignore[attr-defined]
    assert Plain.from_url("plain://k@").base_url == "https://api.example.invalid"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError):
        Plain.from_url("plain://k@h?base_url=ftp://x")
