"""The everyday commands: send, status, transports, text info (campaigns: :mod:`msgbridge.cli.campaigns`).

Each command has ``--json`` for scripts. What a user can fix (bad URL, bad
CSV, unknown name) is raised as a MessagingError and printed by ``main`` as
one line with a non-zero exit; transport URLs are only ever printed redacted.
``send`` and ``campaign run`` exit with the codes of :mod:`msgbridge.cli.outcome`,
decided from what the store holds once they are done.
"""

from __future__ import annotations

import time
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from msgbridge.adapters.base import FEATURES, Transport, features, registry
from msgbridge.cli import health as health_check
from msgbridge.cli.campaigns import campaign
from msgbridge.cli.common import (
    config_of,
    echo_json,
    existing_store,
    exit_with,
    record_json,
    run_command,
    store_dsn,
    text_arg,
)
from msgbridge.cli.outcome import ExitCode, exit_code
from msgbridge.core.encoding import info as text_info
from msgbridge.core.encoding import split
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.money import format_micros
from msgbridge.core.options import OptionSet
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.terminal import markup, printable
from msgbridge.dispatch.plan import plan_via
from msgbridge.routing.open import open_via
from msgbridge.service.usecases import SendRequest, check_send, send_one
from msgbridge.store.base import MessageRecord

__all__ = ["campaign", "register"]


# -- send / status ------------------------------------------------------------


@click.command()
@click.option(
    "--via",
    required=True,
    help="transport URL, a name from msgbridge.toml / MSGBRIDGE_TRANSPORT_<NAME>, "
    "auto (the first matching [[routes]] entry) or route:NAME (that route)",
)
@click.option("--to", "to", required=True, help="phone number (E.164, or national with --region)")
@click.option("--text", required=True)
@click.option("--from", "sender", default=None, help="sender id")
@click.option("--region", default=None, help="default region for national numbers, e.g. KZ")
@click.option(
    "--reference", default=None, help="your id for this message; the same reference is never sent twice"
)
@click.option(
    "--wait", type=float, default=0.0, show_default=True, help="seconds to wait for a delivery receipt"
)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def send(
    ctx: click.Context,
    via: str,
    to: str,
    text: str,
    sender: str | None,
    region: str | None,
    reference: str | None,
    wait: float,
    as_json: bool,
) -> None:
    """Send one SMS and print our id, the provider's id and the status.

    Exit codes as for ``campaign run`` (0 accepted, 3 in doubt, 4 not sent, 2 bad input).
    """
    config = config_of(ctx)
    to = text_arg("--to", to) or ""
    text = text_arg("--text", text) or ""
    sender = text_arg("--from", sender)
    reference = text_arg("--reference", reference)
    if not text.strip():
        raise ConfigError("--text is empty: there is nothing to send")
    request = SendRequest(to=to, text=text, sender=sender, region=region, reference=reference, wait=wait)
    check_send(request)  # a bad phone is refused before the transport URL is read
    transport = open_via(config, via)
    price = plan_via(via, config.routing, config.transports).expected_price
    outcome = run_command(send_one(store_dsn(ctx, config), transport, request, price=price))
    rec, error = outcome.record, outcome.error
    code = exit_code({rec.status: 1})
    failed = code is not ExitCode.OK
    if as_json:
        echo_json({**record_json(rec), "ok": not failed, "exit_code": int(code)})
    else:
        click.echo(f"id         {rec.message.id}")
        click.echo(f"native id  {printable(rec.native_id or '-')}")
        click.echo(f"status     {rec.status.value}")
        if rec.last_error is not None:
            click.echo(f"error      {printable(rec.last_error)}")
    if error is not None:
        click.echo(f"error: {error.code.value}: {printable(error)}", err=True)
    elif failed:
        why = rec.last_error.code if rec.last_error else _code_for(rec.status)
        click.echo(f"error: {why.value}", err=True)
    exit_with(code)


def _code_for(status: DeliveryStatus) -> ErrorCode:
    if status is DeliveryStatus.MAYBE_SUBMITTED:
        return ErrorCode.TIMEOUT
    if status is DeliveryStatus.EXPIRED:
        return ErrorCode.TEMPORARY_FAILURE
    return ErrorCode.PERMANENT_FAILURE


@click.command()
@click.argument("message_id")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def status(ctx: click.Context, message_id: str, as_json: bool) -> None:
    """Show one message: status, ids, last error and its history."""
    config = config_of(ctx)

    async def go() -> MessageRecord | None:
        async with existing_store(store_dsn(ctx, config)) as store:
            return await store.get(message_id) or await store.find_by_reference(message_id)

    rec = run_command(go())
    if rec is None:
        raise ConfigError(f"no message with id or reference {message_id!r}")
    if as_json:
        echo_json(record_json(rec))
        return
    console = Console()
    console.print(
        f"[bold]{markup(rec.message.id)}[/] to {markup(rec.message.to)}: [bold]{rec.status.value}[/]"
    )
    console.print(
        f"native id {markup(rec.native_id or '-')}  link {markup(rec.link or '-')}  segments {rec.segments}  attempts {rec.attempts}"
    )
    if rec.price is not None or rec.cost is not None:
        shown = [f"{what} {format_micros(*value)}" for what, value in (("expected price", rec.price), ("cost", rec.cost))
                 if value is not None]  # fmt: skip
        console.print("  ".join(shown))
    if rec.last_error is not None:
        console.print(f"last error {markup(rec.last_error)}")
    tried = rec.tried()
    if tried:
        attempts = Table("#", "time (UTC)", "transport", "outcome", title="tried before the result")
        for n, (at, transport, said) in enumerate(tried, 1):
            attempts.add_row(str(n), _utc(at), markup(transport), markup(said or "-"))
        console.print(attempts)
    table = Table("time (UTC)", "status", "note")
    for at, st, note in rec.history:
        table.add_row(_utc(at), st.value, markup(note))
    console.print(table)


def _utc(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


# -- transports / text ---------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--options", "show_options", is_flag=True, help="also list each transport's URL options")
@click.option(
    "--health",
    is_flag=True,
    help="open each transport in msgbridge.toml and say whether it is up (exit 1 when one is not)",
)
@click.option(
    "--server",
    default=None,
    metavar="URL",
    help="with --health: ask a running msgbridge serve (its transports, circuits and routes) instead",
)
@click.option(
    "--key", envvar="MSGBRIDGE_API_KEY", default=None, help="API key for --server (or MSGBRIDGE_API_KEY)"
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=health_check.DEFAULT_TIMEOUT,
    show_default=True,
    help="with --health: seconds each transport may take to open (or the server to answer)",
)
@click.pass_context
def transports(
    ctx: click.Context,
    as_json: bool,
    show_options: bool,
    health: bool,
    server: str | None,
    key: str | None,
    timeout: float,
) -> None:
    """The transport schemes this installation knows, what each can do and the URL options it reads;
    with --health, whether each configured transport is up (or, with --server, how a running serve has them)."""
    if server is not None and not health:
        raise click.UsageError("--server goes with --health")
    if health:
        config = config_of(ctx) if server is None else None
        health_check.report(config, server=server, key=key, timeout=timeout, as_json=as_json)
        return
    found = registry.available()
    if as_json:
        out: dict[str, Any] = {}
        for scheme, cls in found.items():
            if isinstance(cls, Exception):
                out[scheme] = {"available": False, "error": str(cls)}
            else:
                out[scheme] = {
                    "available": True,
                    "summary": cls.summary,
                    "capabilities": _capabilities(cls),
                    "options": cls.declared_options.describe() if cls.declared_options else None,
                }
        echo_json(out)
        return
    columns = list(dict.fromkeys(f.column for f in FEATURES))
    # Words, not sentences: wrap headings rather than "unavailable" or "poll 10000".
    table = Table(
        "scheme", Column("status", no_wrap=True), "max batch", *(Column(c, no_wrap=True) for c in columns)
    )
    notes: list[str] = []
    for scheme, cls in found.items():
        if isinstance(cls, Exception):
            table.add_row(scheme, "unavailable", *[""] * (1 + len(columns)))
            notes.append(f"{scheme}: {cls}")
            continue
        caps = _capabilities(cls)
        # A polled transport shows how many ids one poll asks about: "poll 100".
        words: dict[str, list[str]] = {f.column: [] for f in FEATURES}
        for f in FEATURES:
            if caps[f.key]:
                words[f.column].append(f"{f.word} {caps['status_poll']}" if f.key == "polling" else f.word)
        table.add_row(scheme, "ok", str(caps["max_batch"]), *(", ".join(words[c]) or "-" for c in columns))
        notes.append(f"{scheme}: {cls.summary}")
    console = Console()
    console.print(table)
    for note in notes:
        console.print(note, markup=False, highlight=False)
    if show_options:
        for scheme, cls in found.items():
            if not isinstance(cls, Exception):
                console.print(_options_table(scheme, cls.declared_options))


def _capabilities(cls: type[Transport]) -> dict[str, Any]:
    """The sizes a transport declares and, by protocol, what it can do (``adapters.base.FEATURES``)."""
    can = features(cls)
    caps = cls.capabilities
    return {"max_batch": caps.max_batch, "status_poll": caps.status_poll if can["polling"] else 0, **can}


def _options_table(scheme: str, declared: OptionSet | None) -> Table:
    table = Table("option", "type", "range", "default", "meaning", title=f"{scheme}:// options")
    for option in declared or ():
        names = " / ".join((option.name, *option.aliases))
        cells = (names, option.kind.value, option.range_text(), option.default_text(), option.described())
        table.add_row(*(escape(c) for c in cells))
    return table


@click.group()
def text() -> None:
    """Text tools."""


@text.command("info")
@click.argument("message")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def text_info_cmd(message: str, as_json: bool) -> None:
    """Characters, encoding, units and segments the text is sent as."""
    measured = text_info(message)
    parts = split(message, measured.encoding)
    data = {
        "characters": measured.characters,
        "encoding": measured.encoding.value,
        "units": measured.units,
        "segments": measured.segments,
        "per_segment": measured.per_segment,
        "too_long": measured.too_long,
        "parts": parts,
    }
    if as_json:
        echo_json(data)
        return
    unit = {"gsm7": "septets", "ucs2": "UTF-16 units", "latin1": "octets"}[measured.encoding.value]
    click.echo(f"characters  {measured.characters}")
    click.echo(f"encoding    {measured.encoding.value}")
    click.echo(f"units       {measured.units} {unit}")
    click.echo(f"segments    {measured.segments} (up to {measured.per_segment} {unit} each)")


_COMMANDS: tuple[click.Command, ...] = (send, status, campaign, transports, text)


def register(cli: click.Group) -> None:
    for command in _COMMANDS:
        cli.add_command(command)


import msgbridge.cli.export  # noqa: E402, F401  (adds ``campaign export`` to the group above)
