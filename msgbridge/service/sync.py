"""``msgbridge.send("smpp://...", to=..., text=...)``: one message from a script that has no event loop.

It opens a :class:`~msgbridge.service.client.Client` for the one call (the store, one bind), waits for
the transport's answer and closes again, so it pays a bind per call: a script sending more than a few
messages should hold a Client open instead.
"""

from __future__ import annotations

import asyncio

from msgbridge.config import Config
from msgbridge.core.message import SendResult
from msgbridge.service.client import DEFAULT_WAIT, Client


def send(
    via: str,
    *,
    to: str,
    text: str,
    sender: str | None = None,
    reference: str | None = None,
    callback_url: str | None = None,
    region: str | None = None,
    store: str | None = None,
    config: Config | None = None,
    wait: float = DEFAULT_WAIT,
) -> SendResult:
    """Send one message and return the transport's answer (see :meth:`Client.send`).

    Called from inside a running event loop it raises RuntimeError: use ``await Client.send`` there.
    """

    async def go() -> SendResult:
        async with Client(via, store, config=config) as client:
            return await client.send(
                to,
                text,
                sender=sender,
                reference=reference,
                callback_url=callback_url,
                region=region,
                wait=wait,
            )

    return asyncio.run(go())
