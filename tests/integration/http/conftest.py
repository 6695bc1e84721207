"""Fixtures for adapters talking to their emulators over real HTTP on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest

from msgbridge.simulators.http.server import App, HttpServer, serve

ServeFn = Callable[[App], Awaitable[HttpServer]]


@pytest.fixture
async def serve_emulator() -> AsyncIterator[ServeFn]:
    """``server = await serve_emulator(emulator)``: a running server, closed after the test."""
    async with AsyncExitStack() as stack:

        async def start(app: App) -> HttpServer:
            return await stack.enter_async_context(serve(app))

        yield start
