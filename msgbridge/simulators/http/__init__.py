"""Emulators of the HTTP provider APIs on a small h11 server.

Each provider module (``selzy``, ``bsg``, ``smsc``, ``mobizon``) exposes
``create_emulator(**knobs)``; ``serve(emulator)`` runs it on a real socket.
"""

from __future__ import annotations

from msgbridge.simulators.http.server import (
    FAULTS,
    Emulator,
    HttpServer,
    Request,
    Response,
    json_response,
    parse_mix,
    serve,
    text_response,
)

PROVIDERS: tuple[str, ...] = ("selzy", "bsg", "smsc", "mobizon")

__all__ = [
    "FAULTS",
    "PROVIDERS",
    "Emulator",
    "HttpServer",
    "Request",
    "Response",
    "json_response",
    "parse_mix",
    "serve",
    "text_response",
]
