"""What the runtime and client tests share: the SMSC simulator's URL and waiting on the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from msgbridge.simulators.smsc import SmscSimulator

USERS = {"u": "p"}


def sim_url(sim: SmscSimulator, **options: object) -> str:
    """An smpp:// URL for the simulator; receipts for ids this process did not send are released at once."""
    query = "&".join(f"{k}={v}" for k, v in {"receipt_park": 0.2, **options}.items())
    return f"smpp://u:p@127.0.0.1:{sim.port}?{query}"


async def until(
    predicate: Callable[[], Awaitable[bool]], seconds: float = 20.0, what: str = "condition"
) -> None:
    """Await ``predicate`` until it holds; fail after ``seconds`` (a deadline, not a speed assertion)."""
    deadline = time.monotonic() + seconds
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
