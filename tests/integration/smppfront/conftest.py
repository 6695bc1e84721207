"""Fixtures of the SMPP front tests: a runtime on ``memory://``, an account file and the front on port 0;
for MO, the same with the SMSC simulator as the runtime's transport and the front's MO routes installed."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.config import EventSettings
from msgbridge.core.message import DeliveryReceipt
from msgbridge.service.runtime import Runtime
from msgbridge.service.smppfront.accounts import AccountBook, create_account
from msgbridge.service.smppfront.mo import MoRouter
from msgbridge.service.smppfront.server import SmppFront
from msgbridge.simulators.smsc import SmscSimulator

INBOUND_URL = "https://93.184.216.34/mo"  # [events] inbound_url of mo_front: nothing delivers to it here


@dataclass
class Front:
    runtime: Runtime
    front: SmppFront
    accounts: Path

    def url(self, user: str = "acme", password: str = "secret", **options: object) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"bind_timeout": 5, **options}.items())
        return f"smpp://{user}:{password}@127.0.0.1:{self.front.port}?{query}"


async def take_receipts(
    t: SmppTransport, enough: Callable[[list[DeliveryReceipt]], bool], seconds: float = 20.0
) -> list[DeliveryReceipt]:
    """The receipts ``t`` reads until ``enough`` of them came (TimeoutError after ``seconds``)."""
    got: list[DeliveryReceipt] = []

    async def run() -> None:
        async for r in t.receipts():
            got.append(r)
            if enough(got):
                return

    await asyncio.wait_for(run(), seconds)
    return got


@contextlib.asynccontextmanager
async def front_over(
    folder: Path, accounts: Path, transports: dict[str, str], *, tls: ssl.SSLContext | None = None, **options: Any
) -> AsyncIterator[Front]:
    """A runtime on ``transports`` (its store in ``folder``) and the front on port 0 over it, for ``accounts``;
    ``options`` go to :class:`SmppFront` (``enquire_link``, ``slow_reader``...)."""
    runtime = Runtime(store=str(folder / "front.db"), transports=transports)
    await runtime.start()
    server = SmppFront(runtime, AccountBook(accounts), events=runtime.store, **options)
    await server.start("127.0.0.1", 0, tls=tls)
    try:
        yield Front(runtime, server, accounts)
    finally:
        await server.stop()
        await runtime.drain(2.0)


@pytest.fixture
async def front(tmp_path: Path) -> AsyncIterator[Front]:
    accounts = tmp_path / "smpp-users.toml"
    create_account(accounts, "acme", password="secret", window=20)
    create_account(accounts, "slow", password="secret", tps=2, window=5)
    async with front_over(tmp_path, accounts, {"mem": "memory://"}) as served:
        yield served


@dataclass
class MoFront(Front):
    sim: SmscSimulator  # the runtime's upstream, bound as "u": its send_mo is the MO that arrives


@pytest.fixture
async def mo_front(tmp_path: Path) -> AsyncIterator[MoFront]:
    """acme receives MO to 7701... (its own --mo), billing to 7702... (``[smpp_front.routes]``); any other
    MO goes to INBOUND_URL."""
    sim = SmscSimulator(users={"u": "p"}, seed=5)
    async with sim.serve("127.0.0.1", 0):
        accounts = tmp_path / "smpp-users.toml"
        create_account(accounts, "acme", password="secret", mo=["7701"])
        create_account(accounts, "billing", password="secret")
        runtime = Runtime(
            store=str(tmp_path / "front.db"),
            transports={"sim": f"smpp://u:p@127.0.0.1:{sim.port}?receipt_park=0.2"},
            events=EventSettings(inbound_url=INBOUND_URL),
        )
        await runtime.start()
        book = AccountBook(accounts)
        server = SmppFront(runtime, book, events=runtime.store)
        MoRouter(book, {"7702": "billing"}).install(runtime.store)
        await server.start("127.0.0.1", 0)
        try:
            assert await runtime.wait_ready()
            yield MoFront(runtime, server, accounts, sim)
        finally:
            await server.stop()
            await runtime.drain(2.0)
