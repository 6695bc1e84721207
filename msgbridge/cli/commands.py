"""The everyday commands: send, status, campaign run/status, transports, text info.

Each command has ``--json`` for scripts. What a user can fix (bad URL, bad
CSV, unknown name) is raised as a MessagingError and printed by ``main`` as
one line with a non-zero exit; transport URLs are only ever printed redacted.
``send`` and ``campaign run`` exit with the codes of :mod:`msgbridge.cli.outcome`,
decided from what the store holds once they are done.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from msgbridge.adapters.base import FEATURES, Transport, features, open_transport, redact_for, registry
from msgbridge.cli.outcome import ExitCode, Outcome, exit_code, tally
from msgbridge.config import Config, load_config
from msgbridge.core.encoding import info as text_info
from msgbridge.core.encoding import split
from msgbridge.core.errors import ConfigError, ErrorCode, MessagingError
from msgbridge.core.message import Campaign, Message
from msgbridge.core.options import OptionSet
from msgbridge.core.phone import PhoneCheck, normalize
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.template import check as check_template
from msgbridge.core.terminal import json_text, markup, printable
from msgbridge.dispatch.campaign import PrepareReport, prepare_campaign, recipients_from_csv
from msgbridge.dispatch.csvsource import read_csv
from msgbridge.dispatch.dispatcher import Dispatcher, DispatchStats
from msgbridge.store import StoreError, open_store
from msgbridge.store.base import MessageRecord, OutboxEntry, Store

T = TypeVar("T")

SHOW_PROBLEMS = 10
# A template longer than this cannot be an SMS (255 segments of 160 characters is 40,800): refuse a
# --template-file that is larger rather than read it all (``--template-file /dev/zero``).
MAX_TEMPLATE_BYTES = 65_536


# -- plumbing ---------------------------------------------------------------


def _config(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj or {}
    _logging(int(obj.get("verbose") or 0))
    return load_config(obj.get("config_path"))


def _logging(verbose: int) -> None:
    """``-v`` shows what the dispatcher and transports log at INFO, ``-vv`` at DEBUG; warnings always."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _store_dsn(ctx: click.Context, config: Config) -> str:
    obj = ctx.find_root().obj or {}
    return str(obj.get("store_dsn") or config.store)


def _run(coro: Awaitable[T], *, fast: bool = False) -> T:
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


def _text_arg(option: str, value: str | None) -> str | None:
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


def _bad_input(exc: MessagingError) -> bool:
    """Errors that mean "fix the command", as opposed to a peer that could not be used."""
    return exc.code is ErrorCode.INVALID_ARGUMENT


def _exit(code: ExitCode) -> None:
    if code is not ExitCode.OK:
        sys.exit(int(code))


def _existing_store(dsn: str) -> Store:
    """For read-only commands: do not create an empty store by looking."""
    if "://" not in dsn or dsn.startswith("sqlite:///"):
        path = dsn.removeprefix("sqlite:///")
        if not Path(path).is_file():
            raise ConfigError(
                f"no store at {path} (nothing has been sent with it yet; choose one with --store)"
            )
    return open_store(dsn)


def _echo_json(data: object) -> None:
    click.echo(json_text(json.dumps(data, indent=2, default=str, ensure_ascii=False)))


def _err_console() -> Console:
    return Console(stderr=True)


def _record_json(rec: MessageRecord) -> dict[str, Any]:
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
    }


def _stats_json(stats: DispatchStats, resends: int) -> dict[str, Any]:
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


def _counts_table(title: str, counts: dict[DeliveryStatus, int]) -> Table:
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


# -- send / status ------------------------------------------------------------


@click.command()
@click.option(
    "--via", required=True, help="transport URL, or a name from msgbridge.toml / MSGBRIDGE_TRANSPORT_<NAME>"
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
    config = _config(ctx)
    to = _text_arg("--to", to) or ""
    text = _text_arg("--text", text) or ""
    sender = _text_arg("--from", sender)
    reference = _text_arg("--reference", reference)
    if not text.strip():
        raise ConfigError("--text is empty: there is nothing to send")
    transport = open_transport(config.resolve_via(via))
    message = Message(to=normalize(to, region), text=text, sender=sender, reference=reference)
    key = f"ref:{reference}" if reference else f"send:{message.id}"

    async def go() -> tuple[MessageRecord, MessagingError | None]:
        error: MessagingError | None = None
        async with open_store(_store_dsn(ctx, config)) as store:
            [mid] = await store.enqueue([OutboxEntry(message=message, idempotency_key=key)])
            dispatcher = Dispatcher(store, transport)
            try:
                async with transport:
                    try:
                        await dispatcher.run(None, wait_receipts=wait, message_ids=[mid])
                    finally:
                        await dispatcher.close_transport()
            except MessagingError as exc:
                # Reported as failed, so it is failed, unless a reference names it for a retry.
                await dispatcher.fail_unsent([mid], exc.info, keep=reference is not None and exc.code.retryable)
                if _bad_input(exc):
                    raise
                error = exc
            rec = await store.get(mid)
            assert rec is not None
            return rec, error

    rec, error = _run(go())
    code = exit_code({rec.status: 1})
    failed = code is not ExitCode.OK
    if as_json:
        _echo_json({**_record_json(rec), "ok": not failed, "exit_code": int(code)})
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
    _exit(code)


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
    config = _config(ctx)

    async def go() -> MessageRecord | None:
        async with _existing_store(_store_dsn(ctx, config)) as store:
            return await store.get(message_id) or await store.find_by_reference(message_id)

    rec = _run(go())
    if rec is None:
        raise ConfigError(f"no message with id or reference {message_id!r}")
    if as_json:
        _echo_json(_record_json(rec))
        return
    console = Console()
    console.print(
        f"[bold]{markup(rec.message.id)}[/] to {markup(rec.message.to)}: [bold]{rec.status.value}[/]"
    )
    console.print(
        f"native id {markup(rec.native_id or '-')}  link {markup(rec.link or '-')}  segments {rec.segments}  attempts {rec.attempts}"
    )
    if rec.last_error is not None:
        console.print(f"last error {markup(rec.last_error)}")
    table = Table("time (UTC)", "status", "note")
    for at, st, note in rec.history:
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)), st.value, markup(note))
    console.print(table)


# -- campaigns ----------------------------------------------------------------


@click.group()
def campaign() -> None:
    """Campaigns: a template and a CSV of recipients, resumable."""


class _Bar:
    """The rich progress bar fed by the dispatcher's progress callback."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.sending: TaskID | None = None
        self.receipts: TaskID | None = None
        if progress is not None and total > 0:
            self.sending = progress.add_task("sending", total=total)

    def __call__(self, stats: DispatchStats) -> None:
        if self.progress is None:
            return
        if self.sending is not None:
            self.progress.update(self.sending, completed=min(stats.done, self.total))
        if stats.receipts and self.receipts is None and self.total > 0:
            self.receipts = self.progress.add_task("receipts", total=max(self.total, 1))
        if self.receipts is not None:
            self.progress.update(self.receipts, completed=min(stats.receipts_matched, self.total))


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    progress = Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err_console(),
    )
    with progress:
        yield progress


@campaign.command("run")
@click.option("--via", required=True, help="transport URL, or a configured name")
@click.option(
    "--csv", "csv_path", required=True, type=click.Path(dir_okay=False), help="recipients, one per row"
)
@click.option("--template", default=None, help="message text with {column} placeholders")
@click.option(
    "--template-file", type=click.Path(dir_okay=False), default=None, help="read the template from a file"
)
@click.option("--from", "sender", default=None, help="sender id")
@click.option(
    "--name", default=None, help="campaign name (default: the CSV file name); re-running a name resumes it"
)
@click.option("--tps", type=float, default=None, help="messages per second, at most")
@click.option("--phone-column", default="phone", show_default=True)
@click.option("--region", default=None, help="default region for national numbers, e.g. KZ")
@click.option("--encoding", default="utf-8-sig", show_default=True, help="CSV text encoding")
@click.option("--strict", is_flag=True, help="stop before sending anything if any row is bad")
@click.option(
    "--phone-check",
    type=click.Choice([c.value for c in PhoneCheck]),
    default=PhoneCheck.STRICT.value,
    show_default=True,
    help="strict: the number is in a range the numbering metadata knows (is_valid_number); "
    "possible: only its length suits the country (ranges newer than the metadata); "
    "none: only a known country code and at most 15 digits",
)
@click.option(
    "--allow-multiline",
    is_flag=True,
    help="accept quoted CSV fields that span lines (the SMS gets the line breaks); without it they are bad rows",
)
@click.option(
    "--append",
    is_flag=True,
    help="add these recipients to an existing campaign of this name even if its template, sender or transport differ",
)
@click.option(
    "--resend-maybe", is_flag=True, help="resend messages an earlier run may have sent (no answer seen)"
)
@click.option(
    "--wait-receipts", type=float, default=0.0, show_default=True, help="seconds to wait for receipts"
)
@click.option("--concurrency", type=int, default=4, show_default=True, help="requests in flight")
@click.option(
    "--mode",
    type=click.Choice(["messages", "provider"]),
    default="messages",
    show_default=True,
    help="provider: use the provider's campaign API where the transport has one",
)
@click.option("--json", "as_json", is_flag=True, help="print JSON (no progress bar)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.pass_context
def campaign_run(
    ctx: click.Context,
    via: str,
    csv_path: str,
    template: str | None,
    template_file: str | None,
    sender: str | None,
    name: str | None,
    tps: float | None,
    phone_column: str,
    region: str | None,
    encoding: str,
    strict: bool,
    phone_check: str,
    allow_multiline: bool,
    append: bool,
    resend_maybe: bool,
    wait_receipts: float,
    concurrency: int,
    mode: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Send a template to every recipient of a CSV; running it again resumes where it stopped.

    Exit codes (docs/reliability.md): 0 all accepted, 1 some refused/skipped/unsent, 2 bad input,
    3 some in doubt, 4 nothing sent; decided over the whole campaign in the store, not only this run.
    """
    config = _config(ctx)
    sender = _text_arg("--from", sender)
    name = _text_arg("--name", name)
    url = config.resolve_via(via)
    transport = open_transport(url)
    text = _template(_text_arg("--template", template), template_file)
    check_template(text)
    data = read_csv(csv_path, phone_column=phone_column, encoding=encoding, allow_multiline=allow_multiline)
    recipients, bad_rows = recipients_from_csv(data)
    cname = name or Path(csv_path).stem
    model = Campaign(
        name=cname,
        template=text,
        recipients=tuple(recipients),
        sender=sender,
        transport=via if "://" not in via else redact_for(transport, url),
        options={k: str(v) for k, v in {"tps": tps, "region": region, "mode": mode}.items() if v is not None},
    )
    show_bar = not (as_json or quiet)

    async def go() -> tuple[PrepareReport, DispatchStats, dict[DeliveryStatus, int], int, MessagingError | None]:
        error: MessagingError | None = None
        async with open_store(_store_dsn(ctx, config)) as store:
            report = await prepare_campaign(
                store,
                model,
                region=region,
                strict=strict,
                extra_problems=bad_rows,
                append=append,
                phone_check=PhoneCheck(phone_check),
            )
            if (report.problems or report.repeats) and not as_json:
                _print_problems(report)
            # What preparation built (recipients, messages, the store's cache of them) lives until the
            # command ends: keep the collector from rescanning it on every full collection while sending.
            gc.freeze()
            counts = await store.counts(cname)
            todo = counts.get(DeliveryStatus.QUEUED, 0) + counts.get(DeliveryStatus.MAYBE_SUBMITTED, 0)
            with _progress(show_bar) as progress:
                bar = _Bar(progress, todo)
                dispatcher = Dispatcher(store, transport, tps=tps, concurrency=concurrency, progress=bar)
                try:
                    async with transport:
                        try:
                            if mode == "provider":
                                dispatcher.start_receipts()
                                await dispatcher.send_provider_campaign(model)
                                if wait_receipts > 0:
                                    await dispatcher.collect_receipts(wait_receipts, campaign=cname)
                            else:
                                with dispatcher.stop_on_signals():
                                    await dispatcher.run(
                                        cname, wait_receipts=wait_receipts, include_maybe=resend_maybe
                                    )
                        finally:
                            await dispatcher.close_transport()
                except MessagingError as exc:
                    # The peer could not be used (login refused, unreachable): what was sent before is in the
                    # store, and the exit code says what the campaign as a whole has come to.
                    if _bad_input(exc):
                        raise
                    error = exc
            return report, dispatcher.stats, await store.counts(cname), await store.held_elsewhere(cname), error

    report, stats, counts, elsewhere, error = _run(go(), fast=True)
    resends = transport.resends
    # The campaign's code, unless this run was stopped: then the process says so (130), and so does --json.
    code = ExitCode.INTERRUPTED if stats.interrupted else exit_code(counts, skipped=report.skipped, elsewhere=elsewhere)
    by = tally(counts)
    if as_json:
        _echo_json(
            {
                "campaign": cname,
                "transport": model.transport,
                "rows": report.rows,
                "queued": report.queued,
                "already_queued": report.already,
                "repeated": [
                    {"line": r.line, "first_line": r.first_line, "phone": r.phone} for r in report.repeats
                ],
                "segments": report.segments,
                "skipped": [
                    {"line": p.line, "phone": p.phone, "code": p.code.value, "reason": p.reason}
                    for p in report.problems
                ],
                "dispatch": _stats_json(stats, resends),
                "counts": {s.value: n for s, n in counts.items()},
                "totals": {o.name.lower(): n for o, n in by.items()},
                "in_doubt_total": by[Outcome.IN_DOUBT],
                "in_flight_elsewhere": elsewhere,
                "error": f"{error.code.value}: {error}" if error is not None else None,
                "exit_code": int(code),
            }
        )
    else:
        _print_run_summary(cname, model.transport, report, stats, resends, counts, code, elsewhere)
    if error is not None:
        click.echo(f"error: {error.code.value}: {printable(error)}", err=True)
    _exit(code)


def _print_run_summary(
    name: str,
    via: str | None,
    report: PrepareReport,
    stats: DispatchStats,
    resends: int,
    counts: dict[DeliveryStatus, int],
    code: ExitCode,
    elsewhere: int = 0,
) -> None:
    """What ``campaign run`` says without ``--json``: the campaign's counts, this run, what is left to do."""
    by = tally(counts)
    console = Console()
    console.print(_counts_table(f"campaign {markup(name)}", counts))
    console.print(f"via {printable(via or '?')}", markup=False, highlight=False, soft_wrap=True)
    rate = stats.done / stats.send_seconds if stats.send_seconds > 0 else 0.0
    repeated = f"{len(report.repeats):,} repeated in the file, " if report.repeats else ""
    console.print(
        f"rows {report.rows:,}: {report.queued:,} queued now, {report.already:,} from before, "
        f"{repeated}{report.skipped:,} skipped.",
        soft_wrap=True,
    )
    console.print(
        f"this run: {stats.submitted:,} accepted, {stats.failed:,} refused, {stats.retried + resends:,} retries, "
        f"{stats.in_doubt:,} in doubt; sent in {stats.send_seconds:.2f} s ({rate:,.0f} msg/s); "
        f"{stats.receipts_matched:,} receipts by {stats.elapsed:.2f} s.",
        soft_wrap=True,
    )
    console.print(
        "campaign total: " + ", ".join(f"{n:,} {o.value}" for o, n in by.items()) + f" (exit {int(code)}).",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    maybe = by[Outcome.IN_DOUBT]
    if maybe:
        console.print(
            f"{maybe:,} messages in doubt in total (this run and earlier ones): they may have been sent "
            f"without an answer; they are not resent unless you run again with --resend-maybe "
            f"(which may send some twice).",
            soft_wrap=True,
        )
    if elsewhere:
        console.print(
            f"{elsewhere:,} queued messages are claimed by another run of this campaign that is still live: "
            f"it sends them (they are not resent from here).",
            soft_wrap=True,
        )
    if stats.interrupted:
        console.print(
            f"interrupted: {stats.released:,} claimed but never written went back to the queue; "
            f"{counts.get(DeliveryStatus.QUEUED, 0):,} wait for this campaign to be run again.",
            soft_wrap=True,
        )


def _template(template: str | None, template_file: str | None) -> str:
    if (template is None) == (template_file is None):
        raise ConfigError("give exactly one of --template TEXT or --template-file FILE")
    if template is not None:
        return template
    assert template_file is not None
    try:
        with open(template_file, "rb") as f:
            data = f.read(MAX_TEMPLATE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read template file {template_file}: {exc.strerror or exc}") from exc
    if len(data) > MAX_TEMPLATE_BYTES:
        raise ConfigError(
            f"template file {template_file} is larger than {MAX_TEMPLATE_BYTES:,} bytes; no SMS is that long"
        )
    try:
        return data.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"template file {template_file} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc


def _print_problems(report: PrepareReport) -> None:
    console = _err_console()
    for problem in report.problems[:SHOW_PROBLEMS]:
        console.print(f"skipped {printable(problem)}", style="yellow", markup=False, highlight=False)
    if report.skipped > SHOW_PROBLEMS:
        console.print(
            f"... and {report.skipped - SHOW_PROBLEMS} more skipped rows (see --json)", style="yellow"
        )
    for repeat in report.repeats[:SHOW_PROBLEMS]:
        console.print(f"repeated {repeat}", style="yellow", markup=False, highlight=False)
    if len(report.repeats) > SHOW_PROBLEMS:
        console.print(
            f"... and {len(report.repeats) - SHOW_PROBLEMS} more repeated phones (see --json)", style="yellow"
        )


@campaign.command("status")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def campaign_status(ctx: click.Context, name: str, as_json: bool) -> None:
    """Counts by delivery status for one campaign."""
    config = _config(ctx)

    async def go() -> tuple[Any, dict[DeliveryStatus, int]]:
        async with _existing_store(_store_dsn(ctx, config)) as store:
            return await store.get_campaign(name), await store.counts(name)

    record, counts = _run(go())
    if record is None:
        raise ConfigError(f"no campaign named {name!r} in this store")
    if as_json:
        _echo_json(
            {
                "campaign": record.name,
                "template": record.template,
                "sender": record.sender,
                "transport": record.transport,
                "created_at": record.created_at,
                "options": record.options,
                "counts": {s.value: n for s, n in counts.items()},
            }
        )
        return
    console = Console()
    console.print(_counts_table(f"campaign {markup(record.name)}", counts))
    console.print(f"via {printable(record.transport or '?')}", markup=False, highlight=False, soft_wrap=True)


# -- transports / text ---------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--options", "show_options", is_flag=True, help="also list each transport's URL options")
def transports(as_json: bool, show_options: bool) -> None:
    """The transport schemes this installation knows, what each can do and the URL options it reads."""
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
        _echo_json(out)
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
        _echo_json(data)
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
