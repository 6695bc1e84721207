"""Outbound SMTP against real aiosmtpd servers on port 0."""

from __future__ import annotations

import email
import socket
import ssl
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from smtp_helpers import RecordingHandler, authenticator

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smtp.config import DEFAULT_PORTS
from msgbridge.adapters.smtp.transport import SmtpTransport
from msgbridge.core.errors import AuthError, ConfigError, ErrorCode
from msgbridge.core.message import Channel, Message
from msgbridge.core.status import DeliveryStatus

PHONES = ["+77011234567", "+77011234568", "+77011234569"]


def email_msg(to: str, **kw: object) -> Message:
    return Message(channel=Channel.EMAIL, to=to, subject="Hello", text="plain body", **kw)  # type: ignore[arg-type]


async def test_email_mode_sends_each_message_and_reuses_connections(upstream_factory) -> None:
    up = await upstream_factory()
    url = f"smtp://127.0.0.1:{up.port}?tls=none&pool=2&from=app@example.com"
    async with open_transport(url) as t:
        first = await t.send([email_msg(f"u{i}@example.org", html="<b>hi</b>") for i in range(5)])
        second = await t.send([email_msg("again@example.org")])
    assert [r.status for r in first + second] == [DeliveryStatus.SUBMITTED] * 6
    assert all(r.error is None and r.native_id for r in first)
    assert len({r.native_id for r in first}) == 5
    assert len(up.handler.mails) == 6
    assert up.handler.connections <= 2  # pooled and reused, not one per message
    by_id = {}
    for mail in up.handler.mails:
        parsed = email.message_from_bytes(mail.content, policy=default_policy)
        by_id[parsed["X-Msgbridge-Id"]] = (mail, parsed)
    mail, parsed = by_id[first[0].message_id]
    assert parsed["Subject"] == "Hello"
    assert parsed["From"] == "app@example.com"
    assert parsed["Message-ID"] == first[0].native_id
    assert parsed.get_body(("plain",)).get_content().strip() == "plain body"
    assert parsed.get_body(("html",)).get_content().strip() == "<b>hi</b>"
    assert mail.rcpt_tos == ["u0@example.org"]


async def test_partial_recipient_refusals_become_per_message_results(upstream_factory) -> None:
    handler = RecordingHandler(
        rcpt_replies={
            "77011234568": "550 5.1.1 Bad destination mailbox address",
            "77011234569": "452 4.5.3 Too many",
        }
    )
    up = await upstream_factory(handler)
    url = f"smtp://127.0.0.1:{up.port}?tls=none&mode=sms-gateway&domain=sms.example.net&from=a@b.c&group=10"
    async with open_transport(url) as t:
        results = await t.send([Message(to=p, text="same text") for p in PHONES])
    ok, bad, later = results
    assert ok.status is DeliveryStatus.SUBMITTED and ok.error is None
    assert bad.status is DeliveryStatus.REJECTED
    assert bad.error is not None and bad.error.code is ErrorCode.INVALID_DESTINATION
    assert bad.error.native_code == "550 5.1.1"
    assert (
        later.error is not None and later.error.code is ErrorCode.TEMPORARY_FAILURE and later.error.retryable
    )
    assert len(handler.mails) == 1  # one transaction, only the accepted recipient in it
    assert handler.mails[0].rcpt_tos == ["77011234567@sms.example.net"]


async def test_all_recipients_refused_sends_no_data_and_keeps_connection(upstream_factory) -> None:
    handler = RecordingHandler(rcpt_replies={p.lstrip("+"): "550 5.7.1 Relaying denied" for p in PHONES})
    up = await upstream_factory(handler)
    url = f"smtp://127.0.0.1:{up.port}?tls=none&mode=sms-gateway&domain=d.example&from=a@b.c&group=5&pool=1"
    async with open_transport(url) as t:
        results = await t.send([Message(to=p, text="x") for p in PHONES])
        handler.rcpt_replies.clear()
        after = await t.send([Message(to=PHONES[0], text="y")])
    assert [r.error.code for r in results if r.error] == [ErrorCode.ACCESS_DENIED] * 3
    assert after[0].status is DeliveryStatus.SUBMITTED
    assert handler.connections == 1
    assert len(handler.mails) == 1


@pytest.mark.parametrize(
    ("where", "reply", "expected"),
    [
        ("mail", "554 5.7.1 Sender blocked", ErrorCode.ACCESS_DENIED),
        ("mail", "451 4.3.0 Try later", ErrorCode.TEMPORARY_FAILURE),
        ("data", "552 5.3.4 Message too big", ErrorCode.MESSAGE_TOO_LONG),
        ("data", "554 Transaction failed", ErrorCode.PERMANENT_FAILURE),
    ],
)
async def test_mail_and_data_refusals(upstream_factory, where: str, reply: str, expected: ErrorCode) -> None:
    handler = RecordingHandler()
    setattr(handler, f"{where}_reply", reply)
    up = await upstream_factory(handler)
    async with open_transport(f"smtp://127.0.0.1:{up.port}?tls=none&from=a@b.c") as t:
        [result] = await t.send([email_msg("x@y.z")])
    assert result.error is not None
    assert result.error.code is expected
    assert result.error.native_message == reply.split(" ", 1)[1]


async def test_wrong_password_is_auth_failed(upstream_factory) -> None:
    up = await upstream_factory(authenticator=authenticator, auth_require_tls=False)
    url = f"smtp://user:wrong@127.0.0.1:{up.port}?tls=none&from=a@b.c"
    with pytest.raises(AuthError):
        async with open_transport(url):
            pass
    t = open_transport(url)
    [result] = await t.send([email_msg("x@y.z")])
    await t.aclose()
    assert result.error is not None and result.error.code is ErrorCode.AUTH_FAILED
    assert result.error.native_code == "535 5.7.8"
    assert "wrong" not in repr(t) and "wrong" not in str(t.url)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_right_password_logs_in(upstream_factory) -> None:
    up = await upstream_factory(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    async with open_transport(f"smtp://user:secret@127.0.0.1:{up.port}?tls=none&from=a@b.c") as t:
        [result] = await t.send([email_msg("x@y.z")])
    assert result.ok
    assert up.handler.mails[0].login == b"user"


async def test_starttls_with_our_ca(
    upstream_factory, server_tls: ssl.SSLContext, tls_files: tuple[Path, Path]
) -> None:
    up = await upstream_factory(tls_context=server_tls, require_starttls=True)
    url = f"smtp://127.0.0.1:{up.port}?tls=starttls&from=a@b.c&cafile={tls_files[0]}"
    async with open_transport(url) as t:
        [result] = await t.send([email_msg("x@y.z")])
    assert result.ok
    assert len(up.handler.mails) == 1


async def test_starttls_refuses_an_unknown_certificate(upstream_factory, server_tls: ssl.SSLContext) -> None:
    up = await upstream_factory(tls_context=server_tls, require_starttls=True)
    t = open_transport(f"smtp://127.0.0.1:{up.port}?tls=starttls&from=a@b.c")
    [result] = await t.send([email_msg("x@y.z")])
    await t.aclose()
    assert result.error is not None and result.error.code is ErrorCode.PROTOCOL_ERROR
    assert not result.error.retryable
    assert up.handler.mails == []


async def test_starttls_required_but_not_offered(upstream_factory) -> None:
    up = await upstream_factory()
    t = open_transport(f"smtp://127.0.0.1:{up.port}?tls=starttls&from=a@b.c")
    [result] = await t.send([email_msg("x@y.z")])
    await t.aclose()
    assert result.error is not None and result.error.code is ErrorCode.PROTOCOL_ERROR
    assert up.handler.mails == []


async def test_implicit_tls(server_tls: ssl.SSLContext, tls_files: tuple[Path, Path]) -> None:
    import asyncio

    from aiosmtpd.smtp import SMTP

    handler = RecordingHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="t"), "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    try:
        async with open_transport(
            f"smtp://127.0.0.1:{port}?tls=implicit&from=a@b.c&cafile={tls_files[0]}"
        ) as t:
            [result] = await t.send([email_msg("x@y.z")])
    finally:
        server.close()
    assert result.ok and len(handler.mails) == 1


async def test_drop_during_data_is_outcome_unknown(upstream_factory) -> None:
    up = await upstream_factory(RecordingHandler(drop_on_data=True))
    async with open_transport(f"smtp://127.0.0.1:{up.port}?tls=none&from=a@b.c") as t:
        [result] = await t.send([email_msg("x@y.z")])
    assert result.status is DeliveryStatus.MAYBE_SUBMITTED
    assert result.error is not None and result.error.code is ErrorCode.TIMEOUT
    assert result.error.code.outcome_unknown


async def test_dead_pooled_connection_is_replaced_once(upstream_factory) -> None:
    up = await upstream_factory()
    async with open_transport(f"smtp://127.0.0.1:{up.port}?tls=none&pool=1&from=a@b.c") as t:
        assert (await t.send([email_msg("x@y.z")]))[0].ok
        for proto in up.protocols:  # the server hangs up on the idle connection
            assert proto.transport is not None
            proto.transport.close()
        [result] = await t.send([email_msg("x@y.z")])
    assert result.ok
    assert up.handler.connections == 2
    assert len(up.handler.mails) == 2


async def test_idle_421_is_reconnected(upstream_factory) -> None:
    up = await upstream_factory()
    async with open_transport(f"smtp://127.0.0.1:{up.port}?tls=none&pool=1&from=a@b.c") as t:
        assert (await t.send([email_msg("x@y.z")]))[0].ok
        up.handler.mail_reply = "421 4.4.2 idle too long"
        # The first MAIL on the old connection gets 421; the retry on a new one gets it too.
        [refused] = await t.send([email_msg("x@y.z")])
        up.handler.mail_reply = None
        [ok] = await t.send([email_msg("x@y.z")])
    assert refused.error is not None and refused.error.retryable
    assert ok.ok
    assert up.handler.connections == 3


async def test_smsc_format_writes_the_command_body_without_smtp_auth(upstream_factory) -> None:
    up = await upstream_factory()  # no AUTH offered, like send.smsc.ru
    url = f"smtp://alice:pw@127.0.0.1:{up.port}?mode=sms-gateway&format=smsc"
    async with open_transport(url) as t:
        [result] = await t.send([Message(to="+77011234567", text="Код: 42", sender="Shop")])
    assert result.ok
    [mail] = up.handler.mails
    assert mail.rcpt_tos == ["send@send.smsc.ru"]
    assert mail.mail_from == "api@smsc.ru"
    parsed = email.message_from_bytes(mail.content, policy=default_policy)
    body = parsed.get_content().rstrip("\r\n")
    assert body.startswith("alice:pw:") and body.endswith(":0,0,Shop:77011234567:Код: 42")
    assert parsed.get_content_charset() == "utf-8"
    assert "pw" not in str(t.url)


async def test_unsendable_messages_fail_without_touching_the_server(upstream_factory) -> None:
    up = await upstream_factory()
    url = f"smtp://127.0.0.1:{up.port}?tls=none&mode=sms-gateway&domain=d.example&from=a@b.c"
    async with open_transport(url) as t:
        results = await t.send(
            [
                Message(to="+77011234567", text="x", validity=timedelta(hours=1)),
                Message(channel=Channel.EMAIL, to="a@b.c", text="x"),
                Message(to="not a number", text="x"),
                Message(to="+77011234567", text="fine"),
            ]
        )
    codes = [r.error.code if r.error else None for r in results]
    assert codes == [ErrorCode.UNSUPPORTED, ErrorCode.UNSUPPORTED, ErrorCode.INVALID_DESTINATION, None]
    assert len(up.handler.mails) == 1


async def test_connection_refused_is_a_retryable_network_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = open_transport(f"smtp://127.0.0.1:{port}?tls=none&from=a@b.c&timeout=5")
    [result] = await t.send([email_msg("x@y.z")])
    await t.aclose()
    assert result.error is not None and result.error.code is ErrorCode.NETWORK_ERROR
    assert result.status is DeliveryStatus.FAILED and result.error.retryable


@pytest.mark.parametrize(
    "url",
    [
        "smtp://h?mode=fax",
        "smtp://h?format=pigeon",
        "smtp://h?tls=maybe",
        "smtp://h?pool=0",
        "smtp://h?mode=sms-gateway",  # format=address needs domain=
        "smtp://?tls=none",
    ],
)
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        SmtpTransport.from_url(url)


def test_defaults() -> None:
    t = SmtpTransport.from_url("smtp://u:p@mail.example.com")
    assert isinstance(t, SmtpTransport)
    assert (t.config.port, t.config.tls, t.config.pool, t.config.auth) == (587, "starttls", 4, True)
    s = SmtpTransport.from_url("smtp://login:pw@?mode=sms-gateway&format=smsc")
    assert isinstance(s, SmtpTransport)
    assert (s.config.host, s.config.port, s.config.tls, s.config.auth) == ("send.smsc.ru", 25, "auto", False)
    assert s.link == "smtp://send.smsc.ru:25"


def test_secrets_never_print() -> None:
    for url in ("smtp://u:hunter2@mail.example.com", "smtp://login:hunter2@?mode=sms-gateway&format=smsc"):
        t = SmtpTransport.from_url(url)
        assert isinstance(t, SmtpTransport)
        assert "hunter2" not in repr(t) and "hunter2" not in repr(t.config) and "hunter2" not in str(t.url)


@pytest.mark.parametrize("tls", sorted(DEFAULT_PORTS))
def test_default_port_and_tls_rows(tls: str) -> None:
    expected = {"starttls": (587, True), "implicit": (465, False), "none": (25, False), "auto": (25, None)}
    assert sorted(DEFAULT_PORTS) == sorted(expected)
    t = SmtpTransport.from_url(f"smtp://mail.example.com?tls={tls}")
    assert isinstance(t, SmtpTransport)
    client = t._client()
    assert t.config.port == DEFAULT_PORTS[tls] == expected[tls][0]
    assert client._start_tls_on_connect is expected[tls][1]  # None: STARTTLS if the server offers it
    assert client.use_tls is (tls == "implicit")


async def test_header_injection_and_non_ascii_addresses_fail_per_message(upstream_factory) -> None:
    up = await upstream_factory()
    async with open_transport(f"smtp://127.0.0.1:{up.port}?tls=none&from=a@b.c") as t:
        results = await t.send(
            [
                Message(channel=Channel.EMAIL, to="x@y.z", subject="hi\r\nBcc: victim@example.org", text="t"),
                Message(channel=Channel.EMAIL, to="josé@exämple.org", text="t"),
                Message(channel=Channel.EMAIL, to="x@y.z", sender="ñ@b.c", text="t"),
                email_msg("fine@y.z"),
            ]
        )
    codes = [r.error.code if r.error else None for r in results]
    assert codes == [
        ErrorCode.INVALID_ARGUMENT,
        ErrorCode.INVALID_DESTINATION,
        ErrorCode.INVALID_SENDER,
        None,
    ]
    [mail] = up.handler.mails
    assert mail.rcpt_tos == ["fine@y.z"]
