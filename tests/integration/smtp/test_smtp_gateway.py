"""The email-to-SMS gateway over real sockets with real clients (smtplib, aiosmtplib, raw bytes)."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from smtp_helpers import GATEWAY_DOMAIN, user_line

from msgbridge.core.status import DeliveryStatus
from msgbridge.inbound.users import parse_users

LOCAL = ("127.0.0.0/8",)
PHONE_A = "+77011234567"
PHONE_B = "+77011234568"


def allow(*cidrs: str) -> tuple[object, ...]:
    import ipaddress

    return tuple(ipaddress.ip_network(c) for c in cidrs)


def users(*lines: str) -> dict[str, object]:
    return parse_users("\n".join(lines))  # type: ignore[return-value]


def mail(text: str = "Hello from mail", *, subject: str = "s", msgid: str | None = None) -> bytes:
    m = EmailMessage()
    m["From"] = "alice@example.org"
    m["To"] = f"{PHONE_A}@{GATEWAY_DOMAIN}"
    m["Subject"] = subject
    if msgid:
        m["Message-ID"] = msgid
    m.set_content(text)
    return m.as_bytes()


def client_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))


async def smtp_client(port: int, **kw: object) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, start_tls=False, local_hostname="client.test", **kw
    )
    await client.connect()
    await client.ehlo()
    return client


async def records(gw: object, ids: list[str]) -> list[object]:
    return [await gw.store.get(i) for i in ids]  # type: ignore[attr-defined]


# -- never an open relay ---------------------------------------------------------------------


async def test_foreign_domain_is_relaying_denied(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL))
    c = await smtp_client(gw.port)
    await c.mail("a@example.org")
    for rcpt in (
        f"{PHONE_A.lstrip('+')}@gmail.com",
        f"{PHONE_A}@{GATEWAY_DOMAIN}.evil.com",
        "user@example.org",
    ):
        reply = await c.execute_command(b"RCPT", f"TO:<{rcpt}>".encode())
        assert (reply.code, reply.message) == (550, "5.7.1 Relaying denied")
    await c.quit()
    assert gw.enqueued == []


@pytest.mark.parametrize(
    ("local", "code", "enhanced"),
    [
        ("alice", 553, "5.1.3"),
        ("12345", 550, "5.1.1"),
        ("+999123456789", 550, "5.1.1"),
        ("7701abc4567", 553, "5.1.3"),
    ],
)
async def test_our_domain_with_a_bad_number_is_refused(
    gateway_factory, local: str, code: int, enhanced: str
) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL))
    c = await smtp_client(gw.port)
    await c.mail("a@example.org")
    reply = await c.execute_command(b"RCPT", f"TO:<{local}@{GATEWAY_DOMAIN}>".encode())
    assert reply.code == code and reply.message.startswith(enhanced)
    await c.quit()


async def test_domain_is_case_insensitive_and_separators_are_allowed(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL))
    errors, _reply = await aiosmtplib.send(
        mail(),
        sender="a@example.org",
        recipients=["+7-701-123-45.67@SMS.Example.COM", "77011234568@sms.example.com"],
        hostname="127.0.0.1",
        port=gw.port,
        start_tls=False,
    )
    assert errors == {}
    [ids] = gw.enqueued
    recs = await records(gw, ids)
    assert sorted(r.message.to for r in recs) == [PHONE_A, PHONE_B]


async def test_stranger_without_login_cannot_send(gateway_factory, server_tls) -> None:
    gw = await gateway_factory(users=users(user_line("bob", "pw")), tls_context=server_tls)
    c = await smtp_client(gw.port)
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as exc:
        await c.mail("a@example.org")
    assert (exc.value.code, exc.value.message) == (530, "5.7.0 Authentication required")
    await c.quit()


async def test_stranger_is_refused_when_no_login_is_possible(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow("10.0.0.0/8"))
    c = await smtp_client(gw.port)
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as exc:
        await c.mail("a@example.org")
    assert exc.value.code == 550 and exc.value.message.startswith("5.7.1")
    await c.quit()


# -- authentication ------------------------------------------------------------------------


async def test_auth_is_not_offered_or_accepted_before_starttls(gateway_factory, server_tls) -> None:
    gw = await gateway_factory(users=users(user_line("bob", "pw")), tls_context=server_tls)
    c = await smtp_client(gw.port)
    assert c.supports_extension("starttls")
    assert not c.supports_extension("auth")
    plain = base64.b64encode(b"\0bob\0pw").decode()
    reply = await c.execute_command(b"AUTH", b"PLAIN", plain.encode())
    assert (reply.code, reply.message) == (
        538,
        "5.7.11 Encryption required for requested authentication mechanism",
    )
    with pytest.raises(aiosmtplib.SMTPSenderRefused):
        await c.mail("a@example.org")
    await c.quit()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_wrong_password_gets_535_not_235(
    gateway_factory, server_tls, tls_files, mechanism: str
) -> None:
    # aiosmtpd answers 235 to a wrong password when its authenticator is a coroutine; ours must not.
    gw = await gateway_factory(users=users(user_line("bob", "right")), tls_context=server_tls)
    c = await smtp_client(gw.port, tls_context=client_tls(tls_files))
    await c.starttls()
    await c.ehlo()
    assert c.supports_extension("auth")
    for login, password in (("bob", "wrong"), ("nobody", "right")):
        if mechanism == "PLAIN":
            blob = base64.b64encode(f"\0{login}\0{password}".encode())
            reply = await c.execute_command(b"AUTH", b"PLAIN", blob)
        else:
            first = await c.execute_command(b"AUTH", b"LOGIN", base64.b64encode(login.encode()))
            assert first.code == 334
            reply = await c.execute_command(base64.b64encode(password.encode()))
        assert (reply.code, reply.message) == (535, "5.7.8 Authentication credentials invalid")
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as exc:
        await c.mail("a@example.org")
    assert exc.value.code == 530
    await c.quit()


async def test_right_password_sends_with_the_users_sender_id(gateway_factory, server_tls, tls_files) -> None:
    gw = await gateway_factory(users=users(user_line("bob", "right", "BobShop")), tls_context=server_tls)
    c = await smtp_client(gw.port, tls_context=client_tls(tls_files))
    await c.starttls()
    await c.ehlo()
    await c.login("bob", "right")
    errors, reply = await c.sendmail("forged@example.org", [f"{PHONE_A}@{GATEWAY_DOMAIN}"], mail())
    await c.quit()
    assert errors == {}
    [ids] = gw.enqueued
    [rec] = await records(gw, ids)
    assert reply == f"2.0.0 OK queued as {ids[0]}"
    assert rec.message.sender == "BobShop"  # from the login, not from MAIL FROM
    assert rec.message.metadata["smtp_identity"] == "user:bob"


async def test_smtplib_login_over_starttls(gateway_factory, server_tls, tls_files) -> None:
    gw = await gateway_factory(users=users(user_line("bob", "right")), tls_context=server_tls)

    def send(password: str) -> object:
        with smtplib.SMTP("127.0.0.1", gw.port, local_hostname="client.test", timeout=10) as s:
            s.starttls(context=client_tls(tls_files))
            s.login("bob", password)
            return s.sendmail("a@example.org", [f"{PHONE_A}@{GATEWAY_DOMAIN}"], mail())

    with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
        await asyncio.to_thread(send, "wrong")
    assert exc.value.smtp_code == 535
    assert await asyncio.to_thread(send, "right") == {}
    assert len(gw.enqueued) == 1


async def test_repeated_auth_failures_close_the_session(gateway_factory, server_tls, tls_files) -> None:
    gw = await gateway_factory(users=users(user_line("bob", "right")), tls_context=server_tls)
    c = await smtp_client(gw.port, tls_context=client_tls(tls_files))
    await c.starttls()
    await c.ehlo()
    codes = []
    for _ in range(3):
        reply = await c.execute_command(b"AUTH", b"PLAIN", base64.b64encode(b"\0bob\0guess"))
        codes.append(reply.code)
    assert codes == [535, 535, 421]


# -- DATA -------------------------------------------------------------------------------------


async def test_one_sms_per_recipient_durably_queued_before_250(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL), default_sender="GW")
    recipients = [f"{PHONE_A}@{GATEWAY_DOMAIN}", f"{PHONE_B}@{GATEWAY_DOMAIN}", f"{PHONE_A}@{GATEWAY_DOMAIN}"]
    errors, reply = await aiosmtplib.send(
        mail("Meet at 5"), sender="a@example.org", recipients=recipients, hostname="127.0.0.1", port=gw.port
    )
    assert errors == {}
    [ids] = gw.enqueued
    assert reply == f"2.0.0 OK queued as {ids[0]} (+1 more)"
    recs = await records(gw, ids)
    assert sorted(r.message.to for r in recs) == [PHONE_A, PHONE_B]
    assert {r.message.text for r in recs} == {"Meet at 5"}
    assert {r.status for r in recs} == {DeliveryStatus.QUEUED}
    assert {r.message.sender for r in recs} == {"GW"}
    counts = await gw.store.counts()
    assert counts.get(DeliveryStatus.QUEUED) == 2


async def test_a_resent_mail_is_not_queued_twice(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL))
    body = mail("once", msgid="<abc@example.org>")
    replies = []
    for _ in range(2):
        _, reply = await aiosmtplib.send(
            body,
            sender="a@example.org",
            recipients=[f"{PHONE_A}@{GATEWAY_DOMAIN}"],
            hostname="127.0.0.1",
            port=gw.port,
        )
        replies.append(reply)
    assert replies[0] == replies[1]
    assert (await gw.store.counts()).get(DeliveryStatus.QUEUED) == 1


async def test_identical_mail_without_message_id_is_new_after_the_window(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL), dedupe_window=600.0)
    now = [1_000_000.0]
    gw.gateway.handler.clock = lambda: now[0]
    body = b"Subject: alert\r\n\r\nserver down\r\n"  # no Message-ID, no Date: byte-identical every time

    async def send() -> str:
        _, reply = await aiosmtplib.send(
            body,
            sender="mon@example.org",
            recipients=[f"{PHONE_A}@{GATEWAY_DOMAIN}"],
            hostname="127.0.0.1",
            port=gw.port,
        )
        return reply

    first = await send()
    now[0] += 60  # a resend a minute later: the same SMS
    assert await send() == first
    now[0] += 3600  # the same alert an hour later: a new SMS
    assert await send() != first
    assert (await gw.store.counts()).get(DeliveryStatus.QUEUED) == 2


async def test_oversize_is_refused_at_mail_and_at_data(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL), max_size=2048)
    c = await smtp_client(gw.port)
    assert c.supports_extension("size")
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as exc:
        await c.mail("a@example.org", options=["SIZE=100000"])
    assert exc.value.code == 552
    await c.mail("a@example.org")
    await c.rcpt(f"{PHONE_A}@{GATEWAY_DOMAIN}")
    with pytest.raises(aiosmtplib.SMTPDataError) as data_exc:
        await c.data(mail("x" * 5000))
    assert data_exc.value.code == 552
    await c.quit()
    assert gw.enqueued == []


async def test_text_over_the_segment_limit_is_refused_or_truncated(gateway_factory) -> None:
    long_text = "word " * 200  # 1000 GSM-7 characters: 7 segments
    gw = await gateway_factory(allow=allow(*LOCAL), max_segments=2)
    c = await smtp_client(gw.port)
    await c.mail("a@example.org")
    await c.rcpt(f"{PHONE_A}@{GATEWAY_DOMAIN}")
    with pytest.raises(aiosmtplib.SMTPDataError) as exc:
        await c.data(mail(long_text))
    assert exc.value.code == 550 and exc.value.message.startswith("5.2.3")
    await c.quit()

    cut = await gateway_factory(allow=allow(*LOCAL), max_segments=2, truncate=True)
    await aiosmtplib.send(
        mail(long_text),
        sender="a@b.c",
        recipients=[f"{PHONE_A}@{GATEWAY_DOMAIN}"],
        hostname="127.0.0.1",
        port=cut.port,
    )
    [ids] = cut.enqueued
    [rec] = await records(cut, ids)
    assert len(rec.message.text) == 2 * 153


async def test_mail_without_text_is_refused(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL))
    c = await smtp_client(gw.port)
    await c.mail("a@example.org")
    await c.rcpt(f"{PHONE_A}@{GATEWAY_DOMAIN}")
    with pytest.raises(aiosmtplib.SMTPDataError) as exc:
        await c.data(mail("> only a quote\n-- \nsig"))
    assert (exc.value.code, exc.value.message) == (550, "5.6.0 No text to send as SMS")
    await c.quit()


async def test_html_and_charsets_are_decoded(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL), subject="prepend")
    m = EmailMessage()
    m["Subject"] = "=?utf-8?b?0J/RgNC40LLQtdGC?="  # "Привет", RFC 2047
    m.set_content("<p>Код <b>42</b></p><blockquote>old</blockquote>", subtype="html", charset="koi8-r")
    await aiosmtplib.send(
        m.as_bytes(),
        sender="a@b.c",
        recipients=[f"{PHONE_A}@{GATEWAY_DOMAIN}"],
        hostname="127.0.0.1",
        port=gw.port,
    )
    [ids] = gw.enqueued
    [rec] = await records(gw, ids)
    assert rec.message.text == "Привет\nКод 42"


async def test_control_characters_are_stripped_from_the_sms(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL))
    body = "Disk\x00 full\x07\x08 on \x1b]0;pwned\x07db1\x1b[2J\nat 03:00\r\n"
    raw = f"Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}".encode()

    def send() -> object:
        with smtplib.SMTP("127.0.0.1", gw.port, local_hostname="client.test", timeout=30) as s:
            return s.sendmail("a@example.org", [f"{PHONE_A}@{GATEWAY_DOMAIN}"], raw)

    assert await asyncio.to_thread(send) == {}
    [ids] = gw.enqueued
    [rec] = await records(gw, ids)
    assert rec.message.text == "Disk full on ]0;pwneddb1[2J\nat 03:00"


@pytest.mark.parametrize("body", ["This is not base64 at all!!", "SGVsbG8gd29ybGQhA"])
async def test_undecodable_base64_body_is_refused_not_sent(gateway_factory, body: str) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL))
    raw = (
        "Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n"
    ).encode()
    c = await smtp_client(gw.port)
    await c.mail("a@example.org")
    await c.rcpt(f"{PHONE_A}@{GATEWAY_DOMAIN}")
    with pytest.raises(aiosmtplib.SMTPDataError) as exc:
        await c.data(raw)
    assert exc.value.code == 554 and exc.value.message.startswith("5.6.0 Cannot decode the text: the base64")
    await c.quit()
    assert gw.enqueued == []


async def test_rate_limit_answers_450_4_7_1(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL), rate=0.001, burst=2)
    c = await smtp_client(gw.port)
    await c.mail("a@example.org")
    codes = []
    for n in range(3):
        reply = await c.execute_command(b"RCPT", f"TO:<+7701123456{n}@{GATEWAY_DOMAIN}>".encode())
        codes.append((reply.code, reply.message.split(" ")[0]))
    assert codes == [(250, "2.1.5"), (250, "2.1.5"), (450, "4.7.1")]
    await c.quit()


async def test_too_many_recipients(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL), max_recipients=1)
    c = await smtp_client(gw.port)
    await c.mail("a@example.org")
    await c.rcpt(f"{PHONE_A}@{GATEWAY_DOMAIN}")
    reply = await c.execute_command(b"RCPT", f"TO:<{PHONE_B}@{GATEWAY_DOMAIN}>".encode())
    assert (reply.code, reply.message) == (452, "4.5.3 Too many recipients")
    await c.quit()


class BrokenStore:
    async def enqueue(self, entries: object) -> list[str]:
        raise OSError("disk full")


async def test_store_failure_is_451_so_the_client_keeps_the_mail(gateway_factory) -> None:
    gw = await gateway_factory(store=BrokenStore(), allow=allow(*LOCAL))
    c = await smtp_client(gw.port)
    await c.mail("a@example.org")
    await c.rcpt(f"{PHONE_A}@{GATEWAY_DOMAIN}")
    with pytest.raises(aiosmtplib.SMTPDataError) as exc:
        await c.data(mail())
    assert (exc.value.code, exc.value.message) == (451, "4.3.0 Temporary local problem, try again later")
    await c.quit()


# -- garbage ------------------------------------------------------------------------------------


async def talk(port: int, payload: bytes, *, until: bytes | None = b"221 ") -> bytes:
    """Send raw bytes; read replies until ``until`` shows (or, with None, hang up mid-stream)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    data = b""
    if until is not None:
        while until not in data:
            chunk = await asyncio.wait_for(reader.read(4096), timeout=10)
            if not chunk:
                break
            data += chunk
    writer.close()
    await writer.wait_closed()
    return data


async def test_garbage_is_answered_and_nothing_is_half_queued(gateway_factory) -> None:
    gw = await gateway_factory(allow=allow(*LOCAL))
    junk = (
        b"HELO x\r\nFOO bar\r\n\xff\xfe\x80junk\r\nMAIL FROM:<a@b.c>\nRCPT TO:<\xc3\xa9@x>\r\n"
        + b"A" * 5000
        + b"\r\n"
    )
    out = await talk(gw.port, junk + b"QUIT\r\n")
    assert b"500" in out and out.rstrip().endswith(b"221 Bye")
    # A client that vanishes in the middle of DATA queues nothing.
    rcpt = f"RCPT TO:<{PHONE_A}@{GATEWAY_DOMAIN}>\r\n".encode()
    await talk(
        gw.port,
        b"EHLO x\r\nMAIL FROM:<a@b.c>\r\n" + rcpt + b"DATA\r\nSubject: hi\r\n\r\nhalf a mes",
        until=b"354",
    )
    # Pipelined commands, bare LF inside DATA: one clean mail.
    pipelined = b"EHLO x\r\nMAIL FROM:<a@b.c>\r\n" + rcpt + b"DATA\r\n"
    body = b"Subject: hi\r\n\r\nline one\nline two\r\n.\r\nQUIT\r\n"
    out = await talk(gw.port, pipelined + body)
    assert out.count(b"250 2.0.0 OK queued as") == 1
    [ids] = gw.enqueued
    [rec] = await records(gw, ids)
    assert rec.message.text == "line one\nline two"
    assert (await gw.store.counts()).get(DeliveryStatus.QUEUED) == 1
