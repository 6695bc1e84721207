"""``msgbridge campaign export NAME [--status S] [--csv FILE]``: one CSV row per recipient, streamed.

What a campaign did, per recipient, for a spreadsheet or another system:
the CSV line it came from, the phone, our message id and the provider's,
the status, the error (our code, the provider's code and text), segments,
when it was queued and last changed, and the expected price and actual cost
(exact decimals, each with its currency; empty where none is known). ``campaign status NAME`` stays
the summary.

The rows are read a page at a time (``Store.export_page``, keyset-paginated
on the order messages were queued) and written as they come, so memory stays
the same for a campaign of a thousand recipients or ten million.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from typing import TextIO

import click

from msgbridge.cli.campaigns import campaign
from msgbridge.cli.common import config_of, existing_store, run_command, store_dsn
from msgbridge.core.errors import ConfigError
from msgbridge.core.money import amount
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import ExportRecord, Store

HEADER = (
    "csv_line",
    "phone",
    "message_id",
    "native_id",
    "status",
    "error_code",
    "error_native_code",
    "error_text",
    "segments",
    "created_at",
    "updated_at",
    "price",
    "price_currency",
    "cost",
    "cost_currency",
)
PAGE = 1000


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _native_code(stored: str | None) -> str:
    """The provider's code as it gave it (kept as JSON: a number or a string)."""
    if stored is None:
        return ""
    value = json.loads(stored)
    return "" if value is None else str(value)


def csv_fields(r: ExportRecord) -> list[object]:
    return [
        "" if r.csv_row is None else r.csv_row,
        r.phone,
        r.message_id,
        r.native_id or "",
        r.status.value,
        r.error_code or "",
        _native_code(r.error_native_code),
        r.error_text or "",
        r.segments,
        _when(r.created_at),
        _when(r.updated_at),
        *_money(r.price),
        *_money(r.cost),
    ]


def _money(value: tuple[int, str] | None) -> tuple[str, str]:
    return ("", "") if value is None else (amount(value[0]), value[1])


async def write_export(
    store: Store, name: str, out: TextIO, *, status: DeliveryStatus | None = None, page: int = PAGE
) -> int:
    """Write the campaign's rows to ``out`` as CSV, a page at a time; how many rows were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    after, written = 0, 0
    while True:
        rows = await store.export_page(name, status=status, after=after, limit=page)
        writer.writerows(csv_fields(r) for r in rows)
        written += len(rows)
        if len(rows) < page:
            return written
        after = rows[-1].cursor


def _open_csv(path: str) -> TextIO:
    """Opened once the campaign is known to exist, so a mistyped name leaves no empty file behind."""
    return open(path, "w", encoding="utf-8", newline="")


def _status(value: str | None) -> DeliveryStatus | None:
    if value is None:
        return None
    try:
        return DeliveryStatus(value.upper())
    except ValueError:
        names = ", ".join(s.value for s in DeliveryStatus)
        raise ConfigError(f"--status {value!r} is not a delivery status ({names})") from None


@campaign.command("export")
@click.argument("name")
@click.option("--status", "status_name", default=None, help="only recipients with this status, e.g. FAILED")
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="write here (default: stdout)"
)
@click.pass_context
def campaign_export(ctx: click.Context, name: str, status_name: str | None, csv_path: str | None) -> None:
    """One CSV row per recipient: line, phone, ids, status, error, segments, times, price and cost."""
    config = config_of(ctx)
    status = _status(status_name)

    async def go() -> int:
        async with existing_store(store_dsn(ctx, config)) as store:
            if await store.get_campaign(name) is None:
                raise ConfigError(f"no campaign named {name!r} in this store")
            if csv_path is None:
                return await write_export(store, name, sys.stdout, status=status)
            with _open_csv(csv_path) as out:
                return await write_export(store, name, out, status=status)

    written = run_command(go())
    if csv_path is not None:
        click.echo(f"{written:,} rows written to {csv_path}", err=True)
