"""``GET /v1/transports``: each configured transport's health; and the one rule naming a transport."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request

from msgbridge.core.errors import ErrorCode
from msgbridge.service.apikeys import ApiKey
from msgbridge.service.contract import Gateway
from msgbridge.service.http.auth import api_key
from msgbridge.service.http.errors import ERRORS, ApiError, FieldProblem
from msgbridge.service.http.models import TransportsOut, from_front, from_health, from_route
from msgbridge.service.http.state import service
from msgbridge.service.validation import FRONT_FORMAT

router = APIRouter(tags=["transports"], responses=ERRORS)


def resolve(gateway: Gateway, wanted: str | None) -> str | None:
    """What ``wanted`` names among ``gateway.transport_names`` (None: the default), or None if unknown."""
    if wanted is None:
        return gateway.default_transport
    lowered = wanted.lower()
    return lowered if lowered in gateway.transport_names else None


def unknown_transports(gateway: Gateway, wanted: Sequence[tuple[str, str | None]]) -> None:
    """400 naming each ``(field, name)`` that is not a configured transport (or route)."""
    names = ", ".join(gateway.transport_names)
    bad = [
        FieldProblem(field=f, code=ErrorCode.INVALID_ARGUMENT, message=f"unknown transport (configured: {names})")
        for f, w in wanted
        if resolve(gateway, w) is None
    ]
    if bad:
        raise ApiError(400, f"unknown transport; configured: {names or 'none'}", fields=bad)


@router.get("/v1/transports", response_model=TransportsOut)
async def transports(request: Request, key: ApiKey = Depends(api_key)) -> TransportsOut:
    """Every configured transport: up, binds, in flight, throttled, last error, receipts matched/parked,
    its circuit when a route names it; the routes; and the SMPP front (``smpp_front``, null without one):
    sessions, binds, submits, receipts."""
    svc = service(request)
    front = None
    if svc.front is not None:
        held = await svc.gateway.event_backlog(formats=(FRONT_FORMAT,))
        front = from_front(svc.front.health(), held=held.pending)
    return TransportsOut(
        transports=[from_health(h) for h in svc.gateway.health()],
        routes=[from_route(r) for r in svc.gateway.routes()],
        smpp_front=front,
    )
