"""Fixtures of the SMPP front tests: a runtime on ``memory://``, an account file and the front on port 0."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from msgbridge.service.runtime import Runtime
from msgbridge.service.smppfront.accounts import AccountBook, create_account
from msgbridge.service.smppfront.server import SmppFront


@dataclass
class Front:
    runtime: Runtime
    front: SmppFront
    accounts: Path

    def url(self, user: str = "acme", password: str = "secret", **options: object) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"bind_timeout": 5, **options}.items())
        return f"smpp://{user}:{password}@127.0.0.1:{self.front.port}?{query}"


@pytest.fixture
async def front(tmp_path: Path) -> AsyncIterator[Front]:
    accounts = tmp_path / "smpp-users.toml"
    create_account(accounts, "acme", password="secret", window=20)
    create_account(accounts, "slow", password="secret", tps=2, window=5)
    runtime = Runtime(store=str(tmp_path / "front.db"), transports={"mem": "memory://"})
    await runtime.start()
    server = SmppFront(runtime, AccountBook(accounts), events=runtime.store)
    await server.start("127.0.0.1", 0)
    try:
        yield Front(runtime, server, accounts)
    finally:
        await server.stop()
        await runtime.drain(2.0)
