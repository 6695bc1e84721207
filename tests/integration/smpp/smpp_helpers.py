"""Helpers for the ESME (client) integration tests: URLs, messages, waiting with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message
from msgbridge.simulators.smsc import SmscSimulator


def smpp_url(sim: SmscSimulator, user: str = "u", password: str = "p", **options: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"smpp://{user}:{password}@127.0.0.1:{sim.port}" + (f"?{query}" if query else "")


def messages(
    n: int, text: str = "hello {i}", to: str = "+77011234567", sender: str = "Test"
) -> list[Message]:
    return [Message(to=to, sender=sender, text=text.format(i=i)) for i in range(n)]


async def eventually(predicate: Callable[[], bool], seconds: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds or the deadline passes."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def take_receipts(t: SmppTransport, n: int, seconds: float = 20.0) -> list[DeliveryReceipt]:
    got: list[DeliveryReceipt] = []

    async def run() -> None:
        async for r in t.receipts():
            got.append(r)
            if len(got) >= n:
                return

    await asyncio.wait_for(run(), seconds)
    return got


async def take_inbound(t: SmppTransport, n: int, seconds: float = 20.0) -> list[InboundMessage]:
    got: list[InboundMessage] = []

    async def run() -> None:
        async for m in t.inbound():
            got.append(m)
            if len(got) >= n:
                return

    await asyncio.wait_for(run(), seconds)
    return got
