"""What the everyday commands share: configuration, the store, running a coroutine, JSON and tables.

What a user can fix (bad URL, bad CSV, unknown name) is raised as a MessagingError and printed by ``main``
as one line with a non-zero exit; transport URLs are only ever printed redacted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from msgbridge.cli.outcome import ExitCode
from msgbridge.config import Config, load_config
from msgbridge.core.errors import ConfigError
from msgbridge.core.money import amount
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.terminal import json_text
from msgbridge.dispatch.dispatcher import DispatchStats
from msgbridge.dispatch.run import bad_input as bad_input
from msgbridge.store import StoreError, open_store
from msgbridge.store.base import MessageRecord, Store

T = TypeVar("T")


def config_of(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj or {}
    set_logging(int(obj.get("verbose") or 0))
    return load_config(obj.get("config_path"))


def set_logging(verbose: int) -> None:
    """``-v`` shows what the dispatcher and transports log at INFO, ``-vv`` at DEBUG; warnings always."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def store_dsn(ctx: click.Context, config: Config) -> str:
    obj = ctx.find_root().obj or {}
    return str(obj.get("store_dsn") or config.store)


def run_command(coro: Awaitable[T], *, fast: bool = False) -> T:
    """Run a command's coroutine; store failures become one-line errors, not tracebacks.

    ``fast`` runs it on uvloop where it is installed (``msgbridge[fast]``): a bulk send spends most of
    its time in the event loop's own machinery, which uvloop does in C.
    """

    async def wrapped() -> T:
        return await coro

    loop_factory = None
    if fast:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(wrapped())
    except StoreError as exc:
        raise ConfigError(f"store error: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from exc


def text_arg(option: str, value: str | None) -> str | None:
    """An argument as text: bytes that are not UTF-8 (kept by Python as lone surrogates) are refused here,
    with the byte named, rather than as an encoding traceback when the store or a peer gets them."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ord(value[exc.start])
        byte = f"byte 0x{bad - 0xDC00:02x}" if 0xDC80 <= bad <= 0xDCFF else f"U+{bad:04X}"
        raise ConfigError(f"{option} is not valid UTF-8 ({byte} at character {exc.start + 1})") from None
    return value


def exit_with(code: ExitCode) -> None:
    if code is not ExitCode.OK:
        sys.exit(int(code))


def existing_store(dsn: str) -> Store:
    """For read-only commands: do not create an empty store by looking."""
    if "://" not in dsn or dsn.startswith("sqlite:///"):
        path = dsn.removeprefix("sqlite:///")
        if not Path(path).is_file():
            raise ConfigError(
                f"no store at {path} (nothing has been sent with it yet; choose one with --store)"
            )
    return open_store(dsn)


def echo_json(data: object) -> None:
    click.echo(json_text(json.dumps(data, indent=2, default=str, ensure_ascii=False)))


def err_console() -> Console:
    return Console(stderr=True)


def record_json(rec: MessageRecord) -> dict[str, Any]:
    return {
        "id": rec.message.id,
        "to": rec.message.to,
        "campaign": rec.message.campaign,
        "status": rec.status.value,
        "native_id": rec.native_id,
        "native_ids": list(rec.native_ids),
        "link": rec.link,
        "segments": rec.segments,
        "attempts": rec.attempts,
        "error": (
            {
                "code": rec.last_error.code.value,
                "native_code": rec.last_error.native_code,
                "native_message": rec.last_error.native_message,
            }
            if rec.last_error
            else None
        ),
        "history": [{"at": at, "status": s.value, "note": note} for at, s, note in rec.history],
        "price": money_json(rec.price),
        "cost": money_json(rec.cost),
    }


def money_json(value: tuple[int, str] | None) -> dict[str, Any] | None:
    """An amount as ``--json`` prints it: the exact decimal, the micros it is kept in, the currency."""
    if value is None:
        return None
    micros, currency = value
    return {"amount": amount(micros), "micros": micros, "currency": currency}


def stats_json(stats: DispatchStats, resends: int) -> dict[str, Any]:
    return {
        "claimed": stats.claimed,
        "submitted": stats.submitted,
        "failed": stats.failed,
        "retried": stats.retried + resends,
        "transport_resends": resends,
        "in_doubt": stats.in_doubt,
        "settled_sent": stats.settled_sent,
        "settled_unsent": stats.settled_unsent,
        "resent_maybe": stats.resent_maybe,
        "released": stats.released,
        "interrupted": stats.interrupted,
        "receipts": stats.receipts,
        "receipts_matched": stats.receipts_matched,
        "errors": stats.errors,
        "send_seconds": round(stats.send_seconds, 3),
        "seconds": round(stats.elapsed, 3),
    }


def counts_table(title: str, counts: dict[DeliveryStatus, int]) -> Table:
    total = sum(counts.values()) or 1
    table = Table(title=title)
    table.add_column("status")
    table.add_column("messages", justify="right")
    table.add_column("share", justify="right")
    for status in DeliveryStatus:
        if counts.get(status):
            n = counts[status]
            table.add_row(status.value, f"{n:,}", f"{n / total:.1%}")
    table.add_row("total", f"{sum(counts.values()):,}", "", style="bold")
    return table
