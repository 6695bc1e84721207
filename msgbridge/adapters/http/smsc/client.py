"""How a call reaches SMSC.ru: credentials in the POST body, backup hosts, at most four calls at once.

A host that cannot be reached (or, for reads, answers 5xx or nothing) is
swapped for the next backup host, which is then kept for later calls.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from msgbridge.adapters.http.base import HTTP_OPTIONS, HttpTransport, Reply
from msgbridge.adapters.http.payload import Call
from msgbridge.adapters.http.smsc.payload import SmscConfig, SmscPayload, _post
from msgbridge.adapters.http.smsc.replies import error_info, parse_reply
from msgbridge.adapters.http.smsc.tables import (
    BACKUP_HOSTS,
    DEFAULT_CURRENCY,
    DEFAULT_HOST,
    MAX_CONCURRENT_REQUESTS,
)
from msgbridge.adapters.pushes import PUSH_OPTIONS
from msgbridge.core import options as opt
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.options import OptionSet
from msgbridge.core.url import TransportURL

log = logging.getLogger(__name__)


class SmscClient(HttpTransport):
    """``smsc://LOGIN:PASSWORD@smsc.ru`` or ``smsc://APIKEY@smsc.ru``: options and calls.

    URL options beyond the shared ones: ``sender``, ``max_phones`` (phones per
    send request, default 100), ``status_batch`` (pairs per status call,
    default 100), ``currency`` (of the reported cost, default RUB), ``backup_url`` (comma list of fallback base URLs; default
    ``https://www2.smsc.ru`` unless ``base_url`` is given).
    """

    scheme = "smsc"
    default_host = DEFAULT_HOST
    user_is_secret = True

    payload: SmscPayload
    declared_options = (
        HTTP_OPTIONS
        + OptionSet(
            opt.text("sender", None, "Sender ID (`sender=`), unless the message sets its own"),
            opt.integer("max_phones", 100, 1, 1000, "phones per `send.php` request"),
            opt.integer("status_batch", 100, 1, 1000, "(id, phone) pairs per `status.php` request"),
            opt.text(
                "currency",
                DEFAULT_CURRENCY,
                "currency of the cost a send answer reports (the answer names none): the account's, "
                "a three-letter code",
                pattern="[A-Za-z]{3}",
            ),
            opt.text(
                "backup_url",
                None,
                "comma list of fallback base URLs; none when `base_url` is given",
                shown_default="`https://www2.smsc.ru`",
            ),
        )
        + PUSH_OPTIONS
    )

    def __init__(self, url: TransportURL, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        if url.secret is None or not url.secret:
            raise ConfigError("smsc:// needs LOGIN:PASSWORD@ or APIKEY@ in the URL")
        o = self.settings
        currency = (o.get_text("currency") or DEFAULT_CURRENCY).upper()
        backups = o.get_text("backup_url")
        if backups:
            extra = tuple(b.strip().rstrip("/") for b in backups.split(",") if b.strip())
        elif o.get_text("base_url"):
            extra = ()
        else:
            extra = tuple(f"https://{h}" for h in BACKUP_HOSTS)
        self.config = SmscConfig(
            login=url.user,
            secret=url.secret,
            base_urls=(self.base_url, *extra),
            sender=o.get_text("sender"),
            max_phones=o.get_int("max_phones"),
            status_batch=o.get_int("status_batch"),
            currency=currency,
        )
        self._active = 0  # index into config.base_urls that last worked
        self._in_flight = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

        # -- one exchange, with host fallback
        self.payload = SmscPayload(self.config)

    async def exchange(self, call: Call, *, send: bool) -> Reply:
        """``call.method`` is the script (``send``, ``status``, ``phones``...); its params go in the POST body.

        The call moves to a backup host when the current one fails in a way that proves nothing was
        done: for a send only a refused connection proves that; for reads a 5xx or empty answer also
        justifies asking another host.
        """
        op = call.method

        def provider_error(data: object) -> ErrorInfo | None:
            if op == "status":
                return None  # a refused poll goes back to the poller, which waits out the minute
            text = str(data)
            if '"error' not in text:
                return None  # a fmt=3 reply names an error only in "error"/"error_code": none here
            info = error_info(parse_reply(text, 3, op=op))
            # only rate limits are worth a retry inside this call; the rest are read by the payload
            return info if info is not None and info.code is ErrorCode.THROTTLED else None

        urls = self.config.base_urls
        reply: Reply | None = None
        for step in range(len(urls)):
            index = (self._active + step) % len(urls)
            base = urls[index]
            async with self._in_flight:
                reply = await self.call_with_retry(
                    partial(_post, self.config, op, call.params, base),
                    send=send,
                    expect="text",
                    provider_error=provider_error,
                )
            err = reply.error
            status = reply.response.status_code if reply.response is not None else None
            host_failed = err is not None and (
                err.code is ErrorCode.NETWORK_ERROR
                or (
                    not send
                    and status is not None
                    and (status >= 500 or err.code is ErrorCode.PROTOCOL_ERROR)
                )
            )
            if host_failed and step + 1 < len(urls):
                log.warning(
                    "smsc: %s failed (%s); trying backup host",
                    urlsplit(base).netloc,
                    err.code.value if err else "",
                )
                continue
            if not host_failed and index != self._active:
                self._active = index
            break
        assert reply is not None
        return reply
