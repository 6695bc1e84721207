"""How a call reaches Mobizon: the API key, the account's regional server (code 13), code 30 retried.

An account lives on one regional server. Any other server answers code 13
with the right domain in ``data``; we switch to it, remember it per key, and
retry once. Only Mobizon's own API hosts are followed: the key is never sent
anywhere else.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from msgbridge.adapters.http.base import HTTP_OPTIONS, HttpTransport, Reply
from msgbridge.adapters.http.mobizon.payload import (
    Envelope,
    MobizonPayload,
    acceptable_domain,
    api_request,
    parse_envelope,
    read_envelope,
    refused_server,
    wrong_server_domain,
)
from msgbridge.adapters.http.mobizon.tables import DEFAULT_HOST
from msgbridge.adapters.http.payload import Call
from msgbridge.adapters.pushes import PUSH_OPTIONS
from msgbridge.core import options as opt
from msgbridge.core.errors import ErrorInfo
from msgbridge.core.options import OptionSet
from msgbridge.core.url import TransportURL

log = logging.getLogger(__name__)


class MobizonClient(HttpTransport):
    """``mobizon://API_KEY@api.mobizon.kz``.

    URL options beyond the shared ones: ``sender``, ``shorten_links`` (yes/no),
    ``key_in`` (body|query), ``concurrency`` (parallel sends, default 4),
    ``task_poll`` (seconds between taskqueue/getStatus calls, default 1: the
    documented limit), ``task_timeout`` (default 600 s).
    """

    scheme = "mobizon"
    default_host = DEFAULT_HOST
    user_is_secret = True
    payload: MobizonPayload
    declared_options = (
        HTTP_OPTIONS
        + OptionSet(
            opt.text("sender", None, "`from`, unless the message sets its own"),
            opt.flag(
                "shorten_links",
                False,
                "`params[shortenLinks]=1` / `data[shortenLinks]=1` (the provider shortens URLs in the text)",
            ),
            opt.choice(
                "key_in",
                "query",
                ("body", "query"),
                "`query` (the documents' form) puts `apiKey` in the query string, as the official client does (msgbridge's log filter "
                "hides it from httpx's request log; other proxies and servers may still record it)",
            ),
            opt.integer("concurrency", 4, 1, 64, "parallel `sendSmsMessage` calls inside one `send()`"),
            opt.number(
                "task_poll",
                1.0,
                0.001,
                60,
                "seconds between `taskqueue/getStatus` calls (the documented limit is 1 request/s)",
            ),
            opt.number("task_timeout", 600.0, 1, 86_400, "how long to follow a background task"),
        )
        + PUSH_OPTIONS
    )

    # Code-13 answers, remembered per API key (by hash) for the life of the process.
    _homes: ClassVar[dict[str, str]] = {}

    def __init__(self, url: TransportURL, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.api_key()  # fail early without a key
        o = self.settings
        self.sender = o.get_text("sender")
        self.shorten_links = o.get_bool("shorten_links")
        self.key_in = o.get_str("key_in")
        self.concurrency = o.get_int("concurrency")
        self.task_poll = o.get_float("task_poll")
        self.task_timeout = o.get_float("task_timeout")
        self._pinned = bool(o.get_text("base_url"))
        # A code-13 answer we refused to follow: decided once, then every call fails without a request.
        self._refused: ErrorInfo | None = None
        self._server_confirmed = False  # an answer other than code 13 came: concurrency is safe
        self.payload = MobizonPayload(self.sender, self.shorten_links)

    # -- where this key's account lives

    @property
    def _key_id(self) -> str:
        return hashlib.sha256(self.api_key().encode()).hexdigest()

    @property
    def home(self) -> str | None:
        """The domain a code-13 answer sent us to, if any."""
        return self._homes.get(self._key_id)

    def _target(self) -> tuple[str, str | None]:
        """(base URL, Host header override) for the next request."""
        home = self.home
        if home is None:
            return self.base_url, None
        if self._pinned:
            # base_url points at a fixed address (an emulator): keep it, name the domain in Host
            return self.base_url, home
        return f"https://{home}", None

    # -- one API call: code 30 retried with backoff, code 13 followed once

    async def exchange(self, call: Call, *, send: bool) -> Reply:
        """``call.method`` is ``module/method``; an answer pointing to another Mobizon server is followed once."""
        module, _, method = call.method.partition("/")
        if self._refused is not None:
            return Reply(request=api_request(self.base_url, "", module, method), error=self._refused)
        switched = False
        while True:

            def build() -> httpx.Request:
                base, host = self._target()
                return api_request(
                    base, self.api_key(), module, method, call.params, key_in=self.key_in, host=host
                )

            reply = await self.call_with_retry(build, send=send, provider_error=self.payload.error_of)
            if reply.error is not None and reply.exchange_failed:
                return reply  # an HTTP-level failure: whatever body came with it is not a Mobizon answer
            env = parse_envelope(reply.data)
            if isinstance(env, Envelope) and env.code != 13:
                self._server_confirmed = True
            if isinstance(env, Envelope) and env.code == 13 and not switched:
                domain = wrong_server_domain(env)
                if not domain or not acceptable_domain(domain):
                    log.warning(
                        "mobizon: not following a wrong-server answer to %r: not a Mobizon API host", domain
                    )
                    self._refused = refused_server(env, domain)
                    return Reply(request=reply.request, response=reply.response, error=self._refused)
                # concurrent calls may all learn this at once; each retries once on the new domain
                if domain != self.home:
                    log.info("mobizon: account served by %s; switching", domain)
                    self._homes[self._key_id] = domain
                switched = True
                continue
            return reply

    async def api(
        self, module: str, method: str, params: Mapping[str, object] | None = None, *, send: bool = False
    ) -> tuple[Envelope | ErrorInfo, Reply]:
        """One call and its envelope (or why there is none)."""
        reply = await self.exchange(Call(f"{module}/{method}", params), send=send)
        return read_envelope(reply), reply

    def probe_first(self) -> bool:
        """Until one answer says this server serves the account (no code 13), learn it from one request
        rather than from ``concurrency`` of them."""
        return not self._server_confirmed
