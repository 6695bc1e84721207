"""``GET|POST /v1/providers/{transport}/callback``: a provider's pushes of statuses and inbound messages.

No API key here: a provider cannot send one. The push's own signature, or the shared secret its URL holds,
is the authentication, checked by the transport's receiver (:mod:`msgbridge.adapters.pushes`) before
anything is recorded: a push that does not verify is refused (403) and leaves no trace in the store.

A transport that is not configured, or whose provider pushes nothing we read (no receiver for its scheme),
answers 404, as does a method its provider does not push with. A verified push is recorded through
:meth:`Gateway.provider_push` (receipts matched or parked, MO stored, both announced) and only then
answered the way the provider expects (Mobizon: a 2xx; SMSC.ru: ``OK``), so a push is acknowledged only
once it is in the store, and a store that cannot be written answers 503, which the provider retries.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response

from msgbridge.adapters.pushes import PushRefused, PushRequest, receiver_for
from msgbridge.service.http.errors import ERRORS, ApiError
from msgbridge.service.http.state import service

log = logging.getLogger("msgbridge.service.http")

PATH = "/v1/providers/{transport}/callback"
# What a recorded push is answered: the provider's own acknowledgement (Mobizon: any 2xx; SMSC.ru: "OK").
ANSWERED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "recorded (or a retry of a push already recorded)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}
NOT_ANSWERED: dict[int | str, dict[str, Any]] = {
    k: v for k, v in ERRORS.items() if k in (400, 403, 404, 413, 503)
}

router = APIRouter(tags=["providers"])


async def provider_callback(transport: str, request: Request) -> Response:
    """A provider's push about messages sent through ``transport`` (configure this URL at the provider)."""
    gateway = service(request).gateway
    found = gateway.transport(transport)
    receiver = receiver_for(found.scheme) if found is not None else None
    if found is None or receiver is None:
        raise ApiError(
            404, f"transport {transport!r} takes no provider pushes (unknown, or its provider pushes none)"
        )
    if request.method not in receiver.methods:
        raise ApiError(404, f"{found.scheme} pushes with {', '.join(sorted(receiver.methods))} only")
    body = await request.body()
    push_request = PushRequest(
        method=request.method,
        query=request.scope.get("query_string", b""),
        body=body,
        content_type=request.headers.get("content-type", ""),
    )
    try:
        push = receiver.read(push_request, found)
    except PushRefused as exc:
        log.warning("%s: provider push refused: %s", transport, exc)
        raise ApiError(exc.status, str(exc), code=exc.code) from None
    await gateway.provider_push(transport.lower(), push.receipts, push.inbound, push_id=push.push_id)
    return Response(push.reply.body, status_code=push.reply.status, media_type=push.reply.media_type)


for method in ("POST", "GET"):
    router.add_api_route(
        PATH,
        provider_callback,
        methods=[method],
        operation_id=f"provider_callback_{method.lower()}",
        response_class=Response,
        responses={**ANSWERED, **NOT_ANSWERED},
    )
