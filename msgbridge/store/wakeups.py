"""PostgreSQL's wake-ups for processes draining one outbox: ``NOTIFY msgbridge_outbox`` and a listener.

A transaction that makes messages claimable now (``SqlStore._wake``: enqueue, release, a retry due
already) sends one notification on ``CHANNEL`` with the store's schema as payload; PostgreSQL delivers it
at the commit, so a listener that claims right after it never looks before the rows are visible, and a
transaction that rolls back wakes nobody. Stores in other schemas of the same database share the channel
and are told apart by the payload.

The listener holds a connection of its own, outside the store's pool: a pooled connection would stop
listening when handed back. It is opened again when it drops, with a wake-up afterwards, as
notifications sent meanwhile are lost; until then the caller's own polling finds the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from msgbridge.core.url import redact
from msgbridge.store.base import StoreError

log = logging.getLogger(__name__)

CHANNEL = "msgbridge_outbox"
NOTIFY = "SELECT pg_notify(?, ?)"
# Seconds between attempts to listen again after the connection dropped, doubling up to the most.
RETRY_FIRST, RETRY_MOST = 0.2, 5.0


class Listener:
    """The wake-ups of one :meth:`Store.watch`: an async iterator and an async context manager.

    A class rather than an async generator: a caller waits for the next wake-up with a bound
    (``asyncio.wait_for``, its slow poll as the fallback), and a generator cancelled while waiting is
    finished for good, where this one is only interrupted: its connection and the wake-up it holds stay
    for the next wait. The first step listens and returns at once; each later one returns once per burst
    of notifications whose payload is ``payload``; iteration ends after :meth:`aclose`, which the store
    calls for each listener still in ``listeners`` when it closes, so no connection outlives the store
    even when the task that iterated was cancelled rather than closing it.
    """

    def __init__(self, dsn: str, payload: str, *, listeners: set[Listener]) -> None:
        self.dsn = dsn
        self.payload = payload
        self._listeners = listeners
        self._wake = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._ended = False
        self._started = False
        self._delay = RETRY_FIRST

    def _heard(self, conn: Any, pid: int, channel: str, sent: str) -> None:
        if sent == self.payload:
            self._wake.set()

    def _dropped(self, conn: Any) -> None:
        self._wake.set()

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.add_listener(CHANNEL, self._heard)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._dropped)
        return conn

    def __aiter__(self) -> Listener:
        return self

    async def __anext__(self) -> None:
        if self._ended:
            raise StopAsyncIteration
        if not self._started:
            try:
                self._conn = await self._connect()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise StoreError(f"cannot listen on {redact(self.dsn)}: {exc}") from exc
            self._started = True
            self._listeners.add(self)
            if self._ended:  # closed while connecting
                await self.aclose()
                raise StopAsyncIteration
            return
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._ended:
                raise StopAsyncIteration
            if self._conn is not None and not self._conn.is_closed():
                return
            if await self._listen_again():
                return  # what was sent while it was down is lost: look now

    async def _listen_again(self) -> bool:
        """One attempt to listen again after the connection dropped (the next waits out a delay first)."""
        try:
            self._conn = await self._connect()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("outbox notifications lost (%s); listening again in %.1f s", exc, self._delay)
            asyncio.get_running_loop().call_later(self._delay, self._wake.set)
            self._delay = min(self._delay * 2, RETRY_MOST)
            return False
        if self._ended:  # closed while connecting
            await self.aclose()
            return False
        log.info("outbox notifications: listening again")
        self._delay = RETRY_FIRST
        return True

    async def aclose(self) -> None:
        self._ended = True
        self._wake.set()  # a step waiting now ends
        self._listeners.discard(self)
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def __aenter__(self) -> Listener:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
