"""``/healthz`` (the process answers), ``/readyz`` (it can take work), ``/metrics`` (Prometheus).

None of them needs a key: a supervisor, a load balancer and a scraper call them, and they carry no
message content and no secret. ``/readyz`` is 503 until the store and at least one transport are up,
and again once the server is draining, so a load balancer stops sending here before the 503s start.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from msgbridge.service.http.models import HealthOut, ReadyOut
from msgbridge.service.http.state import service
from msgbridge.service.metrics import CONTENT_TYPE

router = APIRouter(tags=["probes"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    return HealthOut()


@router.get(
    "/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut, "description": "not ready"}}
)
async def readyz(request: Request) -> JSONResponse:
    svc = service(request)
    ready = svc.gateway.ready() and not svc.gate.draining
    body = ReadyOut(
        ready=ready, draining=svc.gate.draining, transports={h.name: h.up for h in svc.gateway.health()}
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(request: Request) -> Response:
    return Response(await service(request).metrics.render(), media_type=CONTENT_TYPE)
