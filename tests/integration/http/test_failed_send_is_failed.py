"""A ``send`` whose login is refused ends FAILED in the store: no later process sends it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.core.errors import AuthError, ErrorCode
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.http.bsg import create_emulator
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore


async def test_a_bsg_send_with_a_refused_login_is_failed(serve_emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    emulator = create_emulator(api_keys=["right_key"])
    server = await serve_emulator(emulator)
    async with SqliteStore(tmp_path / "s.db") as store:
        message = Message(to="+77010000001", text="hello")
        [mid] = await store.enqueue([OutboxEntry(message=message, idempotency_key=f"send:{message.id}")])
        transport = open_transport(f"bsg://wrong_key@one-api.bsg.world?base_url={server.url}&sender=Shop")
        dispatcher = Dispatcher(store, transport)
        with pytest.raises(AuthError):
            await dispatcher.run(None, message_ids=[mid])  # the login comes with the first send
        rec = await store.get(mid)
        assert rec is not None and rec.status is DeliveryStatus.FAILED
        assert rec.last_error is not None and rec.last_error.code is ErrorCode.AUTH_FAILED
        # whatever runs next on this store (another send, a campaign, a gateway) finds nothing of it to send
        assert await store.claim(10) == []


async def test_the_send_command_with_a_refused_login_leaves_a_failed_message(
    serve_emulator, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server = await serve_emulator(create_emulator(api_keys=["right_key"]))
    store = tmp_path / "msgbridge.db"
    via = f"bsg://wrong_key@one-api.bsg.world?base_url={server.url}&sender=Shop"
    base = [sys.executable, "-m", "msgbridge", "--store", str(store)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGBRIDGE_")}
    # the emulator runs on this event loop: the command runs beside it, not blocking it
    proc = await asyncio.create_subprocess_exec(
        *base, "send", "--via", via, "--to", "+77010000001", "--text", "hi",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode != 0 and b"AUTH_FAILED" in err
    async with SqliteStore(store) as s:
        assert await s.counts() == {DeliveryStatus.FAILED: 1}
        assert await s.claim(10) == []
