"""``msgbridge events list|replay``: the stored status and inbound events, and delivering them again.

``list`` pages through the store in cursor order (commit order), from ``--since`` (an ISO 8601 time or a
duration back from now: ``90s``, ``15m``, ``2h``, ``1d``), optionally one message's only; each event shows
what happened and how its delivery stands. ``replay`` makes the events with a callback target from
``--since`` on pending again, due now: a running ``serve`` delivers them again, in order per message (a
receiver dedupes on ``event_id``, which stays the same).

What an event holds came partly from peers (native statuses, error texts), so lines are printed through
``msgbridge.core.terminal``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import click

from msgbridge.cli.common import config_of, existing_store, run_command, store_dsn
from msgbridge.core.errors import ConfigError
from msgbridge.core.terminal import json_text, printable
from msgbridge.store.base import StoredEvent
from msgbridge.webhooks.payload import event_json, iso_utc

PAGE = 1000
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_since(text: str, now: float) -> float:
    """``--since``: a duration back from ``now`` (``15m``, ``2h``, ``1d``, ``90s``) or an ISO 8601 time (UTC
    unless it names its offset), as seconds since the epoch."""
    value = text.strip()
    m = _DURATION.fullmatch(value)
    if m is not None:
        return now - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise ConfigError(
            f"--since {text!r}: give a duration (90s, 15m, 2h, 1d) or an ISO 8601 time (2026-12-03T08:00:00Z)"
        ) from None
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def delivery(e: StoredEvent) -> dict[str, Any] | None:
    """How an event's delivery stands (None: it has no target, it is kept for reading only)."""
    if e.target is None:
        return None
    return {
        "url": e.target.url,
        "format": e.target.format,
        "state": e.state,
        "attempts": e.attempts,
        "next_at": iso_utc(e.next_at) if e.next_at is not None and e.state == "pending" else None,
        "last_error": e.last_error,
    }


def line(e: StoredEvent) -> str:
    what = e.status.value if e.status is not None else "inbound"
    native = f" ({e.native_status})" if e.native_status else ""
    error = f" {e.error.code.value}: {e.error.native_message}" if e.error is not None else ""
    sent = delivery(e)
    state = "" if sent is None else f"  -> {sent['state']} x{sent['attempts']} {sent['url']}"
    if sent is not None and sent["last_error"]:
        state += f" [{sent['last_error'][:120]}]"
    return printable(f"{iso_utc(e.occurred_at)}  #{e.n}  {e.message_id}  {what}{native}{error}{state}")


async def _list(dsn: str, since: float | None, message_id: str | None, limit: int, as_json: bool) -> int:
    shown = 0
    async with existing_store(dsn) as store:
        after: int | None = None
        while shown < limit:
            page = await store.events_page(after, min(PAGE, limit - shown), message_id=message_id, since=since)
            if not page:
                break
            for e in page:
                if as_json:
                    record = {**event_json(e), "cursor": e.n, "delivery": delivery(e)}
                    sys.stdout.write(json_text(json.dumps(record, ensure_ascii=False)) + "\n")
                else:
                    click.echo(line(e))
            shown += len(page)
            after = page[-1].n
    return shown


async def _replay(dsn: str, since: float, message_id: str | None) -> int:
    async with existing_store(dsn) as store:
        return await store.replay_events(since=since, message_id=message_id)


def register(cli: click.Group) -> None:
    @cli.group("events")
    def events() -> None:
        """Stored status and inbound events: list them, deliver them again."""

    @events.command("list")
    @click.option("--since", default=None, help="ISO 8601 time or a duration back from now (15m, 2h, 1d)")
    @click.option("--message", "message_id", default=None, help="one message's events only")
    @click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="most to show")
    @click.option("--json", "as_json", is_flag=True, help="one JSON object per line (the callback's shape)")
    @click.pass_context
    def list_events(
        ctx: click.Context, since: str | None, message_id: str | None, limit: int, as_json: bool
    ) -> None:
        """Events in the order they were committed, oldest first."""
        dsn = store_dsn(ctx, config_of(ctx))
        at = parse_since(since, time.time()) if since is not None else None
        shown = run_command(_list(dsn, at, message_id, limit, as_json))
        if not shown and not as_json:
            click.echo("no events", err=True)

    @events.command("replay")
    @click.option("--since", required=True, help="ISO 8601 time or a duration back from now (15m, 2h, 1d)")
    @click.option("--message", "message_id", default=None, help="one message's events only")
    @click.pass_context
    def replay(ctx: click.Context, since: str, message_id: str | None) -> None:
        """Deliver again the events with a callback from --since on (a running serve sends them)."""
        dsn = store_dsn(ctx, config_of(ctx))
        count = run_command(_replay(dsn, parse_since(since, time.time()), message_id))
        click.echo(f"{count} event(s) pending delivery again")
