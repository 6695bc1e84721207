"""Real SMTP servers on port 0 for the SMTP tests, and a throwaway TLS certificate."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP
from smtp_helpers import GATEWAY_DOMAIN, RecordingHandler
from tls_certs import self_signed


@dataclass
class Upstream:
    handler: RecordingHandler
    port: int
    server: asyncio.base_events.Server
    protocols: list[SMTP]


async def start_upstream(handler: RecordingHandler, **kwargs: object) -> Upstream:
    loop = asyncio.get_running_loop()
    protocols: list[SMTP] = []

    def factory() -> SMTP:
        handler.connections += 1
        proto = SMTP(handler, hostname="upstream.test", **kwargs)
        protocols.append(proto)
        return proto

    server = await loop.create_server(factory, "127.0.0.1", 0)
    return Upstream(handler, server.sockets[0].getsockname()[1], server, protocols)


@pytest.fixture
async def upstream_factory() -> AsyncIterator[Callable[..., object]]:
    started: list[Upstream] = []

    async def make(handler: RecordingHandler | None = None, **kwargs: object) -> Upstream:
        up = await start_upstream(handler or RecordingHandler(), **kwargs)
        started.append(up)
        return up

    yield make
    for up in started:
        up.server.close()
        for proto in up.protocols:
            if proto.transport is not None:
                proto.transport.close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def server_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
    return ctx


@dataclass
class RunningGateway:
    gateway: object
    store: object
    port: int
    enqueued: list[list[str]]


@pytest.fixture
async def gateway_factory(tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    from msgbridge.inbound.smtp_gateway import GatewayConfig, SmtpGateway
    from msgbridge.store.sqlite import SqliteStore

    running: list[tuple[object, object]] = []

    async def make(store: object | None = None, **overrides: object) -> RunningGateway:
        opts: dict[str, object] = {"domains": frozenset({GATEWAY_DOMAIN}), "port": 0, "hostname": "gw.test"}
        opts.update(overrides)
        config = GatewayConfig(**opts)  # type: ignore[arg-type]
        if store is None:
            store = SqliteStore(tmp_path / f"gw{len(running)}.db")
            await store.open()  # type: ignore[attr-defined]
        enqueued: list[list[str]] = []
        gw = SmtpGateway(config, store, lambda ids: enqueued.append(list(ids)))  # type: ignore[arg-type]
        await gw.start()
        running.append((gw, store))
        return RunningGateway(gw, store, gw.port, enqueued)

    yield make
    for gw, store in running:
        await gw.stop()  # type: ignore[attr-defined]
        close = getattr(store, "close", None)
        if close is not None:
            await close()
