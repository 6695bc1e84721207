"""Turning a campaign (template + recipients) into queued messages, a chunk at a time.

Recipient rows stream through: each chunk is validated (phone normalised to
E.164), rendered, measured and written to the outbox before the next is read,
so nothing holds every recipient and sending can begin while the rest is
prepared. Rows that cannot be sent are reported with their CSV line and
skipped; the report keeps counts and the first KEEP_PROBLEMS of them, and a
ProblemSink takes every one. Strict mode validates every row in a first pass
and refuses before anything is queued.

The idempotency key is ``campaign + E.164``, so preparing the same campaign
again (a re-run after a crash) queues nothing twice. A phone repeated within
the file is sent once and reported as a repeat of its first line, without a
map of every phone: within a chunk a dict of that chunk's phones tells; across
chunks the store's key says "already queued", and the CSV line stored with
the queued row (``Store.csv_rows``) tells a repeat (an earlier line of this
file) from a row an earlier run queued (its own line, or none). The one case
this reads wrong is ``--append`` of another file whose earlier line held the
same phone: reported as a repeat rather than "from before"; it is sent once
either way.

Because a re-run resumes by name, a name that already belongs to a campaign
with another template, sender or transport would quietly send nothing new
(every recipient is "already queued"): that is refused, naming what differs,
unless the caller asks to append to the existing campaign.
"""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, NamedTuple
from urllib.parse import urlsplit

from msgbridge.core.callbacks import RowCallbacks
from msgbridge.core.encoding import TextInfo
from msgbridge.core.errors import ConfigError, ErrorCode, MessagingError
from msgbridge.core.message import CALLBACK, Campaign, Message, new_id
from msgbridge.core.phone import PhoneCheck, normalize
from msgbridge.core.sendable import check_text
from msgbridge.core.template import check, render
from msgbridge.dispatch.csvsource import CsvData
from msgbridge.dispatch.heap import fewer_collections
from msgbridge.store.base import CampaignRecord, OutboxEntry, Store

ENQUEUE_CHUNK = 1000
KEEP_PROBLEMS = 1000  # bad rows and repeats a report holds; the rest are counted (and go to a ProblemSink)

# One recipient as preparation reads it: CSV line (None for recipients given without one), phone as
# written, fields, and the problem of a malformed record (None when it is well formed).
Row = tuple[int | None, str, Mapping[str, str], str | None]
# A row ready for the outbox: its entry, the text's encoding and its segments.
Prepared = tuple[OutboxEntry, str, int]
# A chunk as it is written: rows read, the prepared ones, the bad ones, the repeats within it.
BuiltChunk = tuple[int, list["Prepared"], list["RowProblem"], list["RowRepeat"]]
# A message's expected price from the message and its segments: (micros for all of them, currency), or None
# where nothing is known. Called in this process just before the write (chunks built in a child process
# too), so it may be any callable, e.g. one over ``msgbridge.routing.prices.Prices``.
PriceHook = Callable[[Message, int], tuple[int, str] | None]


@dataclass(frozen=True)
class RowProblem:
    line: int | None
    phone: str
    code: ErrorCode
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "recipient"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class RowRepeat:
    line: int | None
    first_line: int | None
    phone: str  # E.164

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "recipient"
        first = f"line {self.first_line}" if self.first_line is not None else "an earlier recipient"
        return f"{where}: {self.phone} is already on {first}; sent once"


class ProblemSink:
    """Every bad row and repeat, as CSV (line, phone, kind, code, reason), for ``--problems FILE``."""

    HEADER = ("line", "phone", "kind", "code", "reason")

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out)
        self._writer.writerow(self.HEADER)

    def problem(self, p: RowProblem) -> None:
        self._writer.writerow(
            (p.line if p.line is not None else "", p.phone, "skipped", p.code.value, p.reason)
        )

    def repeat(self, r: RowRepeat) -> None:
        first = f"line {r.first_line}" if r.first_line is not None else "an earlier recipient"
        line = r.line if r.line is not None else ""
        self._writer.writerow((line, r.phone, "repeated", "", f"already on {first}; sent once"))


@dataclass
class PrepareReport:
    campaign: str
    rows: int = 0
    queued: int = 0  # newly written to the outbox
    already: int = 0  # in the outbox from an earlier run: not queued again
    segments: int = 0  # over the newly queued messages
    encodings: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # bad rows, all of them
    repeated: int = 0  # same phone as an earlier line of this file, all of them
    problems: list[RowProblem] = field(default_factory=list)  # the first KEEP_PROBLEMS bad rows
    repeats: list[RowRepeat] = field(default_factory=list)  # the first KEEP_PROBLEMS repeats
    seconds: float = 0.0  # spent preparing (both passes in strict mode)
    done: bool = False  # every row has been read
    sink: ProblemSink | None = field(default=None, repr=False, compare=False)

    def add_problem(self, problem: RowProblem) -> None:
        self.skipped += 1
        if len(self.problems) < KEEP_PROBLEMS:
            self.problems.append(problem)
        if self.sink is not None:
            self.sink.problem(problem)

    def add_repeat(self, repeat: RowRepeat) -> None:
        self.repeated += 1
        if len(self.repeats) < KEEP_PROBLEMS:
            self.repeats.append(repeat)
        if self.sink is not None:
            self.sink.repeat(repeat)

    @property
    def rate(self) -> float:
        """Rows prepared per second."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def message_ids(n: int) -> list[str]:
    """``n`` ids of ``core.message.new_id``'s form (creation time in ns, hex, then 12 random hex digits),
    with one read of the random source for all of them: uuid4 per message was a fifth of preparing one."""
    noise = os.urandom(6 * n).hex()
    return [f"{time.time_ns():x}{noise[12 * i : 12 * i + 12]}" for i in range(n)]


class Judged(NamedTuple):
    """A row that can be sent, before it becomes a Message: what a plan or a strict first pass needs, and
    what a child process sends its parent (building the pydantic Message costs about twice the rendering)."""

    line: int | None
    to: str  # E.164
    text: str
    measured: TextInfo
    callback: str | None  # the row's callback target (a service's campaign), else None


def judge_row(
    campaign: Campaign,
    row: Row,
    *,
    region: str | None,
    phone_check: PhoneCheck,
    callbacks: RowCallbacks | None = None,
) -> Judged | RowProblem:
    """The judged row (E.164, text, measured text), or why it cannot be sent.

    A row is judged on its own (phone, text): whether its phone repeats an earlier row is decided after,
    so a strict validation pass (which has no store to ask) finds exactly the problems the writing pass does.
    With ``callbacks`` (a service's campaign) each message carries a callback target: the row's own
    ``callback_url`` column, else the campaign's.
    """
    line, phone, fields, malformed = row
    if malformed is not None:
        return RowProblem(line, phone, ErrorCode.INVALID_ARGUMENT, malformed)
    target = None
    if callbacks is not None:
        target, why = callbacks.target(fields)
        if why is not None:
            return RowProblem(line, phone, ErrorCode.INVALID_ARGUMENT, why)
    try:
        e164 = normalize(phone, region, phone_check)
        text = render(campaign.template, {**fields, "phone": e164}, row=line)
        measured = check_text(text, empty="the text is empty once the template is filled in")
    except MessagingError as exc:
        reason = str(exc)
        if line is not None:
            reason = reason.removeprefix(f"row {line}: ")
        return RowProblem(line, phone, exc.code, reason)
    return Judged(line, e164, text, measured, target)


def message_of(campaign: Campaign, judged: Judged, message_id: str | None = None) -> Message:
    """The campaign's message for a judged row."""
    metadata = {CALLBACK: judged.callback} if judged.callback is not None else {}
    return Message(
        id=message_id or new_id(), to=judged.to, text=judged.text, sender=campaign.sender,
        campaign=campaign.name, metadata=metadata,
    )  # fmt: skip


def idempotency_key(campaign: str, e164: str, prefix: str = "") -> str:
    """A campaign message's outbox key: one per campaign and recipient, so a re-run queues nothing twice.
    ``prefix``: a service's campaigns are ``api:<transport>:c:<campaign>:<e164>``."""
    return f"{prefix}{campaign}:{e164}"


def judge_chunk(
    campaign: Campaign,
    rows: Iterable[Row],
    *,
    region: str | None = None,
    phone_check: PhoneCheck = PhoneCheck.STRICT,
    callbacks: RowCallbacks | None = None,
) -> tuple[list[Judged], list[RowProblem], list[RowRepeat]]:
    """Each sendable row judged, a problem for each other one, and the repeats among them.

    Only a row that can be sent makes a later one with its phone a repeat.
    """
    out: list[Judged] = []
    problems: list[RowProblem] = []
    repeats: list[RowRepeat] = []
    first_row: dict[str, int | None] = {}
    for row in rows:
        judged = judge_row(campaign, row, region=region, phone_check=phone_check, callbacks=callbacks)
        if isinstance(judged, RowProblem):
            problems.append(judged)
            continue
        to = judged.to
        if to in first_row:
            repeats.append(RowRepeat(row[0], first_row[to], to))
            continue
        first_row[to] = row[0]
        out.append(judged)
    return out, problems, repeats


def build_chunk(
    campaign: Campaign,
    rows: Iterable[Row],
    *,
    region: str | None = None,
    phone_check: PhoneCheck = PhoneCheck.STRICT,
    key_prefix: str = "",
    callbacks: RowCallbacks | None = None,
) -> tuple[list[tuple[OutboxEntry, TextInfo]], list[RowProblem], list[RowRepeat]]:
    """(entry, measured text) for each sendable row (``judge_chunk``'s, made messages), a problem for each
    other one, and the repeats among them. ``key_prefix`` goes in front of every idempotency key (a
    service's lane claims its campaigns by that prefix)."""
    judged, problems, repeats = judge_chunk(
        campaign, rows, region=region, phone_check=phone_check, callbacks=callbacks
    )
    name = campaign.name
    out = [
        (OutboxEntry(message_of(campaign, j, mid), idempotency_key(name, j.to, key_prefix), j.line), j.measured)
        for j, mid in zip(judged, message_ids(len(judged)), strict=True)
    ]
    return out, problems, repeats


def rows_of(data: CsvData) -> Iterable[Row]:
    """The recipient rows of a CSV file: one per record, malformed ones with their problem."""
    column = data.phone_column
    for r in data.rows:
        yield r.line, r.fields.get(column, ""), r.fields, r.problem


def recipient_rows(campaign: Campaign) -> Iterable[Row]:
    """The rows of a campaign whose recipients are given in memory (an API caller's, a test's)."""
    for rec in campaign.recipients:
        yield rec.row, rec.phone, rec.fields, None


def build_messages(
    campaign: Campaign,
    *,
    region: str | None = None,
    repeats: list[RowRepeat] | None = None,
    phone_check: PhoneCheck = PhoneCheck.STRICT,
) -> tuple[list[tuple[OutboxEntry, TextInfo]], list[RowProblem]]:
    """(entry, encoding) for each sendable recipient of an in-memory campaign, and a problem for each other.

    A recipient whose phone an earlier one already has is left out and added to ``repeats``.
    """
    built, problems, found = build_chunk(
        campaign, recipient_rows(campaign), region=region, phone_check=phone_check
    )
    if repeats is not None:
        repeats.extend(found)
    return built, problems


def transport_identity(transport: str | None) -> str | None:
    """What names the peer in a stored transport: scheme://host:port of a URL, or the configured name.

    Options (window, tps, a journal path) may change between a run and its resume; credentials are never
    compared or printed (the stored form is redacted anyway).
    """
    if transport is None or "://" not in transport:
        return transport
    try:
        parts = urlsplit(transport)
        port = parts.port
    except ValueError:
        return transport.split("://", 1)[0] + "://?"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def differences(existing: CampaignRecord, campaign: Campaign) -> list[tuple[str, object, object]]:
    """(what, before, now) for each way ``campaign`` differs from the stored campaign of the same name."""
    out: list[tuple[str, object, object]] = []
    if existing.template != campaign.template:
        out.append(("template", existing.template, campaign.template))
    if (existing.sender or None) != (campaign.sender or None):
        out.append(("sender", existing.sender, campaign.sender))
    before, now = transport_identity(existing.transport), transport_identity(campaign.transport)
    if before is not None and before != now:
        out.append(("transport", before, now))
    return out


def _shown(value: object) -> str:
    return "none" if value is None else repr(value)


async def check_name(store: Store, campaign: Campaign) -> None:
    """Refuse to resume a campaign name with another template, sender or transport."""
    existing = await store.get_campaign(campaign.name)
    if existing is None:
        return
    changed = differences(existing, campaign)
    if changed:
        what = " and ".join(w for w, _, _ in changed)
        shown = [f"was {_shown(b)}, now {_shown(n)}" for _, b, n in changed]
        detail = (
            shown[0]
            if len(shown) == 1
            else "; ".join(f"{w} {d}" for (w, _, _), d in zip(changed, shown, strict=True))
        )
        raise ConfigError(
            f"campaign {campaign.name!r} already exists with a different {what} ({detail}); "
            f"give this one its own --name, or pass --append to add these recipients to {campaign.name!r} "
            f"(those it has already are not sent again)"
        )


def chunks(rows: Iterable[Row], size: int) -> Iterable[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def validate_rows(
    campaign: Campaign,
    rows: Iterable[Row],
    report: PrepareReport,
    *,
    region: str | None = None,
    phone_check: PhoneCheck = PhoneCheck.STRICT,
    callbacks: RowCallbacks | None = None,
) -> None:
    """Strict mode's first pass: every row judged, nothing written; raises if any cannot be sent."""
    check(campaign.template)
    started = time.monotonic()
    for row in rows:
        judged = judge_row(campaign, row, region=region, phone_check=phone_check, callbacks=callbacks)
        if isinstance(judged, RowProblem):
            report.add_problem(judged)
    report.seconds += time.monotonic() - started
    if report.skipped:
        raise ConfigError(f"campaign {campaign.name!r} not started: {first_problems(report)}")


def first_problems(report: PrepareReport) -> str:
    """The first bad row and how many more: what a strict refusal names."""
    more = f" (and {report.skipped - 1} more)" if report.skipped > 1 else ""
    return f"{report.problems[0]}{more}"


async def write_rows(
    store: Store,
    campaign: Campaign,
    rows: Iterable[Row],
    report: PrepareReport,
    *,
    region: str | None = None,
    phone_check: PhoneCheck = PhoneCheck.STRICT,
    chunk_size: int = ENQUEUE_CHUNK,
    progress: Callable[[PrepareReport], None] | None = None,
    stopping: Callable[[], bool] | None = None,
    pace: Callable[[PrepareReport], Awaitable[None]] | None = None,
    key_prefix: str = "",
    built: AsyncIterable[BuiltChunk] | None = None,
    callbacks: RowCallbacks | None = None,
    price: PriceHook | None = None,
) -> None:
    """Write the campaign and its rows to the outbox, a chunk at a time (the writing pass).

    ``built``: the chunks of ``rows`` as ``build_chunk`` made them elsewhere (prepworker.py), to be
    written as they come instead of building them here.

    The campaign record is written with the first chunk, so a file with no data line leaves no campaign.
    Between chunks ``pace`` is awaited (a dispatcher claims what is queued meanwhile; it may hold the
    producer back so that it runs only so far ahead); ``stopping`` ends it early. ``key_prefix`` goes in
    front of every idempotency key: a service's campaigns are ``api:<transport>:c:<campaign>:<e164>``.
    ``price`` gives each message the expected price it is queued with (``OutboxEntry.price``).
    """
    check(campaign.template)
    source = (
        built
        if built is not None
        else _built_here(campaign, rows, chunk_size, region, phone_check, key_prefix, callbacks)
    )
    with fewer_collections():
        await _write_rows(store, campaign, source, report, progress, stopping, pace, price)


async def _built_here(
    campaign: Campaign,
    rows: Iterable[Row],
    size: int,
    region: str | None,
    phone_check: PhoneCheck,
    key_prefix: str,
    callbacks: RowCallbacks | None = None,
) -> AsyncIterator[BuiltChunk]:
    for chunk in chunks(rows, size):
        built, problems, repeats = build_chunk(
            campaign,
            chunk,
            region=region,
            phone_check=phone_check,
            key_prefix=key_prefix,
            callbacks=callbacks,
        )
        yield len(chunk), [(e, m.encoding.value, m.segments) for e, m in built], problems, repeats


async def _write_rows(
    store: Store,
    campaign: Campaign,
    source: AsyncIterable[BuiltChunk],
    report: PrepareReport,
    progress: Callable[[PrepareReport], None] | None,
    stopping: Callable[[], bool] | None,
    pace: Callable[[PrepareReport], Awaitable[None]] | None,
    price: PriceHook | None = None,
) -> None:
    saved = False
    # Rows per second count the time spent preparing, not the time ``pace`` held the producer back.
    started = time.monotonic() - report.seconds
    async for count, built, problems, repeats in source:
        if stopping is not None and stopping():
            break
        report.rows += count
        for problem in problems:
            report.add_problem(problem)
        for repeat in repeats:
            report.add_repeat(repeat)
        if not saved:
            await _save(store, campaign)
            saved = True
        if price is not None:
            built = [(priced(e, price(e.message, segments)), enc, segments) for e, enc, segments in built]
        ids = await store.enqueue([entry for entry, _, _ in built])
        known = [
            (entry, got) for (entry, _, _), got in zip(built, ids, strict=True) if got != entry.message.id
        ]
        lines = await store.csv_rows([got for _, got in known]) if known else {}
        for (entry, encoding, segments), got in zip(built, ids, strict=True):
            if got == entry.message.id:
                report.queued += 1
                report.encodings[encoding] += 1
                report.segments += segments
                continue
            first = lines.get(got)
            if first is not None and entry.row is not None and first < entry.row:
                report.add_repeat(RowRepeat(entry.row, first, entry.message.to))
            else:
                report.already += 1
        report.seconds = time.monotonic() - started
        if progress is not None:
            progress(report)
        if pace is not None:
            held = time.monotonic()
            await pace(report)
            started += time.monotonic() - held
    report.seconds = time.monotonic() - started
    report.done = True
    if progress is not None:
        progress(report)


def priced(entry: OutboxEntry, price: tuple[int, str] | None) -> OutboxEntry:
    return entry if price is None else OutboxEntry(entry.message, entry.idempotency_key, entry.row, price)


async def _save(store: Store, campaign: Campaign) -> None:
    await store.save_campaign(
        CampaignRecord(
            name=campaign.name,
            template=campaign.template,
            sender=campaign.sender,
            transport=campaign.transport,
            created_at=time.time(),
            options=dict(campaign.options),
        )
    )


async def prepare_campaign(
    store: Store,
    campaign: Campaign,
    *,
    region: str | None = None,
    strict: bool = False,
    rows: Callable[[], Iterable[Row]] | None = None,
    append: bool = False,
    phone_check: PhoneCheck = PhoneCheck.STRICT,
    price: PriceHook | None = None,
) -> PrepareReport:
    """Validate and write a whole campaign to the outbox: the recipients of ``campaign``, or ``rows()``.

    ``rows`` is called once per pass (twice in strict mode), so it can re-open a file. ``append`` lets a
    campaign name that exists with another template, sender or transport take these recipients (with this
    template); without it that is an error, since a resume must be the same campaign.
    """
    source = rows or (lambda: recipient_rows(campaign))
    check(campaign.template)
    if not append:
        await check_name(store, campaign)
    report = PrepareReport(campaign=campaign.name)
    if strict:
        validate_rows(campaign, source(), report, region=region, phone_check=phone_check)
    await write_rows(store, campaign, source(), report, region=region, phone_check=phone_check, price=price)
    return report
