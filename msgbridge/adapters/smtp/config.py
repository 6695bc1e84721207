"""What an ``smtp://`` URL may say, declared once, and the connection settings read from it.

The options (``SMTP_OPTIONS``) drive parsing, validation, ``msgbridge
transports --json`` and the README's table; ``SmtpConfig`` is their checked
result, so a bad URL fails before any connection is made.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from msgbridge.adapters.smtp import sms_gateway
from msgbridge.core import options as opt
from msgbridge.core.errors import ConfigError
from msgbridge.core.options import OptionSet, OptionValues
from msgbridge.core.url import Secret, TransportURL

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
    opt.integer(
        "pool", 4, 1, 100, "connections kept open and reused; also how many transactions run at once"
    ),
    opt.choice("mode", "email", MODES, "`email` or `sms-gateway`"),
    opt.choice(
        "format", "address", FORMATS, "with `mode=sms-gateway`: `address` (`<digits>@domain`) or `smsc`"
    ),
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
        "group",
        1,
        1,
        1000,
        "up to N identical messages (same from, subject, text) share one transaction with N RCPTs",
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
    opt.text(
        "to", None, "`format=smsc`: the address the command mail goes to", shown_default="`send@send.smsc.ru`"
    ),
    opt.flag("translit", False, "`format=smsc`: SMSC's translit flag"),
    opt.choice("smsformat", "plain", tuple(sms_gateway.SMSC_FORMATS), "`format=smsc`: SMSC's message format"),
)
