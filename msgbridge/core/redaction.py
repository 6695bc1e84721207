"""Keeping secrets out of log lines that other libraries write.

Our own code prints URLs through :class:`~msgbridge.core.url.TransportURL`,
which never shows a secret. Libraries underneath do not know that: httpx
logs every request URL at INFO (``mobizon://?key_in=query`` puts the API key
there), httpcore and aiosmtplib log traffic at DEBUG. :class:`SecretFilter`
rewrites each record before a handler sees it: values of secret-looking
query parameters and auth headers, and every secret value this process has
parsed out of a URL (in plain and percent-encoded form), become ``***``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "***"

# Loggers of the libraries we call that may write URLs, headers or protocol traffic.
# A filter on a logger covers only records logged to that very name, so child loggers are listed one by one.
THIRD_PARTY_LOGGERS: tuple[str, ...] = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "hpack",
    "aiosmtplib",
    "asyncpg",
    "asyncpg.pool",
    "mail.log",
    "mail.debug",
)

# Query/form parameters whose value is a credential in some provider's API (SMSC.ru: psw, apikey;
# Mobizon: apiKey; Selzy: api_key; generic token/password/secret).
SECRET_PARAMS: tuple[str, ...] = (
    "api_key",
    "apikey",
    "key",
    "psw",
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "token",
    "access_token",
    "auth",
)
_PARAM = re.compile(r"(?i)(?<![A-Za-z0-9_])((?:" + "|".join(SECRET_PARAMS) + r")=)[^&\s\"'<>]+")
# "Authorization: Bearer x", "'authorization', 'Basic x'", (b'Authorization', b'Bearer x'), "AUTH PLAIN x".
_HEADER = re.compile(
    r"(?i)(authorization['\"]?\s*[:,=]\s*(?:b?['\"])?\s*(?:bearer\s+|basic\s+|token\s+)?)[^\s'\",)]+"
)
_SMTP_AUTH = re.compile(r"(?i)(\bAUTH\s+(?:PLAIN|LOGIN|CRAM-MD5)\s+)\S+")
# Shorter values would also blank out ordinary words in log lines; they are still caught by the patterns.
MIN_REMEMBERED = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None  # the remembered values as one alternation, longest first


def remember_secret(value: str) -> None:
    """Called for every Secret: from now on log lines show ``***`` where this value (or its encoding) was."""
    global _pattern
    if len(value) < MIN_REMEMBERED or value == REDACTED:
        return
    forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
    with _lock:
        if not forms <= _secrets:
            _secrets.update(forms)
            _pattern = None


def redact_text(text: str) -> str:
    """``text`` with secret parameters, auth headers and remembered secret values replaced by ``***``."""
    text = _PARAM.sub(rf"\g<1>{REDACTED}", text)
    text = _HEADER.sub(rf"\g<1>{REDACTED}", text)
    text = _SMTP_AUTH.sub(rf"\g<1>{REDACTED}", text)
    pattern = _known_pattern()
    return pattern.sub(REDACTED, text) if pattern is not None else text


def _known_pattern() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _secrets:
            _pattern = re.compile("|".join(re.escape(v) for v in sorted(_secrets, key=len, reverse=True)))
        return _pattern


class SecretFilter(logging.Filter):
    """Rewrites a record's message (and exception text) with :func:`redact_text`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to logging's own error path
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


_FILTER = SecretFilter()


def install(handlers: Iterable[logging.Handler] = (), loggers: Iterable[str] = THIRD_PARTY_LOGGERS) -> None:
    """Put the filter on ``handlers`` (every record they write) and on ``loggers`` (their records wherever they go).

    A filter on a logger sees only records logged to that very logger, so the
    third-party loggers get it directly, which also covers handlers we did not
    install (a test's log capture, an embedding application's root handler).
    """
    for handler in handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    for name in loggers:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
