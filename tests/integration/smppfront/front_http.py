"""The HTTP API beside a test's SMPP front: uvicorn on a free loopback port in the test's loop, httpx as
the client, one API key; what ``serve`` runs, without the process."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn

from msgbridge.cli.serve import _Server
from msgbridge.config import ServeSettings
from msgbridge.service.apikeys import KeyRing, create_key
from msgbridge.service.contract import FrontMonitor, Gateway
from msgbridge.service.http import create_app
from msgbridge.service.http.protocol import http_protocol


@asynccontextmanager
async def http_api(
    gateway: Gateway, keys: Path, front: FrontMonitor | None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API over ``gateway`` (and ``front``), authorised with a key added to ``keys`` (a file
    of this call's own)."""
    _, token = create_key(keys, "ops")
    app = create_app(gateway, keys=KeyRing.load(keys), settings=ServeSettings(), front=front)
    sock = socket.create_server(("127.0.0.1", 0))
    server = _Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", http=http_protocol())
    )  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await task
        sock.close()
