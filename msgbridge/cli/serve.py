"""``msgbridge serve``: the gateway as a long-running service with its HTTP API.

It opens every configured transport once and keeps it open (the runtime's lanes), and serves the HTTP
API (``msgbridge.service.http``) on ``[serve] listen`` with uvicorn. Once the socket is bound it prints
one line, ``listening on http://HOST:PORT`` (the real port with ``--listen HOST:0``), so scripts and tests
can start it and read the address.

SIGTERM (or SIGINT) drains: new requests get 503 at once, requests already inside finish (a POST being
committed still gets its 202), then the runtime stops claiming, lets what is in flight be answered up
to ``--drain-timeout``, stores the receipts that come meanwhile, gives back what was never written, and
the process exits 0. What is left is QUEUED or MAYBE_SUBMITTED in the store, for the next start.

With ``[smpp_front]`` the SMPP front listens too (``smpp listening on smpp://HOST:PORT`` on the next
line), once the runtime is started and before uvicorn starts. A start that fails at any step after that
(uvicorn's own startup included) closes the front's listener and the runtime, and exits non-zero with the
reason; the front's port in use exits naming the address.

``--check`` validates the configuration (store DSN, transport URLs, the API key file, the listen
address, the TLS files) without opening anything, and exits 0 or 2 with the problem named.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import click
import uvicorn

from msgbridge.cli.common import run_command
from msgbridge.cli.listening import bind_error
from msgbridge.config import Config, ServeSettings, load_config, parse_listen
from msgbridge.core.errors import ConfigError
from msgbridge.core.url import encode_credentials
from msgbridge.dispatch import heap
from msgbridge.service.apikeys import KeyRing
from msgbridge.service.http import create_app
from msgbridge.service.http.gate import Gate
from msgbridge.service.http.protocol import http_protocol
from msgbridge.service.routes import RouteTable
from msgbridge.service.runtime import Runtime
from msgbridge.service.smppfront.accounts import AccountBook
from msgbridge.service.smppfront.mo import MoRouter
from msgbridge.service.smppfront.server import SmppFront

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: ``serve`` drains the runtime first, then stops it
    (uvicorn would close at once and re-raise the signal, so the process would not exit 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def check_store(dsn: str) -> str:
    """What the store DSN names, or ConfigError; nothing is opened."""
    if dsn.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(encode_credentials(dsn))
        try:
            parts.port  # noqa: B018 -- raises on a port that is not a number
        except ValueError as exc:
            raise ConfigError(f"store DSN has a bad port: {exc}") from None
        if not parts.hostname and "host=" not in (parts.query or ""):
            raise ConfigError("store DSN names no host (postgresql://user:password@host:5432/db)")
        return f"PostgreSQL on {parts.hostname or 'the host in the query'}"
    path = Path(dsn.removeprefix("sqlite:///"))
    if not path.parent.is_dir():
        raise ConfigError(f"store {path}: directory {path.parent} does not exist")
    return f"SQLite file {path}"


def tls_context(settings: ServeSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load TLS certificate {settings.tls_cert} / key {settings.tls_key}: {exc}"
        ) from None
    return context


def check_config(config: Config, settings: ServeSettings) -> list[str]:
    """Every check of ``--check``; the lines to print when all pass, else the first ConfigError."""
    from msgbridge.adapters.base import open_transport, redact_for

    if not config.transports:
        raise ConfigError(
            "no transport configured (add [transports] to msgbridge.toml or set MSGBRIDGE_TRANSPORT_<NAME>)"
        )
    lines = [f"store: {check_store(config.store)}"]
    for name, url in config.transports.items():
        try:
            transport = open_transport(url)
        except ConfigError as exc:
            raise ConfigError(f"transport {name!r}: {exc}") from None
        lines.append(f"transport {name}: {redact_for(transport, url)}")
    table = RouteTable(config.routing, list(config.transports))  # the names the routed lanes need
    for route in table.infos():
        lines.append(f"route {route.name} ({route.lane}): {route.strategy} over {', '.join(route.transports)}")
    keys = KeyRing.load(config.apikeys_file)
    lines.append(f"API keys: {len(keys.keys)} in {config.apikeys_file}")
    host, port = parse_listen(settings.listen)
    scheme = "https" if tls_context(settings) is not None else "http"
    lines.append(f"listen: {scheme}://{_shown(host)}:{port}; drain timeout {settings.drain_timeout:g} s")
    return lines


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise bind_error(host, port, exc) from None


class HttpStartFailed(ConfigError):
    """uvicorn gave up while starting (it exits the process, which would skip the front's shutdown)."""


async def serve_http(server: uvicorn.Server, sock: socket.socket, address: str) -> None:
    """uvicorn on ``sock``; its ``sys.exit`` on a failed startup becomes :class:`HttpStartFailed`, so
    ``serve`` closes what it opened (the SMPP front's listener, the runtime) and exits with the reason."""
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:
        raise HttpStartFailed(
            f"the HTTP server on {address} could not start (uvicorn exit {exc.code})"
        ) from None


async def serve(config: Config, settings: ServeSettings, *, access_log: bool) -> None:
    """Everything opened here is closed in ``finally``: a step that fails after the SMPP front started
    (the HTTP server, a signal) leaves no listener behind, and the error reaches ``main`` as one line."""
    host, port = parse_listen(settings.listen)
    context = tls_context(settings)
    scheme = "https" if context is not None else "http"
    keys = KeyRing.load(config.apikeys_file)
    plan = front_plan(config)
    runtime = Runtime.from_config(config, drain_timeout=settings.drain_timeout)
    sock = bind(host, port)
    gate = Gate()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    front: SmppFront | None = None
    try:
        await runtime.start()
        heap.settle()
        if plan is not None:
            front = plan.build(runtime)  # the receipts pump reads the store, open from here on
            await plan.listen(front)
        app = create_app(runtime, keys=keys, settings=settings, gate=gate, front=front)
        server_config = uvicorn.Config(
            app, log_config=None, access_log=access_log, lifespan="off", server_header=False,
            ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key, timeout_graceful_shutdown=5,
            http=http_protocol(),
        )  # fmt: skip
        server = _Server(server_config)
        address = f"{scheme}://{_shown(host)}:{sock.getsockname()[1]}"
        serving = asyncio.create_task(serve_http(server, sock, address))
        while not server.started and not serving.done():  # noqa: ASYNC110 -- uvicorn sets a flag, no event
            await asyncio.sleep(0.01)
        if serving.done():
            serving.result()  # uvicorn could not start: its error
            raise HttpStartFailed(f"the HTTP server on {address} stopped while starting")
        click.echo(f"listening on {address}", nl=True)
        if front is not None:
            click.echo(f"smpp listening on {front.scheme}://{_shown(front.host)}:{front.port}", nl=True)
        sys.stdout.flush()
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        started = time.monotonic()
        gate.close()
        if front is not None:
            await front.stop()
        click.echo(
            f"draining: {gate.inside} request(s) being answered, up to {settings.drain_timeout:g} s", err=True
        )
        await gate.idle(settings.drain_timeout)
        await runtime.drain(max(0.0, settings.drain_timeout - (time.monotonic() - started)))
        server.should_exit = True
        await serving
    finally:
        if front is not None:
            await front.stop()  # a no-op after the drain's stop, or when its listen failed
        await runtime.drain(0.0)  # a no-op after a drain; closes what a failed start left open
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        sock.close()
    click.echo("stopped", err=True)


@dataclass(frozen=True)
class FrontPlan:
    """``[smpp_front]`` read before anything is opened (a bad accounts file or certificate fails first);
    the front itself is built once the runtime's store is open, its receipts pump reads it."""

    accounts: AccountBook
    host: str
    port: int
    tls: ssl.SSLContext | None
    enquire_link: float
    slow_reader: float
    session_init: float
    routes: Mapping[str, str]

    def build(self, runtime: Runtime) -> SmppFront:
        """The front, and MO routed by destination prefix to its accounts (``smppfront.mo``)."""
        MoRouter(self.accounts, self.routes).install(runtime.store)
        return SmppFront(
            runtime,
            self.accounts,
            events=runtime.store,
            enquire_link=self.enquire_link,
            slow_reader=self.slow_reader,
            session_init=self.session_init,
        )

    async def listen(self, front: SmppFront) -> None:
        """Listen; a port in use (or any refused listen) is a one-line error naming the address."""
        try:
            await front.start(self.host, self.port, tls=self.tls)
        except OSError as exc:
            error = bind_error(self.host, self.port, exc)
            raise click.ClickException(f"SMPP front: {error.message}") from None


def front_plan(config: Config) -> FrontPlan | None:
    """The SMPP front of ``[smpp_front]`` when configured (``serve`` prints ``smpp listening on
    smpp://HOST:PORT``, or ``smpps://``, on the line after the HTTP one)."""
    settings = config.smpp_front
    if settings is None:
        return None
    host, port = settings.address
    tls = tls_context(ServeSettings(tls_cert=settings.tls_cert, tls_key=settings.tls_key))
    return FrontPlan(
        AccountBook(settings.accounts),
        host,
        port,
        tls,
        settings.enquire_link,
        settings.slow_reader,
        settings.session_init,
        settings.routes,
    )


def register(cli: click.Group) -> None:
    @cli.command("serve")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                  help="msgbridge.toml to read (as the global --config)")  # fmt: skip
    @click.option(
        "--listen",
        default=None,
        help="HOST:PORT to serve on (default [serve] listen, 127.0.0.1:8080; port 0: any free)",
    )
    @click.option(
        "--drain-timeout",
        type=float,
        default=None,
        help="seconds SIGTERM waits for in-flight sends (default [serve])",
    )
    @click.option(
        "--check",
        is_flag=True,
        help="validate the configuration and exit (0: fine, 2: the problem is printed)",
    )
    @click.pass_context
    def serve_command(
        ctx: click.Context,
        config_path: str | None,
        listen: str | None,
        drain_timeout: float | None,
        check: bool,
    ) -> None:
        """Run the gateway with its HTTP API until SIGTERM: binds kept open, the outbox drained, receipts matched."""
        root = ctx.find_root().obj or {}
        config = load_config(config_path or root.get("config_path"))
        if root.get("store_dsn"):
            config = replace(config, store=str(root["store_dsn"]))
        settings = config.serve
        if listen is not None:
            parse_listen(listen)
            settings = replace(settings, listen=listen)
        if drain_timeout is not None:
            if not 0 <= drain_timeout < float("inf"):
                raise click.BadParameter("must be a number of seconds >= 0", param_hint="--drain-timeout")
            settings = replace(settings, drain_timeout=drain_timeout)
        if check:
            for line in check_config(config, settings):
                click.echo(line)
            click.echo("configuration OK")
            return
        run_command(serve(config, settings, access_log=int(root.get("verbose") or 0) > 0), fast=True)
