"""uvicorn's HTTP/1.1 protocol with each response sent in one write: the ``http`` class ``serve`` runs.

uvicorn writes a response's head when the app sends ``http.response.start`` and its body when it sends
``http.response.body``: two ``send()`` system calls for every small JSON answer, and on loopback each one
also runs the receiving side's TCP stack and wake-up. Measured with py-spy under single-message POSTs,
those writes were a quarter of the server's CPU. Here the writes made during one turn of the event loop
are joined and handed to the socket at the end of that turn (or at once past ``FLUSH_BYTES``), so a
response is one call; nothing waits longer than the loop turn it was written in, and flow control
still sees the socket's own buffer, as the writes reach it before the loop runs anything else.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

FLUSH_BYTES = 64 * 1024  # more than this waiting: written at once, not at the end of the loop turn


class CoalescingTransport:
    """A transport whose writes are joined until the end of the current loop turn; all else is the socket's."""

    __slots__ = ("_loop", "_pending", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size > FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()  # a response followed by ``Connection: close`` is still delivered whole
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._size = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def http_protocol() -> type[asyncio.Protocol] | str:
    """The ``http`` setting for uvicorn: httptools' protocol over a :class:`CoalescingTransport`, or, without
    httptools (``msgbridge[fast]`` adds it), uvicorn's own choice."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class OneWriteHttpProtocol(HttpToolsProtocol):
        """Flow control stays on the socket's transport (``self.flow``, set by uvicorn from the real one)."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # Duck-typed: what uvicorn calls on its transport is here or passed through to the socket's.
            self.transport = cast(
                asyncio.Transport, CoalescingTransport(transport, asyncio.get_running_loop())
            )

    return OneWriteHttpProtocol
