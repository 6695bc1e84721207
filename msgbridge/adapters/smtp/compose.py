"""Messages turned into SMTP transactions: envelope, headers and body, and grouping.

Pure: nothing here touches a connection, so everything a message can be
refused for (no sender, an address SMTP cannot carry, a header that would let
a caller inject lines, a field SMTP cannot honour) is a result before any
connection is opened.
"""

from __future__ import annotations

import email.errors
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid

from msgbridge.adapters.smtp import sms_gateway
from msgbridge.adapters.smtp.config import SmtpConfig
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import Channel, Message, SendResult
from msgbridge.core.status import DeliveryStatus


@dataclass
class Transaction:
    """One MAIL/RCPT.../DATA exchange: the messages it carries and what to write."""

    indexes: list[int]
    messages: list[Message]
    recipients: list[str]
    sender: str
    content: bytes
    message_id: str


def failed(message: Message, error: ErrorInfo, status: DeliveryStatus | None = None) -> SendResult:
    """A refusal with a native code is REJECTED, unless retrying may help; without one it is FAILED."""
    if status is None:
        status = (
            DeliveryStatus.FAILED if error.retryable or error.native_code is None else DeliveryStatus.REJECTED
        )
    return SendResult(message_id=message.id, status=status, error=error)


def bad(code: ErrorCode, why: str) -> ErrorInfo:
    return ErrorInfo(code=code, native_message=why)


def unsupported(message: Message, why: str) -> SendResult:
    return failed(message, ErrorInfo(code=ErrorCode.UNSUPPORTED, native_message=why))


def envelope(cfg: SmtpConfig, message: Message) -> tuple[str, str, str | None] | SendResult:
    """(sender, recipient, subject) for one message, or the result that says why it cannot go."""
    if message.validity is not None:
        return unsupported(message, "SMTP cannot carry a validity period")
    if message.scheduled_at is not None and cfg.smsc is None:
        return unsupported(message, "SMTP cannot schedule a send (only the SMSC mail format can)")
    if cfg.mode == "email":
        sender = message.sender or cfg.mail_from
        if not sender or "@" not in sender:
            return failed(message, ErrorInfo(code=ErrorCode.INVALID_SENDER, native_message="no From address"))
        if "@" not in message.to:
            return failed(
                message,
                ErrorInfo(code=ErrorCode.INVALID_DESTINATION, native_message=f"not an address: {message.to}"),
            )
        if not sender.isascii():
            return failed(
                message, bad(ErrorCode.INVALID_SENDER, f"non-ASCII address needs SMTPUTF8: {sender}")
            )
        if not message.to.isascii():
            return failed(message, bad(ErrorCode.INVALID_DESTINATION, f"non-ASCII address: {message.to}"))
        return sender, message.to, message.subject
    if message.channel is not Channel.SMS or message.html is not None:
        return unsupported(message, "mode=sms-gateway sends SMS text only (no email channel, no html)")
    sender = cfg.mail_from
    if not sender:
        return failed(message, ErrorInfo(code=ErrorCode.INVALID_SENDER, native_message="no from= address"))
    subject = cfg.subject.replace("{sender}", message.sender or "") if cfg.subject else None
    if cfg.smsc is not None:
        return sender, cfg.smsc_to, subject
    assert cfg.domain is not None
    rcpt = sms_gateway.gateway_address(message, cfg.domain)
    if isinstance(rcpt, ErrorInfo):
        return failed(message, rcpt)
    return sender, rcpt, subject


def mail_bytes(
    cfg: SmtpConfig, message: Message, sender: str, to: str, subject: str | None, message_id: str
) -> bytes | SendResult:
    """The whole mail for one message (one per transaction), or the result that says why it cannot be written."""
    mail = EmailMessage()
    try:
        mail["From"] = sender
        mail["To"] = to
        if subject:
            mail["Subject"] = subject
    except (ValueError, TypeError, email.errors.HeaderParseError) as exc:
        # A line break in a subject or address would let a caller inject headers.
        return failed(message, bad(ErrorCode.INVALID_ARGUMENT, f"bad header: {exc}"))
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id
    mail["X-Msgbridge-Id"] = message.id
    text = message.text
    if cfg.smsc is not None:
        body = sms_gateway.smsc_body(message, cfg.smsc, message.sender)
        if isinstance(body, ErrorInfo):
            return failed(message, body)
        text = body
    mail.set_content(text, charset="utf-8")
    if cfg.mode == "email" and message.html:
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail.as_bytes(policy=SMTP_POLICY)


def plan(cfg: SmtpConfig, messages: Sequence[Message], results: list[SendResult | None]) -> list[Transaction]:
    """The transactions that carry ``messages``; a message that cannot go gets its result in ``results`` instead."""
    txs: list[Transaction] = []
    open_groups: dict[tuple[str, str | None, str, str | None, str | None], Transaction] = {}
    domain = (cfg.mail_from or "msgbridge.invalid").rpartition("@")[2] or None
    for index, message in enumerate(messages):
        env = envelope(cfg, message)
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
        content = mail_bytes(cfg, message, sender, to_header, subject, message_id)
        if isinstance(content, SendResult):
            results[index] = content
            continue
        tx = Transaction([index], [message], [rcpt], sender, content, message_id)
        txs.append(tx)
        if cfg.group > 1:
            open_groups[key] = tx
    return txs
