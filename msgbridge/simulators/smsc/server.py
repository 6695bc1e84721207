"""An SMPP 3.4 SMSC simulator: a real asyncio TCP server around :class:`SmscCore`.

The state and rules live in :mod:`core`, the per-connection protocol in
:mod:`session`; this module only opens the listener, runs the housekeeping
timer and unbinds everyone on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from msgbridge.simulators.smsc.core import SmscCore
from msgbridge.simulators.smsc.receipts import OUTCOMES
from msgbridge.simulators.smsc.session import SmscSession
from msgbridge.smpp.codec import UNBIND, pdu

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 0.05  # how often unanswered receipts and idle links are looked at


class SmscServer:
    """A running simulator: ``port`` is the real port when bound to 0."""

    def __init__(self, sim: SmscSimulator, server: asyncio.Server) -> None:
        self.sim = sim
        self.server = server
        sockname = server.sockets[0].getsockname()
        self.host: str = sockname[0]
        self.port: int = sockname[1]


class SmscSimulator(SmscCore):
    """A fault-injecting SMSC with a listener. The knobs are :class:`SmscCore`'s."""

    server: SmscServer | None = None
    _housekeeper: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self.server is None:
            raise RuntimeError("the simulator is not serving")
        return self.server.port

    @property
    def host(self) -> str:
        if self.server is None:
            raise RuntimeError("the simulator is not serving")
        return self.server.host

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[SmscServer]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SmscSession(self), host, port, reuse_address=True)
        self.server = SmscServer(self, server)
        self.start()
        self._housekeeper = loop.create_task(self._housekeeping())
        log.info("SMSC simulator listening on %s:%d", self.server.host, self.server.port)
        try:
            yield self.server
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Unbind every session, close the listener and cancel pending timers."""
        if self.server is None:
            return
        server = self.server.server
        server.close()
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None
        self.shutdown()
        for link in self.links:
            if link.mode and not link.closed:
                link.write_now(pdu(UNBIND, 0, link.next_sequence()))
            link.close()
        await server.wait_closed()
        self.server = None

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            self.housekeep(time.monotonic())


def parse_users(spec: str) -> dict[str, str]:
    """``u:p[,u2:p2]`` -> {"u": "p", "u2": "p2"}."""
    users: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise ValueError(f"user {item!r}: expected system_id:password")
        users[name] = password
    return users


def parse_mix(spec: str) -> dict[str, float]:
    """``delivered=0.9,undeliverable=0.1`` -> weights by outcome name."""
    mix: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, weight = item.partition("=")
        if not sep or name not in OUTCOMES:
            raise ValueError(
                f"dlr mix entry {item!r}: expected OUTCOME=WEIGHT with OUTCOME in {sorted(OUTCOMES)}"
            )
        mix[name] = float(weight)
    return mix
