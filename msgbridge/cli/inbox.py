"""``msgbridge inbox``: list stored inbound (MO) messages; with ``--listen URL`` receive and store them first.

Listening binds through any transport that pushes inbound messages (SMPP
deliver_sm today), stores each complete message as it arrives (concatenated
parts are joined by the transport first) and prints it, until ``--seconds``
pass, ``--count`` messages arrived, or SIGINT/SIGTERM.

Everything shown of a message comes from whoever sent it, so it is printed
through ``msgbridge.core.terminal``: control characters (terminal escape
sequences, carriage returns, line breaks) appear as visible escapes, one
message per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from datetime import UTC, datetime

import click

from msgbridge.adapters.base import InboundMessages, open_transport, redact_for
from msgbridge.core.errors import UnsupportedFeature
from msgbridge.core.message import InboundMessage
from msgbridge.core.terminal import json_text, printable
from msgbridge.store import open_store
from msgbridge.store.base import Store


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _line(m: InboundMessage) -> str:
    parts = f" ({m.parts} parts)" if m.parts > 1 else ""
    incomplete = " [incomplete]" if m.raw and m.raw.get("incomplete") else ""
    shown = f"{printable(m.source)} -> {printable(m.destination)}{parts}{incomplete}: {printable(m.text)}"
    return f"{_when(m.received_at)}  {shown}"


def _record(m: InboundMessage) -> dict[str, object]:
    return {
        "id": m.id,
        "source": m.source,
        "destination": m.destination,
        "text": m.text,
        "parts": m.parts,
        "link": m.link,
        "received_at": m.received_at,
    }


async def listen(
    store: Store, url: str, *, seconds: float | None, count: int | None, echo: bool = True
) -> list[InboundMessage]:
    """Receive inbound messages through ``url`` and store each one as it arrives."""
    transport = open_transport(url)
    if not isinstance(transport, InboundMessages):
        raise UnsupportedFeature(f"{transport.scheme}:// does not receive inbound messages")
    got: list[InboundMessage] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    async def consume() -> None:
        async for m in transport.inbound():
            await store.add_inbound([m])
            got.append(m)
            if echo:
                click.echo(_line(m))
            if count is not None and len(got) >= count:
                stop.set()
                return

    async with transport:
        if echo:
            click.echo(f"listening for inbound messages on {redact_for(transport, url)}", err=True)
        reader = asyncio.create_task(consume())
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            waiter = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait(
                {reader, waiter},
                timeout=None if deadline is None else max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if reader in done:
                reader.result()
        finally:
            for task in (reader, waiter):
                task.cancel()
            await asyncio.gather(reader, waiter, return_exceptions=True)
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
    return got


async def _run(
    dsn: str | None, url: str | None, seconds: float | None, count: int | None, limit: int, as_json: bool
) -> None:
    async with open_store(dsn) as store:
        if url:
            await listen(store, url, seconds=seconds, count=count, echo=not as_json)
            if not as_json:
                return
        messages = await store.list_inbound(limit)
    if as_json:
        for m in messages:
            sys.stdout.write(json_text(json.dumps(_record(m), ensure_ascii=False)) + "\n")
        return
    if not messages:
        click.echo("no inbound messages")
        return
    for m in messages:
        click.echo(_line(m))


def register(cli: click.Group) -> None:
    @cli.command("inbox")
    @click.option("--limit", default=50, show_default=True, help="how many stored messages to list")
    @click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
    @click.option(
        "--listen", "url", default=None, help="transport URL to receive inbound messages through first"
    )
    @click.option("--seconds", type=float, default=None, help="with --listen: stop after this long")
    @click.option("--count", type=int, default=None, help="with --listen: stop after this many messages")
    @click.pass_context
    def inbox(
        ctx: click.Context,
        limit: int,
        as_json: bool,
        url: str | None,
        seconds: float | None,
        count: int | None,
    ) -> None:
        """Inbound (MO) messages: list what is stored, or --listen to receive and store new ones."""
        if (seconds is not None or count is not None) and not url:
            raise click.UsageError("--seconds and --count go with --listen")
        asyncio.run(_run(ctx.obj.get("store_dsn"), url, seconds, count, limit, as_json))
