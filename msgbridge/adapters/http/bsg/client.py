"""How a call reaches BSG: the API key exchanged for a bearer token, refreshed, and sent with every call.

The API key is exchanged for a JWT at ``POST /api/auth/login``; every other
call carries ``Authorization: Bearer <JWT>``. The token is refreshed
(``POST /api/auth/refresh``) shortly before its ``exp`` and the key is used to
log in again after a 401; neither the key nor the token is ever logged.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NoReturn

import httpx

from msgbridge.adapters.http.base import HTTP_OPTIONS, HttpTransport, Reply
from msgbridge.adapters.http.bsg.payload import (
    DEFAULT_HOST,
    REFRESH_MARGIN,
    BsgConfig,
    BsgPayload,
    failure,
    invalid,
    parse_campaign,
    request_of,
)
from msgbridge.adapters.http.payload import Call
from msgbridge.adapters.http.replies import parse_json
from msgbridge.core import options as opt
from msgbridge.core.errors import AuthError, ConfigError, ErrorCode, ErrorInfo, MessagingError, TransportError
from msgbridge.core.options import OptionSet
from msgbridge.core.url import TransportURL


def login_request(base_url: str, api_key: str) -> httpx.Request:
    return httpx.Request("POST", f"{base_url}/api/auth/login", json={"api_key": api_key})


def refresh_request(base_url: str, token: str) -> httpx.Request:
    return httpx.Request("POST", f"{base_url}/api/auth/refresh", headers={"Authorization": f"Bearer {token}"})


def token_expiry(token: str) -> float | None:
    """The JWT's ``exp`` (unix seconds), read without verifying: we only need to know when to refresh."""
    try:
        payload = token.split(".")[1]
        claims, _ = parse_json(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        expires = float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None
    return expires if math.isfinite(expires) else None


def invalid_config(field: str, text: str) -> MessagingError:
    return ConfigError(f"bsg {field}: {text}", invalid(field, text))


def raise_for(error: ErrorInfo | None, what: str) -> NoReturn:
    info = error or ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message="no answer")
    message = f"bsg {what}: {info}"
    if info.code is ErrorCode.AUTH_FAILED:
        raise AuthError(message, info)
    if info.retryable:
        raise TransportError(message, info)
    raise MessagingError(message, info)


def campaign_or_raise(reply: Reply, what: str) -> dict[str, Any]:
    """The campaign in an answer; raises with BSG's words when there is none (a campaign call is all or nothing)."""
    error = failure(reply)
    if error is not None:
        raise_for(error, what)
    parsed = parse_campaign(reply.data)
    if isinstance(parsed, ErrorInfo):
        raise_for(parsed, what)
    return dict(parsed)


class BsgClient(HttpTransport):
    """``bsg://API_KEY@one-api.bsg.world?sender=NAME&tariff_code=0``: options, token and calls."""

    scheme = "bsg"
    default_host = DEFAULT_HOST
    payload: BsgPayload
    declared_options = HTTP_OPTIONS + OptionSet(
        opt.text("sender", None, "sender name, unless the message sets its own"),
        opt.integer("tariff_code", None, 0, 9, "`tariff_code` of every campaign (the account's tariff, 0-9)"),
        opt.number(
            "token_ttl", 3600.0, 1, 30 * 86_400, "seconds a bearer token is used before it is renewed"
        ),
        opt.integer("concurrency", 4, 1, 64, "requests in flight inside one `send()` or status poll"),
    )

    def __init__(self, url: TransportURL, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._key = self.api_key()
        o = self.settings
        self.cfg = BsgConfig(base_url=self.base_url, tariff_code=o.maybe_int("tariff_code"))
        self.default_sender = o.get_text("sender")
        self.token_ttl = o.get_float("token_ttl")
        self.concurrency = o.get_int("concurrency")
        self._token: str | None = None
        self._expires = 0.0
        self._auth_lock = asyncio.Lock()
        self._stopped: set[str] = set()
        self.logins = 0
        self.refreshes = 0
        self.payload = BsgPayload(self.cfg, self.default_sender)

    # -- auth

    async def open(self) -> None:
        await self.token()
        await super().open()

    def credentials(self) -> list[str]:
        """The API key, and the bearer token in use: a 401 page may echo the Authorization header."""
        return [*super().credentials(), *([self._token] if self._token else [])]

    async def token(self) -> str:
        """A bearer token valid for a while yet: log in, or refresh shortly before ``exp``."""
        async with self._auth_lock:
            if self._token is not None and time.time() < self._expires - REFRESH_MARGIN:
                return self._token
            if self._token is not None:
                reply = await self.call(refresh_request(self.base_url, self._token))
                if self._take_token(reply):
                    self.refreshes += 1
                    return self._token
            reply = await self.call_with_retry(lambda: login_request(self.base_url, self._key), send=False)
            if not self._take_token(reply):
                error = failure(reply) or ErrorInfo(
                    code=ErrorCode.PROTOCOL_ERROR, native_message="no bearer in login answer"
                )
                if error.code in (ErrorCode.AUTH_FAILED, ErrorCode.ACCESS_DENIED, ErrorCode.INVALID_ARGUMENT):
                    raise AuthError(
                        f"bsg login refused: {error}",
                        replace(error, code=ErrorCode.AUTH_FAILED),
                    )
                raise TransportError(f"bsg login failed: {error}", error)
            self.logins += 1
            assert self._token is not None
            return self._token

    def _take_token(self, reply: Reply) -> bool:
        bearer = reply.data.get("bearer") if reply.ok and isinstance(reply.data, dict) else None
        if not isinstance(bearer, str) or not bearer:
            return False
        self._token = bearer
        self._expires = token_expiry(bearer) or (time.time() + self.token_ttl)
        return True

    async def _relogin(self, stale: str) -> bool:
        """After a 401 with ``stale``: log in again with the key, unless another call already did."""
        async with self._auth_lock:
            if self._token == stale:
                self._token = None
        try:
            await self.token()
        except AuthError:
            return False
        return True

    async def _authed(
        self, build: Callable[[str], httpx.Request], *, send: bool, expect: str = "json"
    ) -> Reply:
        """A call with the current token; a 401 leads to one fresh login and one repeat."""
        token = await self.token()
        holder = {"token": token}

        async def relogin() -> bool:
            ok = await self._relogin(holder["token"])
            if ok and self._token is not None:
                holder["token"] = self._token
            return ok

        return await self.call_with_retry(
            lambda: build(holder["token"]),
            send=send,
            expect=expect,
            provider_error=None,
            on_auth_failure=relogin,
        )

    async def exchange(self, call: Call, *, send: bool) -> Reply:
        return await self._authed(lambda token: request_of(self.base_url, token, call), send=send)
