"""``campaign run`` and ``campaign status``: arguments in, the use case run, its outcome printed.

The campaign itself (streaming preparation while sending, resume, strict validation) is
:mod:`msgbridge.dispatch.run`; this module turns options into a RunRequest, shows progress, prints the summary
(or ``--json``) and exits with the codes of :mod:`msgbridge.cli.outcome`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from msgbridge.adapters.base import redact_for
from msgbridge.cli.common import (
    config_of,
    counts_table,
    echo_json,
    err_console,
    existing_store,
    exit_with,
    run_command,
    stats_json,
    store_dsn,
    text_arg,
)
from msgbridge.cli.outcome import ExitCode, Outcome, exit_code, tally
from msgbridge.cli.planview import print_plan
from msgbridge.core.errors import ConfigError
from msgbridge.core.money import amount
from msgbridge.core.phone import PhoneCheck
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.template import check as check_template
from msgbridge.core.terminal import markup, printable
from msgbridge.dispatch.campaign import PrepareReport, first_problems
from msgbridge.dispatch.dispatcher import DispatchStats
from msgbridge.dispatch.plan import Decisions, plan_campaign, plan_via
from msgbridge.dispatch.run import RunRequest, RunResult, run_campaign
from msgbridge.routing.open import open_via
from msgbridge.store.base import CostTotal
from msgbridge.webhooks.worker import configured

SHOW_PROBLEMS = 10
# A template longer than this cannot be an SMS (255 segments of 160 characters is 40,800): refuse a
# --template-file that is larger rather than read it all (``--template-file /dev/zero``).
MAX_TEMPLATE_BYTES = 65_536


@click.group()
def campaign() -> None:
    """Campaigns: a template and a CSV of recipients, resumable."""


class _Bar:
    """The rich progress bar: rows prepared (rows/s), messages sent (msg/s) and receipts.

    Shown from the first prepared chunk on, so input refused at once (a bad header, a strict refusal) is one
    line of error, not a bar. Sending's total grows while the file is still being prepared.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        self.total = 0
        self.preparing: TaskID | None = None
        self.sending: TaskID | None = None
        self.receipts: TaskID | None = None

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _shown(self) -> Progress | None:
        if self.progress is None and self.enabled:
            self.progress = Progress(
                TextColumn("{task.description:>9}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[note]}"),
                console=err_console(),
            )
            self.progress.start()
            self.preparing = self.progress.add_task("preparing", total=None, note="")
        return self.progress

    def prepared(self, report: PrepareReport, to_send: int) -> None:
        self.total = to_send
        progress = self._shown()
        if progress is None or self.preparing is None:
            return
        done = report.rows if report.done else None
        progress.update(self.preparing, completed=report.rows, total=done, note=f"{report.rate:,.0f} rows/s")
        if self.sending is None and to_send > 0:
            self.sending = progress.add_task("sending", total=to_send, note="")
        elif self.sending is not None:
            progress.update(self.sending, total=to_send)

    def sent(self, stats: DispatchStats) -> None:
        progress = self._shown()
        if progress is None:
            return
        if self.sending is None and self.total > 0:
            self.sending = progress.add_task("sending", total=self.total, note="")
        if self.sending is not None:
            rate = stats.done / stats.elapsed if stats.elapsed > 0 else 0.0
            progress.update(self.sending, completed=min(stats.done, self.total), note=f"{rate:,.0f} msg/s")
        if stats.receipts and self.receipts is None and self.total > 0:
            self.receipts = progress.add_task("receipts", total=max(self.total, 1), note="")
        if self.receipts is not None:
            progress.update(
                self.receipts, total=max(self.total, 1), completed=min(stats.receipts_matched, self.total)
            )


def _input_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options ``campaign run`` and ``campaign plan`` share: what is read, and how it is judged."""
    options = [
        click.option(
            "--csv", "csv_path", required=True, type=click.Path(dir_okay=False), help="recipients, one per row"
        ),
        click.option("--template", default=None, help="message text with {column} placeholders"),
        click.option(
            "--template-file", type=click.Path(dir_okay=False), default=None, help="read the template from a file"
        ),
        click.option("--from", "sender", default=None, help="sender id"),
        click.option(
            "--name",
            default=None,
            help="campaign name (default: the CSV file name); re-running a name resumes it",
        ),
        click.option("--phone-column", default="phone", show_default=True),
        click.option("--region", default=None, help="default region for national numbers, e.g. KZ"),
        click.option("--encoding", default="utf-8-sig", show_default=True, help="CSV text encoding"),
        click.option(
            "--phone-check",
            type=click.Choice([c.value for c in PhoneCheck]),
            default=PhoneCheck.STRICT.value,
            show_default=True,
            help="strict: the number is in a range the numbering metadata knows (is_valid_number); "
            "possible: only its length suits the country (ranges newer than the metadata); "
            "none: only a known country code and at most 15 digits",
        ),
        click.option(
            "--allow-multiline",
            is_flag=True,
            help="accept quoted CSV fields that span lines (the SMS gets the line breaks); "
            "without it they are bad rows",
        ),
        click.option(
            "--problems",
            "problems_path",
            type=click.Path(dir_okay=False),
            default=None,
            help="write every skipped and repeated row to this CSV file (the report shows the first ones)",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _plan_options(command: Callable[..., None]) -> Callable[..., None]:
    """What only a plan asks for (``campaign plan``, ``campaign run --dry-run``)."""
    options = [
        click.option(
            "--transliterate",
            is_flag=True,
            help="show what replacing typographic characters and Cyrillic letters by GSM-7 ones would save",
        ),
        click.option(
            "--recipients-csv",
            "recipients_path",
            type=click.Path(dir_okay=False),
            default=None,
            help="write one row per planned message (line, phone, country, route, transport, encoding, "
            "segments, price, currency)",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@campaign.command("run")
@click.option(
    "--via",
    required=True,
    help="transport URL, a configured name, auto (the first matching [[routes]] entry) or route:NAME (that route)",
)
@_input_options
@click.option("--tps", type=float, default=None, help="messages per second, at most")
@click.option("--strict", is_flag=True, help="stop before sending anything if any row is bad")
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
@click.option(
    "--dry-run",
    is_flag=True,
    help="send nothing, write no outbox: print the plan (as campaign plan does) and exit",
)
@_plan_options
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
    problems_path: str | None,
    dry_run: bool,
    transliterate: bool,
    recipients_path: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Send a template to every recipient of a CSV; running it again resumes where it stopped.

    Exit codes (docs/reliability.md): 0 all accepted, 1 some refused/skipped/unsent, 2 bad input,
    3 some in doubt, 4 nothing sent; decided over the whole campaign in the store, not only this run.
    """
    if dry_run:
        ctx.invoke(
            campaign_plan, via=via, csv_path=csv_path, template=template, template_file=template_file,
            sender=sender, name=name, phone_column=phone_column, region=region, encoding=encoding,
            phone_check=phone_check, allow_multiline=allow_multiline, problems_path=problems_path,
            transliterate=transliterate, recipients_path=recipients_path, strict=strict, as_json=as_json,
        )  # fmt: skip
        return
    config = config_of(ctx)
    sender = text_arg("--from", sender)
    name = text_arg("--name", name)
    transport = open_via(config, via)
    text = _template(text_arg("--template", template), template_file)
    check_template(text)
    cname = name or Path(csv_path).stem
    request = RunRequest(
        name=cname,
        template=text,
        csv_path=csv_path,
        transport_label=via if "://" not in via else redact_for(transport, via),
        sender=sender,
        price=Decisions(plan_via(via, config.routing, config.transports)).expected_price,
        tps=tps,
        region=region,
        phone_column=phone_column,
        encoding=encoding,
        strict=strict,
        phone_check=PhoneCheck(phone_check),
        allow_multiline=allow_multiline,
        append=append,
        resend_maybe=resend_maybe,
        wait_receipts=wait_receipts,
        concurrency=concurrency,
        mode=mode,
        problems_path=problems_path,
        options={k: str(v) for k, v in {"tps": tps, "region": region, "mode": mode}.items() if v is not None},
    )

    async def go() -> RunResult:
        with _Bar(not (as_json or quiet)) as bar:
            return await run_campaign(
                store_dsn(ctx, config), transport, request, bar, webhooks=configured(config)
            )

    result = run_command(go(), fast=True)
    report, stats, counts, elsewhere, error = (
        result.report, result.stats, result.counts, result.elsewhere, result.error
    )  # fmt: skip
    if (report.problems or report.repeats) and not as_json:
        _print_problems(report, problems_path)
    resends = transport.resends
    # The campaign's code, unless this run was stopped: then the process says so (130), and so does --json.
    code = (
        ExitCode.INTERRUPTED
        if stats.interrupted
        else exit_code(counts, skipped=report.skipped, elsewhere=elsewhere)
    )
    by = tally(counts)
    if as_json:
        echo_json(
            {
                "campaign": cname,
                "transport": request.transport_label,
                "rows": report.rows,
                "queued": report.queued,
                "already_queued": report.already,
                "repeated": [
                    {"line": r.line, "first_line": r.first_line, "phone": r.phone} for r in report.repeats
                ],
                "repeated_total": report.repeated,
                "segments": report.segments,
                "skipped": [
                    {"line": p.line, "phone": p.phone, "code": p.code.value, "reason": p.reason}
                    for p in report.problems
                ],
                "skipped_total": report.skipped,
                "prepare_seconds": round(report.seconds, 3),
                "dispatch": stats_json(stats, resends),
                "counts": {s.value: n for s, n in counts.items()},
                "totals": {o.name.lower(): n for o, n in by.items()},
                "in_doubt_total": by[Outcome.IN_DOUBT],
                "in_flight_elsewhere": elsewhere,
                "error": f"{error.code.value}: {error}" if error is not None else None,
                "exit_code": int(code),
            }
        )
    else:
        _print_run_summary(cname, request.transport_label, report, stats, resends, counts, code, elsewhere)
    if error is not None:
        click.echo(f"error: {error.code.value}: {printable(error)}", err=True)
    exit_with(code)


@campaign.command("plan")
@click.option(
    "--via",
    default=None,
    help="auto (the first matching route), route:NAME, a configured transport name or a URL "
    "(default: auto when routes are configured)",
)
@_input_options
@_plan_options
@click.option(
    "--strict", is_flag=True, help="exit 2 after the plan if any row is bad (campaign run --strict would refuse)"
)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def campaign_plan(
    ctx: click.Context,
    via: str | None,
    csv_path: str,
    template: str | None,
    template_file: str | None,
    sender: str | None,
    name: str | None,
    phone_column: str,
    region: str | None,
    encoding: str,
    phone_check: str,
    allow_multiline: bool,
    problems_path: str | None,
    transliterate: bool,
    recipients_path: str | None,
    strict: bool,
    as_json: bool,
) -> None:
    """What ``campaign run`` would send, without sending or queuing anything: rows and bad rows, messages,
    segments and price per route, transport and country, and which characters make texts UCS-2."""
    config = config_of(ctx)
    text = _template(text_arg("--template", template), template_file)
    check_template(text)
    request = RunRequest(
        name=text_arg("--name", name) or Path(csv_path).stem, template=text, csv_path=csv_path,
        transport_label=via, sender=text_arg("--from", sender), region=region, phone_column=phone_column,
        encoding=encoding, phone_check=PhoneCheck(phone_check), allow_multiline=allow_multiline,
        problems_path=problems_path,
    )  # fmt: skip
    planned_via = plan_via(via, config.routing, config.transports)
    if recipients_path is None:
        plan = plan_campaign(request, planned_via, transliterate=transliterate)
    else:
        try:
            out = open(recipients_path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"cannot write {recipients_path}: {exc.strerror or exc}") from exc
        with out:
            plan = plan_campaign(request, planned_via, transliterate=transliterate, recipients=out)
    report = plan.report
    if as_json:
        echo_json(plan.to_json())
    else:
        if report.problems or report.repeats:
            _print_problems(report, problems_path)
        print_plan(plan)
    if strict and report.skipped:
        # What the run's strict first pass refuses (validate_rows), said after the plan has been shown.
        raise ConfigError(f"--strict: campaign {report.campaign!r} would not start: {first_problems(report)}")


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
    console.print(counts_table(f"campaign {markup(name)}", counts))
    console.print(f"via {printable(via or '?')}", markup=False, highlight=False, soft_wrap=True)
    rate = stats.done / stats.send_seconds if stats.send_seconds > 0 else 0.0
    repeated = f"{report.repeated:,} repeated in the file, " if report.repeated else ""
    console.print(
        f"rows {report.rows:,}: {report.queued:,} queued now, {report.already:,} from before, "
        f"{repeated}{report.skipped:,} skipped.",
        soft_wrap=True,
    )
    console.print(
        f"this run: {stats.submitted:,} accepted, {stats.failed:,} refused, {stats.retried + resends:,} retries, "
        f"{stats.in_doubt:,} in doubt; prepared in {report.seconds:.2f} s ({report.rate:,.0f} rows/s), "
        f"sent in {stats.send_seconds:.2f} s ({rate:,.0f} msg/s); "
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


def _print_problems(report: PrepareReport, problems_path: str | None) -> None:
    """The first SHOW_PROBLEMS bad rows and repeats, and how many more the problems file holds."""
    console = err_console()
    where = markup(problems_path or "--problems FILE")
    shown: tuple[tuple[str, Sequence[object], int, str], ...] = (
        ("skipped", report.problems, report.skipped, "skipped rows"),
        ("repeated", report.repeats, report.repeated, "repeated phones"),
    )
    for word, items, total, what in shown:
        for item in items[:SHOW_PROBLEMS]:
            console.print(f"{word} {printable(item)}", style="yellow", markup=False, highlight=False)
        if total > SHOW_PROBLEMS:
            console.print(f"... and {total - SHOW_PROBLEMS:,} more {what} (see {where})", style="yellow")


def cost_table(costs: Sequence[CostTotal]) -> Table:
    """Expected price and actual cost per currency, each with how many messages it covers (a provider
    that reports nothing leaves its messages out of the cost, which is not a cost of 0)."""
    table = Table("currency", "expected price", "messages", "actual cost", "messages", title="price and cost")
    for t in costs:
        table.add_row(
            markup(t.currency),
            amount(t.price) if t.priced else "-",
            f"{t.priced:,}",
            amount(t.cost) if t.costed else "-",
            f"{t.costed:,}",
        )
    return table


@campaign.command("status")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def campaign_status(ctx: click.Context, name: str, as_json: bool) -> None:
    """Counts by delivery status for one campaign."""
    config = config_of(ctx)

    async def go() -> tuple[Any, dict[DeliveryStatus, int], list[CostTotal]]:
        async with existing_store(store_dsn(ctx, config)) as store:
            return await store.get_campaign(name), await store.counts(name), await store.cost_totals(name)

    record, counts, costs = run_command(go())
    if record is None:
        raise ConfigError(f"no campaign named {name!r} in this store")
    if as_json:
        echo_json(
            {
                "campaign": record.name,
                "template": record.template,
                "sender": record.sender,
                "transport": record.transport,
                "created_at": record.created_at,
                "options": record.options,
                "counts": {s.value: n for s, n in counts.items()},
                "costs": [t.as_json() for t in costs],
            }
        )
        return
    console = Console()
    console.print(counts_table(f"campaign {markup(record.name)}", counts))
    if costs:
        console.print(cost_table(costs))
    console.print(f"via {printable(record.transport or '?')}", markup=False, highlight=False, soft_wrap=True)
