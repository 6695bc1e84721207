"""Running a campaign from a CSV file: the use case behind ``msgbridge campaign run``.

Preparation streams the file into the outbox a chunk at a time as a producer
task, and the dispatcher sends what is queued meanwhile (``send_pending(...,
producing=...)``): the first message leaves after the first chunk, and memory
holds one chunk, not the campaign. ``--strict`` reads the file once to
validate every row before anything is queued, then again to write while
sending. A re-run resumes exactly: the outbox key is campaign + E.164.

The provider mode hands the whole queued campaign to a provider's campaign
API in one call, which wants the recipients' fields beside the messages: it
prepares first and keeps the recipients in memory (campaigns sized for an API
call, not millions).

The caller (the CLI, a service) gives a :class:`RunRequest` and an optional
:class:`RunProgress`, and gets a :class:`RunResult` back; it prints.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from msgbridge.adapters.base import Transport
from msgbridge.core.errors import ConfigError, ErrorCode, MessagingError
from msgbridge.core.message import Campaign, Recipient
from msgbridge.core.phone import PhoneCheck
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.template import check as check_template
from msgbridge.dispatch.campaign import (
    ENQUEUE_CHUNK,
    PrepareReport,
    PriceHook,
    ProblemSink,
    Row,
    check_name,
    validate_rows,
    write_rows,
)
from msgbridge.dispatch.csvsource import open_csv
from msgbridge.dispatch.dispatcher import Dispatcher, DispatchStats
from msgbridge.dispatch.heap import fewer_collections
from msgbridge.dispatch.prepworker import Job, PreparingProcess, use_for
from msgbridge.store import open_store
from msgbridge.store.base import Store

if TYPE_CHECKING:
    from msgbridge.webhooks.worker import WorkerFactory

# How far preparation may run ahead of sending (messages queued and not yet claimed), and how often a held
# producer looks again. Ahead of the claims, a message costs memory (the store keeps what this process wrote
# until it is claimed); behind them, the dispatcher waits for work.
AHEAD = 10_000
PACE_WAIT = 0.01


@dataclass(frozen=True)
class RunRequest:
    """What to send: a template to every row of a CSV, through a transport, under a campaign name."""

    name: str
    template: str
    csv_path: str
    transport_label: str | None  # as stored and printed: a configured name or the redacted URL
    sender: str | None = None
    tps: float | None = None
    region: str | None = None
    phone_column: str = "phone"
    encoding: str = "utf-8-sig"
    strict: bool = False
    phone_check: PhoneCheck = PhoneCheck.STRICT
    allow_multiline: bool = False
    append: bool = False
    resend_maybe: bool = False
    wait_receipts: float = 0.0
    concurrency: int = 4
    mode: str = "messages"  # or "provider"
    problems_path: str | None = None  # every bad row and repeat, as CSV
    # Where the writing pass builds its rows: "here", "child" (a child process, prepworker.py) or "auto"
    # (a child for a large file). "here" by default: on a 2-core machine the child takes the core the
    # SMSC (or the simulator) needs, and a 1,000,000-row campaign measured slower with it (see
    # docs/store-and-dispatch.md).
    preparer: str = "here"
    options: dict[str, str] = field(default_factory=dict)
    # Each message's expected price, recorded with it (``campaign.PriceHook``); None: none recorded.
    price: PriceHook | None = None

    def campaign(self, recipients: tuple[Recipient, ...] = ()) -> Campaign:
        return Campaign(
            name=self.name,
            template=self.template,
            recipients=recipients,
            sender=self.sender,
            transport=self.transport_label,
            options=self.options,
        )


@dataclass
class RunResult:
    campaign: Campaign
    report: PrepareReport
    stats: DispatchStats
    counts: dict[DeliveryStatus, int]  # the whole campaign in the store, once done
    elsewhere: int  # queued messages another live run holds
    error: MessagingError | None  # the peer could not be used (what was queued stays queued)


class RunProgress(Protocol):
    """What a progress display is told: rows prepared so far, and the dispatcher's counters."""

    def prepared(self, report: PrepareReport, to_send: int) -> None: ...

    def sent(self, stats: DispatchStats) -> None: ...


@contextmanager
def csv_rows(request: RunRequest) -> Iterator[Iterable[Row]]:
    """The file's rows, read as they are used; header problems are raised on entry."""
    with open_csv(
        request.csv_path,
        phone_column=request.phone_column,
        encoding=request.encoding,
        allow_multiline=request.allow_multiline,
    ) as source:
        column = source.phone_column
        yield ((r.line, r.fields.get(column, ""), r.fields, r.problem) for r in source.rows())


class CsvRows:
    """A CSV file's rows, read again from the file at each iteration (a strict campaign reads them twice),
    so memory holds a chunk, never the file; header problems are raised at construction."""

    def __init__(self, request: RunRequest) -> None:
        self.request = request
        with csv_rows(request):  # header problems: raised here, before anything is queued
            pass

    def __iter__(self) -> Iterator[Row]:
        with csv_rows(self.request) as rows:
            yield from rows


def problem_sink(files: ExitStack, path: str | None) -> ProblemSink | None:
    """The ``--problems FILE`` writer, closed with ``files``; None without a path."""
    if path is None:
        return None
    try:
        out = files.enter_context(open(path, "w", encoding="utf-8", newline=""))
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return ProblemSink(out)


def bad_input(exc: MessagingError) -> bool:
    """Errors that mean "fix the command", as opposed to a peer that could not be used."""
    return exc.code is ErrorCode.INVALID_ARGUMENT


async def run_campaign(
    store_dsn: str,
    transport: Transport,
    request: RunRequest,
    progress: RunProgress | None = None,
    webhooks: WorkerFactory | None = None,
) -> RunResult:
    """Prepare and send one campaign; what the store holds at the end decides its outcome.

    ``webhooks`` makes the callback worker that delivers the store's events while the campaign runs.

    Bad input (template, CSV header, a strict refusal, a reused name) is raised as ConfigError before
    anything is queued. A peer that cannot be used is returned as ``error`` once preparation has finished.
    """
    check_template(request.template)
    campaign = request.campaign()
    with ExitStack() as files:
        files.enter_context(fewer_collections())
        first = files.enter_context(csv_rows(request))  # header checked before a store is created
        report = PrepareReport(campaign=campaign.name, sink=problem_sink(files, request.problems_path))
        async with open_store(store_dsn) as store:
            if not request.append:
                await check_name(store, campaign)
            if request.strict:
                validate_rows(campaign, first, report, region=request.region, phone_check=request.phone_check)
                first = files.enter_context(csv_rows(request))
            worker = webhooks(store, None) if webhooks is not None else None
            if worker is not None:
                worker.start()
            try:
                return await _send(store, transport, request, campaign, first, report, progress)
            finally:
                if worker is not None:  # the last statuses' events, if their receivers answer in time
                    await worker.settle(worker.settings.timeout)
                    await worker.stop(worker.settings.timeout)


async def _send(
    store: Store,
    transport: Transport,
    request: RunRequest,
    campaign: Campaign,
    rows: Iterable[Row],
    report: PrepareReport,
    progress: RunProgress | None,
) -> RunResult:
    counts = await store.counts(campaign.name)
    before = counts.get(DeliveryStatus.QUEUED, 0) + counts.get(DeliveryStatus.MAYBE_SUBMITTED, 0)
    dispatcher = Dispatcher(
        store,
        transport,
        tps=request.tps,
        concurrency=request.concurrency,
        progress=progress.sent if progress is not None else None,
    )

    def prepared(r: PrepareReport) -> None:
        if progress is not None:
            progress.prepared(r, before + r.queued)

    dispatching = asyncio.Event()  # set once the dispatcher has finished (or failed): nothing to wait for
    claimable = counts.get(DeliveryStatus.QUEUED, 0) + (
        counts.get(DeliveryStatus.MAYBE_SUBMITTED, 0) if request.resend_maybe else 0
    )

    async def pace(r: PrepareReport) -> None:
        """Hold the producer while it is more than AHEAD messages ahead of the claims: what is queued and
        not yet claimed is held in memory by the store's cache, so this bounds memory whatever the row count."""
        while claimable + r.queued - dispatcher.stats.claimed > AHEAD and not dispatching.is_set():
            if dispatcher.stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dispatching.wait(), PACE_WAIT)

    if request.mode == "provider":
        recipients: list[Recipient] = []
        kept = (_kept(row, recipients) for row in rows)
        await write_rows(
            store,
            campaign,
            kept,
            report,
            region=request.region,
            phone_check=request.phone_check,
            progress=prepared,
            price=request.price,
        )
        campaign = request.campaign(tuple(recipients))

    async def produce() -> None:
        if not apart(request):
            await write_rows(
                store,
                campaign,
                rows,
                report,
                region=request.region,
                phone_check=request.phone_check,
                progress=prepared,
                stopping=lambda: dispatcher.stopping,
                pace=pace,
                price=request.price,
            )
            return
        async with PreparingProcess(job(request, ENQUEUE_CHUNK)) as child:
            await write_rows(
                store,
                campaign,
                (),
                report,
                progress=prepared,
                stopping=lambda: dispatcher.stopping,
                pace=pace,
                built=child.chunks(),
                price=request.price,
            )

    producing = asyncio.Event()
    producer: asyncio.Task[None] | None = None
    if request.mode != "provider":
        producer = asyncio.create_task(produce(), name="prepare")

        def produced(task: asyncio.Task[None]) -> None:
            producing.set()
            if not task.cancelled() and task.exception() is not None:
                dispatcher.request_stop()  # a file that breaks midway: stop sending, report the error

        producer.add_done_callback(produced)
    error: MessagingError | None = None
    try:
        async with transport:
            try:
                with dispatcher.stop_on_signals():
                    await _dispatch(dispatcher, request, campaign, producing)
            finally:
                await dispatcher.close_transport()
    except BaseException as exc:
        # The peer could not be used (login refused, unreachable): what was sent before is in the store,
        # and the exit code says what the campaign as a whole has come to. Anything else ends preparing too.
        if not isinstance(exc, MessagingError) or bad_input(exc):
            if producer is not None:
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer
            raise
        error = exc
    finally:
        dispatching.set()
    if producer is not None:
        # Stopped by a signal, the producer ends at its next chunk; otherwise it finishes the file
        # (a peer that could not be used does not leave the rest of the file unqueued).
        await producer
    # What another live run holds is read before the counts: read after, a message it settles in between
    # would count as still queued here and not as held there, and the run would say "some unsent" (1)
    # where it means "another run has these in flight" (3). Read first, a held message can only have
    # moved on by the time the counts are taken.
    elsewhere = await store.held_elsewhere(campaign.name)
    return RunResult(
        campaign=campaign,
        report=report,
        stats=dispatcher.stats,
        counts=await store.counts(campaign.name),
        elsewhere=elsewhere,
        error=error,
    )


def apart(request: RunRequest) -> bool:
    """Whether the writing pass builds its rows in a child process (prepworker.py)."""
    if request.preparer not in ("auto", "here", "child"):
        raise ConfigError(f"preparer must be auto, here or child, not {request.preparer!r}")
    return request.preparer == "child" or (request.preparer == "auto" and use_for(request.csv_path))


def job(request: RunRequest, chunk_size: int) -> Job:
    return Job(
        csv_path=request.csv_path,
        phone_column=request.phone_column,
        encoding=request.encoding,
        allow_multiline=request.allow_multiline,
        name=request.name,
        template=request.template,
        sender=request.sender,
        region=request.region,
        phone_check=request.phone_check,
        chunk_size=chunk_size,
    )


def _kept(row: Row, into: list[Recipient]) -> Row:
    line, phone, fields, _ = row
    into.append(Recipient(phone=phone, fields=dict(fields), row=line))
    return row


async def _dispatch(
    dispatcher: Dispatcher, request: RunRequest, campaign: Campaign, producing: asyncio.Event
) -> None:
    """Send (while the producer queues, for messages mode), then wait for receipts as asked."""
    dispatcher.start_receipts()
    try:
        if request.mode == "provider":
            await dispatcher.send_provider_campaign(campaign)
        else:
            await dispatcher.send_pending(campaign.name, request.resend_maybe, producing=producing)
        if request.wait_receipts > 0 and not dispatcher.stopping:
            await dispatcher.collect_receipts(request.wait_receipts, campaign=campaign.name)
    finally:
        await dispatcher.stop_receipts()
