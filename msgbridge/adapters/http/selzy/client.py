"""How a call reaches Selzy: the URL options, the API key in the POST body, and retries.

Everything else of the selzy:// transport (sending, lists, campaigns) is
built on :class:`SelzyClient`; what goes into each call is in ``payload.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from msgbridge.adapters.http.base import HTTP_OPTIONS, HttpTransport, Reply
from msgbridge.adapters.http.payload import Call
from msgbridge.adapters.http.selzy.payload import (
    CALLS_PER_MINUTE,
    DEFAULT_HOST,
    LANGS,
    SelzyPayload,
    api_request,
    config_from_options,
    error_of,
)
from msgbridge.core import options as opt
from msgbridge.core.errors import ErrorInfo
from msgbridge.core.message import DeliveryReceipt
from msgbridge.core.options import OptionSet
from msgbridge.core.url import TransportURL


class SelzyClient(HttpTransport):
    """``selzy://API_KEY@api.selzy.com?lang=en&platform=NAME&sender=NAME``: options and calls."""

    scheme = "selzy"
    default_host = DEFAULT_HOST
    default_rate = CALLS_PER_MINUTE / 60  # the published 1200 calls a minute per key
    payload: SelzyPayload
    declared_options = HTTP_OPTIONS + OptionSet(
        opt.choice("lang", "en", tuple(sorted(LANGS)), "language of the API's answers (`/{lang}/api/...`)"),
        opt.text(
            "platform",
            "msgbridge",
            "`platform` sent with every call: Latin letters and digits only",
            pattern=r"[A-Za-z0-9]+",
            max_length=64,
        ),
        opt.text("sender", None, "sender name, unless the message sets its own"),
        opt.integer("concurrency", 4, 1, 64, "`sendSms` calls in flight inside one `send()`"),
        opt.number(
            "stats_ttl", 5.0, 0, 3600, "seconds a campaign's delivery stats are cached between status polls"
        ),
        opt.text(
            "text_field",
            "sms_text",
            "the list field that carries a personalised text: lower-case letters, digits and _",
            pattern=r"[a-z][a-z0-9_]*",
            max_length=64,
        ),
    )

    def __init__(self, url: TransportURL, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        o = self.settings
        self.cfg = config_from_options(o, self.base_url, self.api_key())
        self.default_sender = o.get_text("sender")
        self.concurrency = o.get_int("concurrency")
        self.stats_ttl = o.get_float("stats_ttl")
        self._stats_cache: dict[str, tuple[float, dict[str, DeliveryReceipt]]] = {}
        self.text_field = o.get_text("text_field") or "sms_text"
        self.payload = SelzyPayload(self.default_sender)

    def _provider_error(self, data: Any) -> ErrorInfo | None:
        return error_of(data)

    async def exchange(self, call: Call, *, send: bool) -> Reply:
        """One API call. ``refusals_undone``: an answer with ``error`` has no ``result``, nothing was done."""
        return await self.call_with_retry(
            lambda: api_request(self.cfg, call.method, call.params),
            send=send,
            provider_error=self._provider_error,
            refusals_undone=True,
        )

    async def _api(
        self, method: str, args: Sequence[tuple[str, str]] | Mapping[str, str], *, send: bool
    ) -> tuple[Any, ErrorInfo | None]:
        reply = await self.exchange(Call(method, args), send=send)
        return reply.data, reply.error
