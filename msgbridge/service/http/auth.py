"""``Authorization: Bearer KEY`` on every ``/v1`` route; per-key transports (403) and rate (429).

The key is looked up by :meth:`KeyRing.authenticate` (constant time per stored key); what is refused is
said without the key: neither the header nor any part of it is ever logged or echoed back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from msgbridge.core.errors import ErrorCode
from msgbridge.service.apikeys import ApiKey
from msgbridge.service.contract import Gateway
from msgbridge.service.http.errors import ApiError, FieldProblem
from msgbridge.service.http.state import service

# The dependencies are coroutines: FastAPI runs a plain ``def`` dependency in a worker thread, a hand-off
# per request that costs more than the key check itself.

bearer = HTTPBearer(auto_error=False, description="An API key from `msgbridge apikey create NAME`.")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def api_key(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> ApiKey:
    """The caller's key; 401 when there is none or it is not one of ours."""
    if credentials is None:
        raise ApiError(401, "an API key is required: Authorization: Bearer KEY", headers=CHALLENGE)
    key = service(request).keys.authenticate(credentials.credentials)
    if key is None:
        raise ApiError(401, "unknown or revoked API key", headers=CHALLENGE)
    return key


async def submitter(request: Request, key: ApiKey = Depends(api_key)) -> ApiKey:
    """A key that may submit now: its rate is charged one request, or 429 with Retry-After."""
    wait = service(request).keys.admit(key)
    if wait is not None:
        raise ApiError(
            429, f"API key {key.name!r} is over its rate of {key.rate:g} requests per second",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )  # fmt: skip
    return key


def may_use(key: ApiKey, gateway: Gateway, transport: str) -> bool:
    """A key limited to some transports may use a route (or ``auto``) only when it may use every
    transport that route can send through: a route is never a way round the key's limit."""
    return all(key.may_use(t) for t in gateway.carriers(transport))


def check_transports(key: ApiKey, gateway: Gateway, wanted: Iterable[tuple[str, str]]) -> None:
    """403 naming each ``(field, transport)`` the key may not use (a route: one of its transports)."""
    denied = [FieldProblem(field=f, code=ErrorCode.ACCESS_DENIED, message=_denied(key, gateway, t))
              for f, t in wanted if not may_use(key, gateway, t)]  # fmt: skip
    if denied:
        raise ApiError(403, f"API key {key.name!r} may use only: {', '.join(key.transports)}", fields=denied)


def _denied(key: ApiKey, gateway: Gateway, transport: str) -> str:
    carriers = list(gateway.carriers(transport))
    if carriers == [transport]:
        return f"this API key may not use transport {transport!r}"
    others = ", ".join(t for t in carriers if not key.may_use(t))
    return f"this API key may not use transport {transport!r}: it sends through {others} too"
