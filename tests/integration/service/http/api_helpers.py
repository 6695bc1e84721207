"""The HTTP API over the real runtime: a uvicorn server on a free port in the test's own loop, httpx as the
client, the SMSC simulator as the SMSC, and API keys in a real key file."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from msgbridge.cli.serve import _Server
from msgbridge.config import ServeSettings
from msgbridge.routing.config import RoutingConfig
from msgbridge.service.apikeys import KeyRing, create_key
from msgbridge.service.http import create_app
from msgbridge.service.http.gate import Gate
from msgbridge.service.http.protocol import http_protocol
from msgbridge.service.runtime import Runtime
from msgbridge.simulators.smsc import SmscSimulator

USERS = {"u": "p"}
SIM_PASSWORD = "p"


def sim_url(sim: SmscSimulator) -> str:
    return f"smpp://u:{SIM_PASSWORD}@127.0.0.1:{sim.port}?receipt_park=0.2"


@dataclass
class Api:
    url: str
    client: httpx.AsyncClient
    runtime: Runtime
    gate: Gate
    app: FastAPI
    tokens: dict[str, str]  # key name -> the key

    def auth(self, name: str = "full") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@asynccontextmanager
async def http_server(app: object) -> AsyncIterator[str]:
    """``app`` served by uvicorn on 127.0.0.1, a free port, in this event loop, with the HTTP protocol
    ``serve`` runs; yields the base URL."""
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
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def make_keys(path: Path) -> dict[str, str]:
    """Keys ``full`` (everything), ``backup-only`` (transport backup), ``slow`` (one request, then 429)."""
    return {
        "full": create_key(path, "full")[1],
        "backup-only": create_key(path, "backup-only", transports=["backup"])[1],
        "slow": create_key(path, "slow", rate=0.01)[1],
    }


@asynccontextmanager
async def api(
    tmp_path: Path,
    sim: SmscSimulator,
    settings: ServeSettings | None = None,
    store: str | None = None,
    extra: dict[str, str] | None = None,
    routing: RoutingConfig | None = None,
) -> AsyncIterator[Api]:
    """The API over a runtime with transports ``sms`` (the simulator), ``backup`` (memory://) and ``extra``;
    ``routing``: its price tables (and routes)."""
    keys_path = tmp_path / "keys.toml"
    tokens = make_keys(keys_path) if not keys_path.exists() else {}
    runtime = Runtime(
        store=store or str(tmp_path / "api.db"),
        transports={"sms": sim_url(sim), "backup": "memory://?dlr_delay_ms=5", **(extra or {})},
        routing=routing,
    )
    gate = Gate()
    app = create_app(runtime, keys=KeyRing.load(keys_path), settings=settings or ServeSettings(), gate=gate)
    async with runtime:
        assert await runtime.wait_ready()
        async with http_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield Api(url=url, client=client, runtime=runtime, gate=gate, app=app, tokens=tokens)


async def until(
    predicate: Callable[[], Awaitable[bool]], seconds: float = 20.0, what: str = "condition"
) -> None:
    """Await ``predicate`` until it holds; fail after ``seconds`` (a deadline, not a speed assertion)."""
    deadline = time.monotonic() + seconds
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
