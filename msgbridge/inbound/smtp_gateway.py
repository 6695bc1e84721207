"""The email-to-SMS gateway: mail for ``<phone>@<our domain>`` becomes one SMS per recipient.

What it promises a sending mail server:

- it is never an open relay: any recipient that is not a phone number at one
  of our domains is refused at RCPT, and no one may send at all unless they
  logged in (AUTH, offered only after STARTTLS, passwords checked against
  scrypt hashes) or connect from an allowlisted address;
- ``250`` is answered only after every recipient's SMS is committed to the
  store in one transaction, and the reply names the queue id; any failure
  before that is ``451 4.3.0`` so the client keeps the mail and retries, and a
  retry (same Message-ID) is recognised and not queued twice;
- a sender over its rate gets ``450 4.7.1`` (retry later), a text longer than
  the segment limit ``550 5.2.3``, a mail with no text ``550 5.6.0``, a text
  part that cannot be decoded ``554 5.6.0``;
- it does not stand still for guessers and idlers: failed logins are counted
  per client address and per login across connections (growing waits, then a
  lock-out; see ``limits``), connections are capped in total and per address,
  a silent session is closed after ``timeout`` and one that has neither
  logged in nor come from an allowlisted address after ``login_timeout``,
  each with a ``421`` first.

The SMTP dialogue itself (line parsing, SIZE, STARTTLS, pipelining) is
aiosmtpd's; this module holds the hooks that decide and the server that caps
connections and times sessions out. AUTH (PLAIN, LOGIN, lock-outs) is in
``logins``, the replies in ``replies``.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from msgbridge.core.encoding import info, split
from msgbridge.core.message import Message
from msgbridge.core.ratelimit import TokenBucket
from msgbridge.inbound import mailtext
from msgbridge.inbound.group_commit import GroupCommit
from msgbridge.inbound.limits import AuthPolicy, ConnectionCount, ConnectionPolicy, client_key
from msgbridge.inbound.logins import Logins, peer_host
from msgbridge.inbound.recipients import Refused, phone_for
from msgbridge.inbound.replies import (
    AUTH_REQUIRED,
    IDLE_TIMEOUT,
    INTERNAL_ERROR,
    LOGIN_TIMEOUT,
    NO_TEXT,
    NOT_ALLOWED,
    OK_RECIPIENT,
    OK_SENDER,
    RATE_LIMITED,
    STORE_FAILED,
    TOO_MANY_CONNECTIONS,
    TOO_MANY_RECIPIENTS,
    UNDECODABLE,
)
from msgbridge.inbound.users import User
from msgbridge.store.base import OutboxEntry, Store

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_BUCKETS = 10_000


def parse_size(text: str) -> int:
    """``100KB``, ``1MB``, ``65536`` -> bytes (binary multiples, as mail servers mean them)."""
    raw = text.strip().upper().removesuffix("B")
    factor = 1
    for suffix, mult in (("K", 1024), ("M", 1024 * 1024)):
        if raw.endswith(suffix):
            raw, factor = raw[: -len(suffix)], mult
    value = int(float(raw) * factor)
    if value <= 0:
        raise ValueError(f"size must be positive: {text}")
    return value


@dataclass(frozen=True)
class GatewayConfig:
    domains: frozenset[str]
    host: str = "127.0.0.1"
    port: int = 2525
    users: dict[str, User] = field(default_factory=dict)
    allow: tuple[IPNetwork, ...] = ()
    tls_context: ssl.SSLContext | None = None
    max_size: int = 100 * 1024
    max_segments: int = 6
    truncate: bool = False
    max_recipients: int = 50
    rate: float = 1.0  # SMS per second per sender, sustained
    burst: float = 20.0  # SMS a sender may send at once
    subject: str = "ignore"  # ignore | prepend | fallback
    default_region: str | None = None
    countries: frozenset[str] = frozenset()  # destination countries allowed (ISO codes); empty: any
    default_sender: str | None = None  # SMS sender ID for allowlisted (not logged-in) clients
    hostname: str = "localhost"
    timeout: float = 60.0  # seconds without a command before a session is closed (421 4.4.2)
    login_timeout: float = 60.0  # seconds a session neither logged in nor allowlisted may last; 0: no limit
    auth: AuthPolicy = field(default_factory=AuthPolicy)
    connections: ConnectionPolicy = field(default_factory=ConnectionPolicy)
    dedupe_window: float = 600.0  # seconds a mail without Message-ID counts as a resend of an identical one


class GatewayHandler:
    """aiosmtpd hooks: who may send, to whom, and what gets queued."""

    def __init__(
        self,
        config: GatewayConfig,
        store: Store,
        on_enqueued: Callable[[Sequence[str]], None] | None = None,
        on_accepted: Callable[[Sequence[str], str], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.on_enqueued = on_enqueued
        # (message ids, envelope sender) of each accepted mail: what a status notifier tracks.
        self.on_accepted = on_accepted
        self.commit = GroupCommit(store)
        self.clock: Callable[[], float] = time.time
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self.logins = Logins(lambda: self.config.users, config.auth)
        self.failures = self.logins.failures
        self.accepted_mails = 0

    # -- identity -------------------------------------------------------------

    def _allowlisted(self, session: Session) -> bool:
        return self.allowlisted(peer_host(session))

    def allowlisted(self, host: str) -> bool:
        try:
            peer = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(peer in net for net in self.config.allow)

    def _login(self, session: Session) -> str | None:
        data = session.auth_data if session.authenticated else None
        return data if isinstance(data, str) else None

    def _identity(self, session: Session, envelope: Envelope) -> str:
        """Whose quota and sender ID this is: the login, else the address plus envelope sender."""
        login = self._login(session)
        if login is not None:
            return f"user:{login}"
        return f"ip:{peer_host(session)}|{envelope.mail_from or ''}"

    def _sender_id(self, session: Session) -> str | None:
        login = self._login(session)
        user = self.config.users.get(login) if login is not None else None
        if user is not None and user.sender:
            return user.sender
        return self.config.default_sender

    def _may_send(self, session: Session) -> str | None:
        """None when this session may send; else the refusal."""
        if self._login(session) is not None or self._allowlisted(session):
            return None
        return AUTH_REQUIRED if self.config.users and self.config.tls_context else NOT_ALLOWED

    def _take_token(self, key: str) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.config.rate, self.config.burst)
            if len(self._buckets) > MAX_BUCKETS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.try_acquire()

    # -- SMTP hooks -------------------------------------------------------------

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        refusal = self._may_send(session)
        if refusal is not None:
            log.info("smtp gateway: refused MAIL from %s (%s)", session.peer, refusal)
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return OK_SENDER

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self._may_send(session)
        if refusal is not None:
            return refusal
        phone = phone_for(address, self.config.domains, self.config.default_region, self.config.countries)
        if isinstance(phone, Refused):
            log.info("smtp gateway: refused RCPT %r from %s: %s", address, session.peer, phone.reply)
            return phone.reply
        if phone in envelope.rcpt_tos:
            return OK_RECIPIENT  # the same number twice is one SMS
        if len(envelope.rcpt_tos) >= self.config.max_recipients:
            return TOO_MANY_RECIPIENTS
        if not self._take_token(self._identity(session, envelope)):
            log.info("smtp gateway: rate limit for %s", self._identity(session, envelope))
            return RATE_LIMITED
        envelope.rcpt_tos.append(phone)
        envelope.rcpt_options.extend(rcpt_options)
        return OK_RECIPIENT

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw: bytes = envelope.original_content or b""
        try:
            mail = mailtext.extract(raw, self.config.subject)
        except mailtext.Undecodable as exc:
            log.info("smtp gateway: refused mail from %s: %s", session.peer, exc)
            return f"{UNDECODABLE}: {exc}"
        except Exception:
            log.warning("smtp gateway: unparseable mail from %s", session.peer, exc_info=True)
            return "550 5.6.0 Cannot parse message"
        text = mail.text
        if not text:
            return NO_TEXT
        parts = info(text).segments
        if parts > self.config.max_segments:
            if not self.config.truncate:
                return f"550 5.2.3 Text too long for SMS: {parts} segments, limit {self.config.max_segments}"
            text = "".join(split(text)[: self.config.max_segments])
        phones: list[str] = list(envelope.rcpt_tos)
        identity = self._identity(session, envelope)
        # A client that timed out waiting for our 250 sends the same mail again:
        # the same Message-ID to the same number is the same SMS. Without a
        # Message-ID the raw bytes stand in, but only within a window: a script
        # that sends the same bare alert twice an hour apart means it twice.
        if mail.message_id:
            mail_key = mail.message_id
        else:
            window = int(self.clock() // self.config.dedupe_window)
            mail_key = f"{hashlib.sha256(raw).hexdigest()}@{window}"
        sender = self._sender_id(session)
        entries = []
        for phone in phones:
            key = "smtp:" + hashlib.sha256(f"{identity}\0{mail_key}\0{phone}".encode()).hexdigest()[:40]
            message = Message(
                to=phone,
                text=text,
                sender=sender,
                reference=key,
                metadata={
                    "via": "smtp",
                    "smtp_identity": identity,
                    "smtp_mail_from": envelope.mail_from or "",
                    "smtp_message_id": mail.message_id or "",
                },
            )
            entries.append(OutboxEntry(message=message, idempotency_key=key))
        try:
            ids = await self.commit.enqueue(entries)
        except Exception:
            log.exception("smtp gateway: could not queue mail from %s", session.peer)
            return STORE_FAILED
        self.accepted_mails += 1
        log.info("smtp gateway: queued %d SMS from %s as %s", len(ids), identity, ids[0])
        if self.on_enqueued is not None:
            self.on_enqueued(ids)
        if self.on_accepted is not None:
            reply_to = (envelope.mail_from or "").strip("<>")  # "" for the null sender <>
            self.on_accepted(ids, reply_to)
        more = f" (+{len(ids) - 1} more)" if len(ids) > 1 else ""
        return f"250 2.0.0 OK queued as {ids[0]}{more}"

    async def handle_exception(self, error: Exception) -> str:
        log.exception("smtp gateway: error in session", exc_info=error)
        return INTERNAL_ERROR

    # -- AUTH: aiosmtpd finds the mechanisms by these names; ``logins`` decides -----

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self.logins.plain(server, args)

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self.logins.login(server, args)


class _Session(SMTP):
    """aiosmtpd's protocol with the gateway's connection caps and session time limits.

    The caps are checked when the connection is made, before any greeting: a
    refused client reads one ``421`` line and the socket closes. ``_timeout_cb``
    is aiosmtpd's idle-timer callback (1.4.x), overridden only to say ``421``
    before it closes the connection, as RFC 5321 4.5.3.2 expects of a server
    that gives up on a client.
    """

    def __init__(self, gateway: SmtpGateway, **kwargs: Any) -> None:
        super().__init__(gateway.handler, **kwargs)
        self._gateway = gateway
        self._client: str | None = None  # the key counted in the gateway's connection count
        self._refused = False
        self._login_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._client is not None:  # STARTTLS: the same connection, now encrypted
            super().connection_made(transport)
            return
        peer: Any = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        key = client_key(host)
        if not self._gateway.connections.open(key):
            self._refused = True
            log.warning("smtp gateway: refused connection from %s: too many connections", host)
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(TOO_MANY_CONNECTIONS.encode() + b"\r\n")
            transport.close()
            return
        self._client = key
        super().connection_made(transport)
        limit = self._gateway.config.login_timeout
        if limit > 0 and not self._gateway.handler.allowlisted(host):
            self._login_timer = self.loop.call_later(limit, self._login_expired)

    def _login_expired(self) -> None:
        if self.session is None or self.session.authenticated or self.transport is None:
            return
        log.info("smtp gateway: closing %s: not logged in within the login timeout", self.session.peer)
        self._say_and_close(LOGIN_TIMEOUT)

    def _timeout_cb(self) -> None:
        log.info("smtp gateway: closing %s: idle", self.session.peer if self.session else "?")
        self._say_and_close(IDLE_TIMEOUT)

    def _say_and_close(self, reply: str) -> None:
        transport = self.transport
        if transport is None:
            return
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(reply.encode() + b"\r\n")
        transport.close()  # flushes the reply first

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return  # aiosmtpd never saw this connection
        if self._client is not None:
            self._gateway.connections.close(self._client)
            self._client = None
        if self._login_timer is not None:
            self._login_timer.cancel()
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        return super().eof_received()


class SmtpGateway:
    """The listening server: one aiosmtpd protocol per connection, all on the caller's event loop."""

    def __init__(
        self,
        config: GatewayConfig,
        store: Store,
        on_enqueued: Callable[[Sequence[str]], None] | None = None,
        on_accepted: Callable[[Sequence[str], str], None] | None = None,
    ) -> None:
        self.config = config
        self.handler = GatewayHandler(config, store, on_enqueued, on_accepted)
        self.connections = ConnectionCount(config.connections)
        self._server: asyncio.Server | None = None
        self._protocols: set[SMTP] = set()

    def _protocol(self) -> SMTP:
        cfg = self.config
        proto = _Session(
            self,
            hostname=cfg.hostname,
            ident="msgbridge",
            data_size_limit=cfg.max_size,
            tls_context=cfg.tls_context,
            require_starttls=False,  # allowlisted peers may send in clear; AUTH still needs TLS
            auth_require_tls=True,
            auth_required=False,  # enforced at MAIL, so allowlisted peers need not log in
            timeout=cfg.timeout,
            loop=asyncio.get_running_loop(),
        )
        self._protocols.add(proto)
        if len(self._protocols) > 256:
            self._protocols = {p for p in self._protocols if p.transport is not None}
        return proto

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.config.host, self.config.port)
        log.info(
            "smtp gateway listening on %s:%d for %s",
            self.config.host,
            self.port,
            ", ".join(self.config.domains),
        )

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        port: Any = self._server.sockets[0].getsockname()[1]
        return int(port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for proto in self._protocols:
            if proto.transport is not None:
                proto.transport.close()
        await self._server.wait_closed()
        self._server = None
