"""Real SMTP servers on port 0 for the SMTP tests, and a throwaway TLS certificate."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: bytes | None


@dataclass
class RecordingHandler:
    """An upstream mail server whose refusals the test chooses by recipient local part."""

    mails: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    mail_reply: str | None = None
    data_reply: str | None = None
    drop_on_data: bool = False
    connections: int = 0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        local = address.split("@")[0]
        if local in self.rcpt_replies:
            return self.rcpt_replies[local]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.drop_on_data:
            assert server.transport is not None
            server.transport.abort()
            return "250 never seen"
        if self.data_reply:
            return self.data_reply
        self.mails.append(
            Received(
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                envelope.original_content or b"",
                getattr(session.auth_data, "login", None),
            )
        )
        return "250 2.0.0 OK queued"


def good_password(login: bytes, password: bytes) -> bool:
    return login == b"user" and password == b"secret"


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
) -> AuthResult:
    ok = good_password(data.login, data.password)  # type: ignore[attr-defined]
    return AuthResult(success=ok, handled=False, auth_data=data)


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
    """A self-signed certificate for 127.0.0.1 made now; no private key is ever committed."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="session")
def server_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
    return ctx


# -- the inbound gateway ---------------------------------------------------------

GATEWAY_DOMAIN = "sms.example.com"
PASSWORD_HASH_CACHE: dict[str, str] = {}


def user_line(login: str, password: str, sender: str | None = None) -> str:
    from msgbridge.inbound.users import User, format_user, hash_password

    key = f"{login}:{password}"
    if key not in PASSWORD_HASH_CACHE:
        PASSWORD_HASH_CACHE[key] = hash_password(password)
    return format_user(User(login, PASSWORD_HASH_CACHE[key], sender))


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
