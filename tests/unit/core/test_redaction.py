"""The log filter: what libraries log (request URLs, headers, SMTP traffic) loses its secrets."""

from __future__ import annotations

import logging
import sys

import httpx
import pytest

from msgbridge.core import redaction
from msgbridge.core.redaction import SecretFilter, redact_text
from msgbridge.core.url import TransportURL


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("POST https://api.mobizon.kz/service/message/sendsmsmessage?output=json&apiKey=K1x2 200", "K1x2"),
        ("GET https://smsc.ru/sys/send.php?login=bob&psw=pw9z&phones=1", "pw9z"),
        ("POST /en/api/sendSms?format=json&api_key=ab12", "ab12"),
        ("GET /x?token=tk77&key=kk88", "tk77"),
        ("GET /x?token=tk77&key=kk88", "kk88"),
        ("headers: [(b'Authorization', b'Bearer eyJhbGciOi.payload.sig')]", "eyJhbGciOi.payload.sig"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("client: AUTH PLAIN AGJvYgBwYXNzd29yZA==", "AGJvYgBwYXNzd29yZA=="),
    ],
)
def test_secret_parameters_and_headers_are_hidden(line: str, secret: str) -> None:
    cleaned = redact_text(line)
    assert secret not in cleaned and "***" in cleaned


def test_ordinary_text_is_left_alone() -> None:
    line = "POST http://127.0.0.1:8080/service/message/sendsmsmessage?output=json&api=v1 200 OK monkey=1"
    assert redact_text(line) == line


def test_every_parsed_secret_is_hidden_in_plain_and_encoded_form() -> None:
    TransportURL.parse("smpp://u:Zq%2F9%40Wv!@h:1")  # parsing is what makes it known
    for text in ("sending Zq/9@Wv! now", "url ...?x=Zq%2F9%40Wv%21", "form Zq%2F9%40Wv%21"):
        assert "Zq" not in redact_text(text), text


def test_the_filter_rewrites_args_and_exception_text() -> None:
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "HTTP Request: %s %s", ("POST", "/x?apiKey=K9q"), None
    )
    try:
        raise RuntimeError("failed for /x?psw=P9q")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert SecretFilter().filter(record) is True
    assert record.getMessage() == "HTTP Request: POST /x?apiKey=***"
    assert record.exc_text is not None and "P9q" not in record.exc_text and "psw=***" in record.exc_text


async def test_httpx_request_log_is_filtered(caplog: pytest.LogCaptureFixture) -> None:
    """The real httpx INFO line, captured by a handler that is not ours: the logger's own filter cleans it."""
    redaction.install()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 0})

    caplog.set_level(logging.INFO, logger="httpx")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        await client.post(
            "https://api.mobizon.kz/service/message/sendsmsmessage", params={"apiKey": "KEYq7w"}
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines and all("KEYq7w" not in line for line in lines)
    assert "apiKey=***" in lines[0]
