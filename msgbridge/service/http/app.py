"""The HTTP API as an ASGI app: :func:`create_app` over any :class:`~msgbridge.service.contract.Gateway`.

Why FastAPI on Starlette and uvicorn: the request and response shapes are pydantic models (pydantic is
already how msgbridge validates what callers hand in), FastAPI writes the OpenAPI document from those same
models so the document cannot drift from what is checked, and Starlette/uvicorn are a small, widely run
ASGI stack on the asyncio loop the runtime already uses: the API, the SMPP binds and the store share one
event loop and one process, with no thread hand-offs on the way from a POST to the outbox commit.

The layers, outermost first: request metrics (every answer counted, the errors of inner layers too), the
catch-all (no traceback ever reaches a client), the gate (503 while draining), the body limit (413 while
reading), then FastAPI's routing with the error handlers that give every refusal one shape.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.middleware import Middleware

from msgbridge.config import ServeSettings
from msgbridge.service.apikeys import KeyRing
from msgbridge.service.contract import FrontMonitor, Gateway
from msgbridge.service.http import (
    campaigns,
    dashboard,
    errors,
    events,
    inbox,
    messages,
    probes,
    providers,
    transports,
)
from msgbridge.service.http.errors import CatchAll
from msgbridge.service.http.gate import Gate, GateMiddleware
from msgbridge.service.http.limits import BodyLimit
from msgbridge.service.http.models import BatchIn, CampaignIn, CsvUploadForm, MessageIn
from msgbridge.service.http.state import Service
from msgbridge.service.kannel import routes as kannel_routes
from msgbridge.service.metrics import Metrics, RequestMetrics

try:
    from importlib.metadata import version

    VERSION = version("msgbridge")
except Exception:  # not installed (a source checkout on sys.path)
    VERSION = "0"

# Request bodies the routes parse themselves (see messages.py): their schemas are added to the document.
HAND_PARSED: tuple[type[BaseModel], ...] = (MessageIn, BatchIn, CampaignIn, CsvUploadForm)
DESCRIPTION = (
    "Send SMS through the configured transports, read statuses, campaigns and inbound messages. "
    "Every /v1 route takes `Authorization: Bearer KEY` (a key from `msgbridge apikey create`), but for "
    "the provider pushes (`/v1/providers/{transport}/callback`), verified by the provider's signature instead. "
    'Every refusal has one shape: `{"error": {"code", "message", "fields"}}`.'
)


def upload_form(fields: dict[str, Any]) -> dict[str, Any]:
    """The multipart form of a CSV upload: the form model's text fields (no ``options``, which a form cannot
    carry), and the ``file`` part."""
    form = copy.deepcopy(fields)
    form["title"] = "CsvUpload"
    form["properties"].pop("options", None)
    form["properties"]["file"] = {"type": "string", "format": "binary", "description": "the recipients CSV"}
    form["required"] = [*form.get("required", []), "file"]
    return form


def create_app(
    gateway: Gateway,
    *,
    keys: KeyRing,
    settings: ServeSettings,
    gate: Gate | None = None,
    front: FrontMonitor | None = None,
) -> FastAPI:
    """The app over ``gateway``; ``gate`` lets the server close it for a drain (a fresh one by default);
    ``front``: the SMPP front whose counters ``/v1/transports`` and ``/metrics`` show (it may start later)."""
    gate = gate or Gate()
    metrics = Metrics(gateway, front)
    app = FastAPI(
        title="msgbridge",
        version=VERSION,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        middleware=[
            Middleware(RequestMetrics, metrics=metrics),
            Middleware(CatchAll),
            Middleware(GateMiddleware, gate=gate),
            Middleware(BodyLimit, max_body=settings.max_body, max_upload=settings.max_upload),
        ],
    )
    app.state.service = Service(
        gateway=gateway, keys=keys, settings=settings, metrics=metrics, gate=gate, front=front
    )
    errors.install(app)
    for module in (messages, campaigns, inbox, events, transports, probes, providers, kannel_routes):
        app.include_router(module.router)
    dashboard.install(app, backlog=gateway.event_backlog)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            _, defs = models_json_schema(
                [(m, "validation") for m in HAND_PARSED], ref_template="#/components/schemas/{model}"
            )
            schemas = dict(defs.get("$defs", {}))
            schemas["CsvUpload"] = upload_form(schemas["CsvUploadForm"])
            document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
