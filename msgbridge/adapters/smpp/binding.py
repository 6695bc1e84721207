"""Getting one bind up and keeping it up: connect, bind, reconnect with backoff, enquire_link, unbind.

:class:`Binding` is the half of :class:`~msgbridge.adapters.smpp.session.Session`
that deals with the link's life; the session proper (``session.py``) is what
goes over the link: framing, answers, submit_sm through the window. The
session's state is one object, so the attributes below are the session's,
declared here for the type checker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from msgbridge.adapters.smpp.window import Window
from msgbridge.core.errors import AuthError, TransportError
from msgbridge.core.ratelimit import Backoff
from msgbridge.smpp import codec
from msgbridge.smpp.status import StatusClass, error_info, lookup

if TYPE_CHECKING:
    from msgbridge.adapters.smpp.session import SessionStats

log = logging.getLogger("msgbridge.adapters.smpp.session")  # one logger name for the whole bind, as before

BIND_COMMAND: dict[str, int] = {
    "trx": codec.BIND_TRANSCEIVER,
    "tx": codec.BIND_TRANSMITTER,
    "rx": codec.BIND_RECEIVER,
}


@dataclass(frozen=True)
class SessionConfig:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    mode: str = "trx"  # trx | tx | rx
    window: int = 10
    enquire_interval: float = 30.0
    response_timeout: float = 30.0
    bind_timeout: float = 10.0
    connect_timeout: float = 10.0
    throttle_pause: float = 1.0  # first pause after 0x58/0x14, doubling up to throttle_pause_cap
    throttle_pause_cap: float = 30.0
    reconnect: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=30.0))
    max_nacks: int = 10  # consecutive generic_nacks before dropping the link
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


class Binding:
    """Connect, bind and stay bound; the :class:`~msgbridge.adapters.smpp.session.Session` mixes this in."""

    config: SessionConfig
    name: str
    stats: SessionStats
    window: Window[Any, Any]
    bound: asyncio.Event
    fatal: AuthError | TransportError | None
    closing: bool
    last_error: str
    _transport: asyncio.Transport | None
    _lost: asyncio.Future[None] | None
    _last_rx: float
    _last_tx: float
    _runner: asyncio.Task[None] | None
    _timer: asyncio.Task[None] | None
    _first_bind: asyncio.Future[None] | None

    if TYPE_CHECKING:  # the session's side, which this half calls

        def request(self, command_id: int, body: bytes = b"") -> asyncio.Future[tuple[int, bytes]]: ...

        def _wake(self) -> None: ...

        def _expire(self, now: float) -> None: ...

        async def wait_window(self, at_most: float | None = None) -> None: ...

    async def start(self) -> None:
        """Connect and bind once (raising on failure), then keep the link up in the background."""
        loop = asyncio.get_running_loop()
        self._first_bind = loop.create_future()
        self._runner = asyncio.create_task(self._run(), name=f"smpp-{self.name}")
        self._runner.add_done_callback(self._runner_done)
        try:
            await self._first_bind
        except BaseException:
            self.closing = True
            self._runner.cancel()
            raise

    def keep_binding(self) -> None:
        """After a failed first bind (not refused credentials): keep trying in the background, with backoff.

        For a transport with several binds whose others came up: this one joins
        them once the SMSC lets it (an SMSC allowing fewer binds than asked).
        """
        if self.fatal is not None or (self._runner is not None and not self._runner.done()):
            return
        self.closing = False
        self._first_bind = None
        self._runner = asyncio.create_task(self._run(attempt=1), name=f"smpp-{self.name}")

    async def _run(self, attempt: int = 0) -> None:
        if attempt:
            await asyncio.sleep(self.config.reconnect.delay(attempt))
        while not self.closing:
            try:
                await self._connect_and_bind()
            except AuthError as exc:
                self.fatal = exc
                self.last_error = str(exc)
                log.error("%s: %s; not reconnecting: the SMSC refuses these credentials", self.name, exc)
                self._resolve_first(exc)
                self._wake()
                return
            except (TimeoutError, OSError, TransportError) as exc:
                self.stats.bind_failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self._first_bind is not None and not self._first_bind.done():
                    cfg = self.config
                    reason = str(exc) if isinstance(exc, TransportError) else self.last_error
                    # a refusal keeps its command_status; anything else is told by the message
                    refusal = isinstance(exc, TransportError) and exc.info.native_code is not None
                    self._resolve_first(
                        TransportError(
                            f"cannot bind to {cfg.host}:{cfg.port} as {cfg.system_id!r}: {reason}",
                            exc.info if isinstance(exc, TransportError) and refusal else None,
                        )
                    )
                    return
                attempt += 1
                delay = self.config.reconnect.delay(attempt)
                log.warning("%s: bind failed (%s); retrying in %.1fs", self.name, self.last_error, delay)
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self._resolve_first(None)
            lost = self._lost
            assert lost is not None
            await lost
            if self.closing:
                return
            attempt += 1
            delay = self.config.reconnect.delay(attempt)
            log.warning("%s: link lost (%s); reconnecting in %.2fs", self.name, self.last_error, delay)
            await asyncio.sleep(delay)

    def _runner_done(self, task: asyncio.Task[None]) -> None:
        """A bug that ends the runner must not leave ``start`` waiting forever: it fails the first bind."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("%s: session ended: %s: %s", self.name, type(exc).__name__, exc)
        self._resolve_first(
            TransportError(
                f"cannot bind to {self.config.host}:{self.config.port}: {type(exc).__name__}: {exc}"
            )
        )

    def _resolve_first(self, exc: BaseException | None) -> None:
        fut = self._first_bind
        if fut is not None and not fut.done():
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)

    async def _connect_and_bind(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        self._lost = loop.create_future()
        self.stats.connects += 1
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: cast(asyncio.Protocol, self), cfg.host, cfg.port),
                timeout=cfg.connect_timeout,
            )
        except TimeoutError:
            raise TimeoutError(f"no TCP connection within {cfg.connect_timeout:g} s") from None
        bind = codec.Bind(
            cfg.system_id,
            cfg.password,
            cfg.system_type,
            codec.INTERFACE_VERSION,
            cfg.addr_ton,
            cfg.addr_npi,
            cfg.address_range,
        )
        command = BIND_COMMAND[cfg.mode]
        try:
            status, _ = await asyncio.wait_for(
                self.request(command, codec.encode_bind(bind)), cfg.bind_timeout
            )
        except TimeoutError:
            self._abort("no bind response")
            raise TimeoutError(
                f"no {answer_name(command)} within bind_timeout={cfg.bind_timeout:g} s"
            ) from None
        except TransportError:
            self._abort("no bind response")
            raise
        if status not in (codec.ESME_ROK, codec.ESME_RALYBND):
            row = lookup(status)
            info = error_info(status, context=f"bind as {cfg.system_id!r}")
            self._abort(f"bind refused: {row.name}")
            if row.cls is StatusClass.STOP:
                raise AuthError(f"bind refused with {row.name}", info)
            raise TransportError(f"bind refused with {row.name}", info)
        self.stats.binds += 1
        self.window.reset()
        self.bound.set()
        self._timer = asyncio.create_task(self._keepalive(), name=f"smpp-{self.name}-timer")
        log.info("%s: bound to %s:%d as %s (%s)", self.name, cfg.host, cfg.port, cfg.system_id, cfg.mode)
        self._wake()

    async def drain(self, grace: float = 5.0) -> None:
        """Stop taking work and wait up to ``grace`` seconds for the submit_sm answers still due."""
        self.closing = True
        deadline = time.monotonic() + grace
        while self.window.inflight and self._transport is not None and time.monotonic() < deadline:
            await self.wait_window(deadline - time.monotonic())

    async def close(self, grace: float = 5.0) -> None:
        """Unbind, wait briefly for answers still due, then close."""
        self.closing = True
        if self._transport is not None and self.bound.is_set():
            try:
                await self.drain(grace)
                await asyncio.wait_for(self.request(codec.UNBIND), timeout=min(max(grace, 0.5), 2.0))
            except (TimeoutError, TransportError, OSError):
                pass
        self._abort("closed")
        for task in (self._runner, self._timer):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._runner, self._timer):
            if task is not None:
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass

    def _abort(self, reason: str) -> None:
        if self._transport is not None:
            self.last_error = reason
            self._transport.abort()

    # --- timers --------------------------------------------------------------

    async def _keepalive(self) -> None:
        """Response timeouts and enquire_link, checked a few times per timeout period."""
        cfg = self.config
        tick = max(0.05, min(1.0, cfg.response_timeout / 4, cfg.enquire_interval / 4))
        while self._transport is not None:
            await asyncio.sleep(tick)
            now = time.monotonic()
            self._expire(now)
            idle = now - max(self._last_rx, self._last_tx)
            if idle >= cfg.enquire_interval and self.bound.is_set():
                self.stats.enquire_link_sent += 1
                try:
                    await asyncio.wait_for(self.request(codec.ENQUIRE_LINK), cfg.response_timeout)
                except TimeoutError:
                    log.warning(
                        "%s: no enquire_link_resp in %.1fs; reconnecting", self.name, cfg.response_timeout
                    )
                    self._abort("enquire_link timed out")
                    return
                except TransportError:
                    return


def answer_name(command_id: int) -> str:
    """``bind_transceiver_resp`` for bind_transceiver: what a request waits for, in error messages."""
    return codec.COMMAND_NAMES.get(command_id & ~codec.RESPONSE_BIT, f"0x{command_id:08X}") + "_resp"
