"""What every route reaches through ``request.app.state``: the gateway, the keys, the settings."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from msgbridge.config import ServeSettings
from msgbridge.service.apikeys import KeyRing
from msgbridge.service.contract import FrontMonitor, Gateway
from msgbridge.service.http.gate import Gate
from msgbridge.service.metrics import Metrics


@dataclass(frozen=True)
class Service:
    gateway: Gateway
    keys: KeyRing
    settings: ServeSettings
    metrics: Metrics
    gate: Gate
    front: FrontMonitor | None = None  # the SMPP front, when serve runs one


def service(request: Request) -> Service:
    found: Service = request.app.state.service
    return found
