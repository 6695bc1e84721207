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
aiosmtpd's; this module holds the hooks that decide. AUTH PLAIN and LOGIN are
implemented here rather than through aiosmtpd's ``authenticator`` callback:
that callback is not awaited (an ``async def`` one makes aiosmtpd 1.4 answer
235 to a wrong password), and the scrypt check is run in a worker thread so a
login does not stall every other session.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import ipaddress
import logging
import ssl
import time
import weakref
from base64 import b64decode
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from msgbridge.core.encoding import info, split
from msgbridge.core.message import Message
from msgbridge.core.ratelimit import TokenBucket
from msgbridge.core.terminal import printable
from msgbridge.inbound import mailtext
from msgbridge.inbound.group_commit import GroupCommit
from msgbridge.inbound.limits import AuthPolicy, ConnectionCount, ConnectionPolicy, FailureLog, client_key
from msgbridge.inbound.recipients import Refused, phone_for
from msgbridge.inbound.users import User, dummy_hash, verify_password
from msgbridge.store.base import OutboxEntry, Store

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Replies, in one place so the docs and tests can name them.
OK_SENDER = "250 2.1.0 OK"
OK_RECIPIENT = "250 2.1.5 OK"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
NOT_ALLOWED = "550 5.7.1 Not authorised: log in or send from an allowed address"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
RATE_LIMITED = "450 4.7.1 Rate limit exceeded, try again later"
NO_TEXT = "550 5.6.0 No text to send as SMS"
STORE_FAILED = "451 4.3.0 Temporary local problem, try again later"
INTERNAL_ERROR = "451 4.3.0 Internal error, try again later"
UNDECODABLE = "554 5.6.0 Cannot decode the text"
AUTH_SYNTAX = "501 5.5.2 Cannot decode response"
TOO_MANY_AUTH_FAILURES = "421 4.7.0 Too many authentication failures"
# RFC 4954: 454 4.7.0 "Temporary authentication failure"; the client may try again later.
LOCKED_OUT = "454 4.7.0 Too many failed logins, try again later"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
IDLE_TIMEOUT = "421 4.4.2 Idle too long, closing connection"
LOGIN_TIMEOUT = "421 4.7.0 Not logged in in time, closing connection"

MAX_AUTH_FAILURES = 3
MAX_CONCURRENT_AUTH = 4  # password checks running at once (each is ~50 ms of CPU and 16 MiB)
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
        self._auth_failures: weakref.WeakKeyDictionary[SMTP, int] = weakref.WeakKeyDictionary()
        self._auth_slots = asyncio.Semaphore(MAX_CONCURRENT_AUTH)
        self.failures = FailureLog(config.auth)
        self.accepted_mails = 0

    # -- identity -------------------------------------------------------------

    @staticmethod
    def _peer_host(session: Session | None) -> str:
        peer: Any = session.peer if session is not None else None
        return str(peer[0]) if isinstance(peer, tuple) and peer else ""

    def _allowlisted(self, session: Session) -> bool:
        return self.allowlisted(self._peer_host(session))

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
        return f"ip:{self._peer_host(session)}|{envelope.mail_from or ''}"

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

    # -- AUTH -----------------------------------------------------------------------

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push(AUTH_SYNTAX)
                return AuthResult(success=False, handled=True)
        fields = blob.split(b"\0")
        if len(fields) != 3:
            await server.push(AUTH_SYNTAX)
            return AuthResult(success=False, handled=True)
        return await self._check(server, fields[1], fields[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            login = await server.challenge_auth(server.AuthLoginUsernameChallenge)
            if login is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                login = b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push(AUTH_SYNTAX)
                return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(server.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._check(server, login, password)

    async def _check(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        name = login.decode("utf-8", errors="replace")
        host = self._peer_host(server.session)
        keys = (f"ip:{client_key(host)}", f"login:{name}")
        # Each earlier failure for this address or login makes this attempt wait longer,
        # whichever connection it comes on; bounded by the policy's max_delay.
        wait = max(self.failures.wait_for(key) for key in keys)
        if wait > 0:
            await asyncio.sleep(wait)
        if self._locked(keys):
            return await self._refuse_locked(server, name, host)
        user = self.config.users.get(name)
        stored = user.password_hash if user is not None else dummy_hash()
        async with (
            self._auth_slots
        ):  # a flood of logins queues here instead of eating every core and 16 MiB each
            ok = await asyncio.to_thread(verify_password, stored, password) and user is not None
        if self._locked(keys):  # locked by a parallel guess while this one was checked
            return await self._refuse_locked(server, name, host)
        if ok:
            for key in keys:
                self.failures.clear(key)
            log.info("smtp gateway: %s logged in from %s", name, host)
            # auth_data holds the login only; the password is not kept in the session.
            return AuthResult(success=True, handled=False, auth_data=name)
        log.warning("smtp gateway: failed login %r from %s", name, host)
        for key in keys:
            if self.failures.fail(key):
                log.warning(
                    "smtp gateway: %s locked out for %.0f s after %d failed logins",
                    printable(key),  # the login part is the client's bytes
                    self.config.auth.lockout,
                    self.config.auth.max_failures,
                )
        if await self._session_failure(server):
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8

    def _locked(self, keys: Sequence[str]) -> bool:
        return any(self.failures.locked_for(key) > 0 for key in keys)

    async def _refuse_locked(self, server: SMTP, name: str, host: str) -> AuthResult:
        """During a lock-out every password is refused, the right one too, and none is checked."""
        # info, not warning: a guesser hammering a lock would otherwise flood the log it was announced in
        log.info("smtp gateway: login %r from %s refused: locked out", name, host)
        if not await self._session_failure(server):
            await server.push(LOCKED_OUT)
        return AuthResult(success=False, handled=True)

    async def _session_failure(self, server: SMTP) -> bool:
        """Count a failure on this connection; at the limit answer 421, close it and return True."""
        failures = self._auth_failures.get(server, 0) + 1
        self._auth_failures[server] = failures
        if failures < MAX_AUTH_FAILURES:
            return False
        self._auth_failures.pop(server, None)
        await server.push(TOO_MANY_AUTH_FAILURES)
        if server.transport is not None:
            server.transport.close()
        return True


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
