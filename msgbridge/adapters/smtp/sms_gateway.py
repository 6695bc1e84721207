"""SMS written as mail for a provider's mail interface: the SMSC.ru body and ``<phone>@<domain>``.

SMSC.ru reads one mail to ``send@send.smsc.ru`` as one send request whose
whole body is a colon-separated command. We write the older form that the
provider's own library sends::

    login:psw:id:time:translit,format,sender:phones:message

The message comes last, so it may itself contain colons and newlines; every
other field may not, and we refuse rather than let a stray ``:`` shift the
fields. An empty login makes ``psw`` count as the API key.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo, MessagingError
from msgbridge.core.message import Message
from msgbridge.core.phone import digits, normalize
from msgbridge.core.url import Secret

SMSC_ADDRESS = "send@send.smsc.ru"
SMSC_HOST = "send.smsc.ru"
SMSC_FROM = "api@smsc.ru"
# SMSC's "format" field in the mail body: 0 plain SMS, 1 flash.
SMSC_FORMATS: dict[str, int] = {"plain": 0, "flash": 1}


@dataclass(frozen=True)
class SmscAccount:
    login: str
    password: Secret
    translit: bool = False
    format: int = 0

    def __post_init__(self) -> None:
        for name, value in (("login", self.login), ("password", self.password.reveal())):
            if ":" in value or "\n" in value or "\r" in value:
                raise ConfigError(
                    f"SMSC {name} may not contain ':' or a line break (it is a field separator)"
                )


def smsc_id(message: Message) -> str:
    """A 31-bit numeric id for the mail command, stable for one message (SMSC ids are integers)."""
    return str(zlib.crc32(message.id.encode()) & 0x7FFFFFFF or 1)


def smsc_time(message: Message) -> str:
    """Empty for "now"; ``0<unix ts>`` for a scheduled send, as the HTTP API spells an absolute time."""
    if message.scheduled_at is None:
        return ""
    return f"0{int(message.scheduled_at.timestamp())}"


def smsc_body(message: Message, account: SmscAccount, sender: str | None) -> str | ErrorInfo:
    """The mail body for one SMS, or the error that makes it unsendable."""
    try:
        phone = digits(normalize(message.to))
    except MessagingError as exc:
        return exc.info
    sender_text = sender or ""
    if any(ch in sender_text for ch in ":,\r\n"):
        return ErrorInfo(
            code=ErrorCode.INVALID_SENDER, native_message=f"sender {sender_text!r} contains ':' or ','"
        )
    options = f"{int(account.translit)},{account.format},{sender_text}"
    fields = [account.login, account.password.reveal(), smsc_id(message), smsc_time(message), options, phone]
    return ":".join(fields) + ":" + message.text


def gateway_address(message: Message, domain: str) -> str | ErrorInfo:
    """``<international digits>@<domain>``: the common email-to-SMS address form."""
    try:
        phone = digits(normalize(message.to))
    except MessagingError as exc:
        return exc.info
    return f"{phone}@{domain}"
