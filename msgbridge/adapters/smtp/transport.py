"""Outbound SMTP: email, or SMS handed to a provider's mail interface.

``smtp://user:pass@host:587?tls=starttls&pool=4&mode=email``

Each message is one SMTP transaction (MAIL, RCPT, DATA) by default, so every
SMS has its own status. With ``group=N`` identical messages (same sender,
subject and body) share one transaction of up to N recipients; a server that
refuses some RCPTs then yields a refusal for exactly those messages and a
success for the rest, never one exception for the lot.

Connections are pooled (``pool=N``) and reused across ``send()`` calls. A
reused connection that turns out to be dead before MAIL is answered (idle
servers hang up, often with 421) is replaced and the transaction retried
once; a connection that drops during DATA leaves the outcome unknown, so those
messages come back MAYBE_SUBMITTED with a TIMEOUT error and are not resent
blindly.
"""

from __future__ import annotations

import asyncio
import email.errors
import logging
import socket
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import ClassVar

import aiosmtplib

from msgbridge.adapters.base import Capabilities, Transport
from msgbridge.adapters.smtp import sms_gateway
from msgbridge.adapters.smtp.replies import error_info
from msgbridge.core import options as opt
from msgbridge.core.errors import AuthError, ConfigError, ErrorCode, ErrorInfo, TransportError
from msgbridge.core.message import Channel, Message, SendResult
from msgbridge.core.options import OptionSet, OptionValues
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import Secret, TransportURL

log = logging.getLogger(__name__)

TLS_MODES = ("starttls", "implicit", "none", "auto")
MODES = ("email", "sms-gateway")
FORMATS = ("address", "smsc")
DEFAULT_PORTS: dict[str, int] = {"implicit": 465, "starttls": 587, "none": 25, "auto": 25}


@dataclass(frozen=True)
class SmtpConfig:
    """Everything the URL says, checked once so a bad URL fails before any connection."""

    host: str
    port: int
    username: str | None
    password: Secret | None
    tls: str = "starttls"
    pool: int = 4
    mode: str = "email"
    format: str = "address"
    domain: str | None = None
    mail_from: str | None = None
    subject: str | None = None
    timeout: float = 30.0
    verify: bool = True
    cafile: str | None = None
    group: int = 1
    auth: bool = True
    helo: str = field(default_factory=socket.gethostname)
    smsc: sms_gateway.SmscAccount | None = None
    smsc_to: str = sms_gateway.SMSC_ADDRESS

    @classmethod
    def from_settings(cls, url: TransportURL, o: OptionValues) -> SmtpConfig:
        """The connection settings of ``url``, its options already read through ``SMTP_OPTIONS`` into ``o``."""
        mode = o.get_str("mode")
        fmt = o.get_str("format")
        smsc = mode == "sms-gateway" and fmt == "smsc"
        tls = o.get_text("tls") or ("auto" if smsc else "starttls")
        host = url.host or (sms_gateway.SMSC_HOST if smsc else None)
        if not host:
            raise ConfigError("smtp:// needs a host")
        domain = o.get_text("domain")
        if mode == "sms-gateway" and fmt == "address" and not domain:
            raise ConfigError(
                "smtp:// mode=sms-gateway&format=address needs domain=<the provider's mail domain>"
            )
        account: sms_gateway.SmscAccount | None = None
        if smsc:
            # The SMSC mail server takes no AUTH: the URL's credentials are the
            # account's, and travel inside the body instead.
            account = sms_gateway.SmscAccount(
                login=url.user or "",
                password=url.secret or Secret(""),
                translit=o.get_bool("translit"),
                format=sms_gateway.SMSC_FORMATS[o.get_str("smsformat")],
            )
        given_auth = o.typed["auth"]
        auth = (given_auth if isinstance(given_auth, bool) else not smsc) and url.user is not None
        return cls(
            host=host,
            port=url.port or DEFAULT_PORTS[tls],
            username=url.user if auth else None,
            password=url.secret if auth else None,
            tls=tls,
            pool=o.get_int("pool"),
            mode=mode,
            format=fmt,
            domain=domain,
            mail_from=o.get_text("from") or (sms_gateway.SMSC_FROM if smsc else None),
            subject=o.get_text("subject"),
            timeout=o.get_float("timeout"),
            verify=o.get_bool("verify"),
            cafile=o.get_text("cafile"),
            group=o.get_int("group") if not smsc else 1,
            auth=auth,
            helo=o.get_text("helo") or socket.gethostname(),
            smsc=account,
            smsc_to=o.get_text("to") or sms_gateway.SMSC_ADDRESS,
        )


SMTP_OPTIONS = OptionSet(
    opt.choice(
        "tls",
        None,
        TLS_MODES,
        "`starttls`: STARTTLS required; `implicit`: TLS from the first byte (port 465); `none`: plain; "
        "`auto`: STARTTLS if offered",
        shown_default="`starttls` (`auto` for `format=smsc`)",
    ),
    opt.integer("pool", 4, 1, 100, "connections kept open and reused; also how many transactions run at once"),
    opt.choice("mode", "email", MODES, "`email` or `sms-gateway`"),
    opt.choice("format", "address", FORMATS, "with `mode=sms-gateway`: `address` (`<digits>@domain`) or `smsc`"),
    opt.text("domain", None, "the provider's mail domain for `format=address` (required there)"),
    opt.text(
        "from",
        None,
        "envelope and `From:` sender; in `mode=email` a message's own `sender` wins. `api@smsc.ru` for `format=smsc`",
    ),
    opt.text(
        "subject",
        None,
        "subject for `mode=sms-gateway`; `{sender}` is replaced by the message's sender ID (some providers read it there)",
    ),
    opt.integer(
        "group", 1, 1, 1000, "up to N identical messages (same from, subject, text) share one transaction with N RCPTs"
    ),
    opt.flag(
        "auth",
        None,
        "log in with the URL's user and password",
        shown_default="yes if a user is given (no for `format=smsc`)",
    ),
    opt.flag("verify", True, "verify the server certificate"),
    opt.text("cafile", None, "PEM bundle to verify the server with", shown_default="system store"),
    opt.number("timeout", 30.0, 0.01, 3600, "seconds per SMTP command"),
    opt.text("helo", None, "name sent in EHLO", shown_default="host name"),
    opt.text("to", None, "`format=smsc`: the address the command mail goes to", shown_default="`send@send.smsc.ru`"),
    opt.flag("translit", False, "`format=smsc`: SMSC's translit flag"),
    opt.choice("smsformat", "plain", tuple(sms_gateway.SMSC_FORMATS), "`format=smsc`: SMSC's message format"),
)


@dataclass
class _Transaction:
    """One MAIL/RCPT.../DATA exchange: the messages it carries and what to write."""

    indexes: list[int]
    messages: list[Message]
    recipients: list[str]
    sender: str
    content: bytes
    message_id: str


@dataclass
class _Slot:
    """One pooled connection; ``client`` is None until first needed or after it died."""

    client: aiosmtplib.SMTP | None = None


def _failed(message: Message, error: ErrorInfo, status: DeliveryStatus | None = None) -> SendResult:
    if status is None:
        status = (
            DeliveryStatus.FAILED if error.retryable or error.native_code is None else DeliveryStatus.REJECTED
        )
    return SendResult(message_id=message.id, status=status, error=error)


def _bad(code: ErrorCode, why: str) -> ErrorInfo:
    return ErrorInfo(code=code, native_message=why)


def _unsupported(message: Message, why: str) -> SendResult:
    return _failed(message, ErrorInfo(code=ErrorCode.UNSUPPORTED, native_message=why))


class SmtpTransport(Transport):
    scheme = "smtp"
    summary = "SMTP: email, or SMS via a provider's mail interface (SMSC.ru body or <phone>@domain)"
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=100)

    declared_options = SMTP_OPTIONS

    def __init__(self, url: TransportURL) -> None:
        super().__init__(url)
        self.config = SmtpConfig.from_settings(url, self.settings)
        self._slots: asyncio.Queue[_Slot] | None = None

    @property
    def link(self) -> str:
        return f"smtp://{self.config.host}:{self.config.port}"

    # -- connections -------------------------------------------------------

    def _pool(self) -> asyncio.Queue[_Slot]:
        if self._slots is None:
            self._slots = asyncio.Queue()
            for _ in range(self.config.pool):
                self._slots.put_nowait(_Slot())
        return self._slots

    def _client(self) -> aiosmtplib.SMTP:
        cfg = self.config
        return aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            username=cfg.username,
            password=cfg.password.reveal() if cfg.password else None,
            use_tls=cfg.tls == "implicit",
            start_tls={"starttls": True, "none": False, "auto": None, "implicit": False}[cfg.tls],
            validate_certs=cfg.verify,
            cert_bundle=cfg.cafile,
            timeout=cfg.timeout,
            local_hostname=cfg.helo,
        )

    async def _connect(self) -> aiosmtplib.SMTP | ErrorInfo:
        """A connected (and logged-in) client, or why there is none, as data."""
        client = self._client()
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            info = error_info(exc.code, exc.message)
        except aiosmtplib.SMTPConnectTimeoutError as exc:
            # Nothing was sent yet, so this is not an outcome-unknown TIMEOUT.
            info = ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_message=f"connect timeout: {exc}")
        except aiosmtplib.SMTPNotSupported as exc:
            info = ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=str(exc))
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
        ) as exc:
            info = self._network_or_tls(exc)
        except aiosmtplib.SMTPResponseException as exc:
            info = error_info(exc.code, exc.message)
        except ssl.SSLError as exc:
            info = ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=f"TLS: {exc}")
        except aiosmtplib.SMTPException as exc:
            # A bare SMTPException is aiosmtplib saying the server lacks what we
            # asked for (STARTTLS, AUTH): a setup mismatch, not a passing fault.
            info = ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=str(exc))
        except OSError as exc:
            info = self._network_or_tls(exc)
        else:
            return client
        client.close()
        log.warning("smtp connect to %s failed: %s", self.link, info)
        return info

    @staticmethod
    def _network_or_tls(exc: BaseException) -> ErrorInfo:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLError):
            return ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=f"TLS: {cause}")
        return ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_message=str(exc) or type(exc).__name__)

    async def open(self) -> None:
        """Connect one pooled connection now, so a wrong password or host shows at startup."""
        pool = self._pool()
        slot = await pool.get()
        try:
            if slot.client is None or not slot.client.is_connected:
                got = await self._connect()
                if isinstance(got, ErrorInfo):
                    if got.code is ErrorCode.AUTH_FAILED:
                        raise AuthError(f"{self.link}: {got}", got)
                    raise TransportError(f"{self.link}: {got}", got)
                slot.client = got
        finally:
            pool.put_nowait(slot)

    async def aclose(self) -> None:
        if self._slots is None:
            return
        while not self._slots.empty():
            slot = self._slots.get_nowait()
            if slot.client is not None and slot.client.is_connected:
                try:
                    await asyncio.wait_for(slot.client.quit(), timeout=2.0)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    slot.client.close()
        self._slots = None

    # -- building mail -------------------------------------------------------

    def _envelope(self, message: Message) -> tuple[str, str, str | None] | SendResult:
        """(sender, recipient, subject) for one message, or the result that says why it cannot go."""
        cfg = self.config
        if message.validity is not None:
            return _unsupported(message, "SMTP cannot carry a validity period")
        if message.scheduled_at is not None and cfg.smsc is None:
            return _unsupported(message, "SMTP cannot schedule a send (only the SMSC mail format can)")
        if cfg.mode == "email":
            sender = message.sender or cfg.mail_from
            if not sender or "@" not in sender:
                return _failed(
                    message, ErrorInfo(code=ErrorCode.INVALID_SENDER, native_message="no From address")
                )
            if "@" not in message.to:
                return _failed(
                    message,
                    ErrorInfo(
                        code=ErrorCode.INVALID_DESTINATION, native_message=f"not an address: {message.to}"
                    ),
                )
            if not sender.isascii():
                return _failed(
                    message, _bad(ErrorCode.INVALID_SENDER, f"non-ASCII address needs SMTPUTF8: {sender}")
                )
            if not message.to.isascii():
                return _failed(
                    message, _bad(ErrorCode.INVALID_DESTINATION, f"non-ASCII address: {message.to}")
                )
            return sender, message.to, message.subject
        if message.channel is not Channel.SMS or message.html is not None:
            return _unsupported(message, "mode=sms-gateway sends SMS text only (no email channel, no html)")
        sender = cfg.mail_from
        if not sender:
            return _failed(
                message, ErrorInfo(code=ErrorCode.INVALID_SENDER, native_message="no from= address")
            )
        subject = cfg.subject.replace("{sender}", message.sender or "") if cfg.subject else None
        if cfg.smsc is not None:
            return sender, cfg.smsc_to, subject
        assert cfg.domain is not None
        rcpt = sms_gateway.gateway_address(message, cfg.domain)
        if isinstance(rcpt, ErrorInfo):
            return _failed(message, rcpt)
        return sender, rcpt, subject

    def _content(
        self, message: Message, sender: str, to: str, subject: str | None, message_id: str
    ) -> bytes | SendResult:
        cfg = self.config
        mail = EmailMessage()
        try:
            mail["From"] = sender
            mail["To"] = to
            if subject:
                mail["Subject"] = subject
        except (ValueError, TypeError, email.errors.HeaderParseError) as exc:
            # A line break in a subject or address would let a caller inject headers.
            return _failed(message, _bad(ErrorCode.INVALID_ARGUMENT, f"bad header: {exc}"))
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id
        mail["X-Msgbridge-Id"] = message.id
        text = message.text
        if cfg.smsc is not None:
            body = sms_gateway.smsc_body(message, cfg.smsc, message.sender)
            if isinstance(body, ErrorInfo):
                return _failed(message, body)
            text = body
        mail.set_content(text, charset="utf-8")
        if cfg.mode == "email" and message.html:
            mail.add_alternative(message.html, subtype="html", charset="utf-8")
        return mail.as_bytes(policy=SMTP_POLICY)

    def _plan(self, messages: Sequence[Message], results: list[SendResult | None]) -> list[_Transaction]:
        cfg = self.config
        txs: list[_Transaction] = []
        open_groups: dict[tuple[str, str | None, str, str | None, str | None], _Transaction] = {}
        domain = (cfg.mail_from or "msgbridge.invalid").rpartition("@")[2] or None
        for index, message in enumerate(messages):
            env = self._envelope(message)
            if isinstance(env, SendResult):
                results[index] = env
                continue
            sender, rcpt, subject = env
            key = (sender, subject, message.text, message.html, message.sender)
            if cfg.group > 1:
                tx = open_groups.get(key)
                if tx is not None and len(tx.recipients) < cfg.group and rcpt not in tx.recipients:
                    tx.indexes.append(index)
                    tx.messages.append(message)
                    tx.recipients.append(rcpt)
                    continue
            message_id = make_msgid(idstring=message.id, domain=domain)
            to_header = rcpt if cfg.group == 1 else "undisclosed-recipients:;"
            content = self._content(message, sender, to_header, subject, message_id)
            if isinstance(content, SendResult):
                results[index] = content
                continue
            tx = _Transaction([index], [message], [rcpt], sender, content, message_id)
            txs.append(tx)
            if cfg.group > 1:
                open_groups[key] = tx
        return txs

    # -- sending ---------------------------------------------------------------

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        queue = deque(self._plan(messages, results))
        pool = self._pool()

        async def worker() -> None:
            while queue:
                tx = queue.popleft()
                slot = await pool.get()
                try:
                    for index, result in zip(tx.indexes, await self._transact(slot, tx), strict=True):
                        results[index] = result
                except BaseException:
                    if slot.client is not None:
                        slot.client.close()
                        slot.client = None
                    raise
                finally:
                    pool.put_nowait(slot)

        workers = min(self.config.pool, len(queue))
        if workers:
            await asyncio.gather(*(worker() for _ in range(workers)))
        missing = [i for i, r in enumerate(results) if r is None]
        assert not missing, f"no result for messages {missing}"
        return [r for r in results if r is not None]

    def _native_id(self, tx: _Transaction, rcpt: str) -> str:
        return tx.message_id if len(tx.recipients) == 1 else f"{tx.message_id}#{rcpt}"

    async def _transact(self, slot: _Slot, tx: _Transaction) -> list[SendResult]:
        for attempt in (1, 2):
            reused = slot.client is not None and slot.client.is_connected
            if not reused:
                if slot.client is not None:
                    slot.client.close()
                got = await self._connect()
                if isinstance(got, ErrorInfo):
                    slot.client = None
                    return [_failed(m, got) for m in tx.messages]
                slot.client = got
            client = slot.client
            assert client is not None
            try:
                await client.mail(tx.sender)
            except aiosmtplib.SMTPSenderRefused as exc:
                if exc.code == 421 and reused and attempt == 1:
                    log.info("smtp %s: pooled connection closed with 421; reconnecting", self.link)
                    client.close()
                    slot.client = None
                    continue
                await self._rset(slot)
                return [_failed(m, error_info(exc.code, exc.message)) for m in tx.messages]
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException, OSError) as exc:
                # 421 or a dead socket on a connection the pool kept: start afresh once.
                client.close()
                slot.client = None
                if reused and attempt == 1:
                    log.info("smtp %s: pooled connection was gone (%s); reconnecting", self.link, exc)
                    continue
                info = (
                    error_info(exc.code, exc.message)
                    if isinstance(exc, aiosmtplib.SMTPResponseException)
                    else ErrorInfo(
                        code=ErrorCode.NETWORK_ERROR, native_message=str(exc) or type(exc).__name__
                    )
                )
                return [_failed(m, info) for m in tx.messages]
            return await self._rcpt_and_data(slot, client, tx)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _rcpt_and_data(
        self, slot: _Slot, client: aiosmtplib.SMTP, tx: _Transaction
    ) -> list[SendResult]:
        out: dict[int, SendResult] = {}
        accepted: list[int] = []
        try:
            for pos, rcpt in enumerate(tx.recipients):
                try:
                    await client.rcpt(rcpt)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    out[pos] = _failed(tx.messages[pos], error_info(exc.code, exc.message))
                else:
                    accepted.append(pos)
        except (aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            client.close()
            slot.client = None
            info = ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_message=str(exc) or type(exc).__name__)
            return [out.get(pos) or _failed(m, info) for pos, m in enumerate(tx.messages)]
        if not accepted:
            await self._rset(slot)
            return [out[pos] for pos in range(len(tx.messages))]
        try:
            reply = await client.data(tx.content)
        except aiosmtplib.SMTPDataError as exc:
            await self._rset(slot)
            info = error_info(exc.code, exc.message)
            for pos in accepted:
                out[pos] = _failed(tx.messages[pos], info)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            # The body may have been taken before the line dropped: do not resend blindly.
            client.close()
            slot.client = None
            info = ErrorInfo(
                code=ErrorCode.TIMEOUT, native_message=f"no reply to DATA: {exc or type(exc).__name__}"
            )
            for pos in accepted:
                out[pos] = _failed(tx.messages[pos], info, DeliveryStatus.MAYBE_SUBMITTED)
        else:
            for pos in accepted:
                out[pos] = SendResult(
                    message_id=tx.messages[pos].id,
                    status=DeliveryStatus.SUBMITTED,
                    native_id=self._native_id(tx, tx.recipients[pos]),
                    raw={"reply": f"{reply.code} {reply.message}", "recipient": tx.recipients[pos]},
                )
        return [out[pos] for pos in range(len(tx.messages))]

    async def _rset(self, slot: _Slot) -> None:
        """Clear the envelope after a refusal so the pooled connection stays usable."""
        if slot.client is None:
            return
        try:
            await slot.client.rset()
        except (aiosmtplib.SMTPException, OSError):
            slot.client.close()
            slot.client = None
