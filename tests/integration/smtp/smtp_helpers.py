"""Helpers the SMTP tests share: a recording upstream mail server handler, test users."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: bytes | None


@dataclass
class RecordingHandler:
    """An upstream mail server whose refusals the test chooses by recipient local part."""

    mails: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    mail_reply: str | None = None
    data_reply: str | None = None
    drop_on_data: bool = False
    connections: int = 0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        local = address.split("@")[0]
        if local in self.rcpt_replies:
            return self.rcpt_replies[local]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.drop_on_data:
            assert server.transport is not None
            server.transport.abort()
            return "250 never seen"
        if self.data_reply:
            return self.data_reply
        self.mails.append(
            Received(
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                envelope.original_content or b"",
                getattr(session.auth_data, "login", None),
            )
        )
        return "250 2.0.0 OK queued"


def good_password(login: bytes, password: bytes) -> bool:
    return login == b"user" and password == b"secret"


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
) -> AuthResult:
    ok = good_password(data.login, data.password)  # type: ignore[attr-defined]
    return AuthResult(success=ok, handled=False, auth_data=data)


# -- the inbound gateway ---------------------------------------------------------

GATEWAY_DOMAIN = "sms.example.com"
PASSWORD_HASH_CACHE: dict[str, str] = {}


def user_line(login: str, password: str, sender: str | None = None) -> str:
    from msgbridge.inbound.users import User, format_user, hash_password

    key = f"{login}:{password}"
    if key not in PASSWORD_HASH_CACHE:
        PASSWORD_HASH_CACHE[key] = hash_password(password)
    return format_user(User(login, PASSWORD_HASH_CACHE[key], sender))


async def eventually(predicate: Callable[[], bool], seconds: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds; a generous deadline, since the machine may be busy."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
