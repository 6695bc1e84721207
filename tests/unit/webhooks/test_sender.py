"""The callback sender over a real socket: status, a body read up to 1 KB, Retry-After, failures as data."""

from __future__ import annotations

import pytest
from webhook_receiver import receiver

from msgbridge.webhooks.formats import CallbackRequest
from msgbridge.webhooks.sender import BODY_LIMIT, Sender


def post(url: str, body: bytes = b"{}") -> CallbackRequest:
    return CallbackRequest("POST", url, {"Content-Type": "application/json"}, body)


async def test_an_answer_is_its_status_and_body() -> None:
    async with receiver() as r:
        sender = Sender(timeout=5)
        try:
            answer = await sender.send(post(r.url + "/hook", b'{"a":1}'))
        finally:
            await sender.aclose()
    assert (answer.status, answer.body, answer.error) == (200, "ok", None)
    assert r.requests[0].path == "/hook" and r.requests[0].body == b'{"a":1}'
    assert answer.describe() == "HTTP 200: ok"


async def test_only_the_first_kilobyte_of_a_body_is_kept() -> None:
    async with receiver(mode="fail") as r:
        sender = Sender(timeout=5)
        try:
            answer = await sender.send(post(r.url))
        finally:
            await sender.aclose()
    assert answer.status == 500
    assert answer.body.startswith('{"error":"receiver broken"}') and len(answer.body.encode()) == BODY_LIMIT


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [
        ("7", 7.0, 7.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, 0.0),
        ("Fri, 01 Jan 2100 00:00:00 GMT", 2e9, 4e9),
    ],
)
async def test_retry_after_is_read_as_seconds_or_a_date(header: str, low: float, high: float) -> None:
    async with receiver(mode="throttle", retry_after=header) as r:
        sender = Sender(timeout=5)
        try:
            answer = await sender.send(post(r.url))
        finally:
            await sender.aclose()
    assert answer.status == 429 and answer.retry_after is not None
    assert low <= answer.retry_after <= high


async def test_a_refused_connection_is_an_answer_without_status() -> None:
    async with receiver() as r:
        url = r.url
        await r.down()
        sender = Sender(timeout=5)
        try:
            answer = await sender.send(post(url))
        finally:
            await sender.aclose()
    assert answer.status is None and answer.error is not None and "ConnectError" in answer.error


async def test_a_receiver_that_never_answers_ends_at_the_timeout() -> None:
    async with receiver(mode="slow", delay=60) as r:
        sender = Sender(timeout=0.3)
        try:
            answer = await sender.send(post(r.url))
        finally:
            await sender.aclose()
    assert answer.status is None and answer.error == "Timeout: no answer within 0.3 s"


async def test_the_resolved_address_is_checked_when_connecting() -> None:
    refused: list[str] = []

    def refuse(address: str) -> str | None:
        refused.append(address)
        return "a loopback address" if address.startswith(("127.", "::1")) else None

    async with receiver() as r:
        sender = Sender(timeout=5, refuse=refuse)
        try:
            answer = await sender.send(post(f"http://localhost:{r.server.port}/hook"))  # type: ignore[union-attr]
        finally:
            await sender.aclose()
    assert answer.status is None and answer.error is not None
    assert "localhost resolves to" in answer.error and "a loopback address" in answer.error
    assert refused and r.requests == []


async def test_redirects_are_not_followed() -> None:
    from msgbridge.simulators.http.server import HttpServer, Request, Response

    class Redirect:
        async def handle(self, request: Request) -> Response:
            return Response(302, b"", [("Location", "http://169.254.169.254/latest/meta-data")])

    server = HttpServer(Redirect())
    await server.start()
    sender = Sender(timeout=5)
    try:
        answer = await sender.send(post(server.url))
    finally:
        await sender.aclose()
        await server.close()
    assert answer.status == 302
