"""The Python API: ``async with msgbridge.Client(via=...) as client: await client.send(...)``.

A client is a :class:`~msgbridge.service.runtime.Runtime` with one transport, so a script gets what the
service gives: the transport opened once and kept open (one SMPP bind for every message, not one per
call), the store written before anything is sent (a message queued is never silently lost or sent twice,
even if the script is killed), receipts matched whenever they arrive while the client is open.

``send()`` returns once the transport has answered (SUBMITTED, or why not), not once the message is
delivered: a receipt may take minutes or days. Follow it with :meth:`Client.status` or
:meth:`Client.events`. The store defaults to the configured one (``./msgbridge.db``), which is durable:
what a killed script left queued is sent by the next client opened on the same store and transport.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from msgbridge.adapters.base import Transport
from msgbridge.config import Config, load_config
from msgbridge.core.errors import ConfigError
from msgbridge.core.message import SendResult
from msgbridge.core.phone import PhoneCheck
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import split
from msgbridge.dispatch.campaign import PrepareReport, Row
from msgbridge.dispatch.run import CsvRows, RunRequest
from msgbridge.routing.open import open_via, routed_via
from msgbridge.service.contract import CampaignSubmission, CampaignView, Submission
from msgbridge.service.events import EventsLost, Subscription
from msgbridge.service.runtime import Runtime
from msgbridge.store.base import MessageRecord

DEFAULT_WAIT = 30.0  # seconds send() waits for the transport's answer
SCOPE = "client"  # the reference scope of messages sent through a Client
RECHECK = 0.5  # while waiting, how often the store is read for messages no event has named yet


@dataclass(frozen=True, slots=True)
class CampaignRun:
    """What :meth:`Client.run_campaign` did: the preparation report and the campaign as the store holds it."""

    report: PrepareReport
    view: CampaignView


def transport_name(via: str) -> str:
    """The name a client's messages are keyed under: the configured name, or the URL's scheme."""
    return split(via).scheme if "://" in via else via.lower()


class Client:
    """One transport, opened once, over a durable store (see the module's docstring).

    ``via`` is a transport URL (``smpp://user:pass@host:2775``, ``memory://``), a name configured in
    ``msgbridge.toml`` / ``MSGBRIDGE_TRANSPORT_<NAME>``, ``auto`` or ``route:NAME`` (its ``[[routes]]``,
    docs/routing.md). ``store`` is a path or DSN; None: the configured
    store. A URL's messages are keyed under its scheme: give two peers of one scheme configured names.
    """

    def __init__(
        self,
        via: str,
        store: str | None = None,
        *,
        config: Config | None = None,
        sender: str | None = None,
        region: str | None = None,
        tps: float | None = None,
        concurrency: int = 4,
        drain_timeout: float = 10.0,
    ) -> None:
        self.config = config if config is not None else load_config()
        self.via = via
        self.name = transport_name(via)
        self.sender = sender
        self.region = region
        routed, _ = routed_via(via)
        spec: str | Transport = open_via(self.config, via) if routed else self.config.resolve_via(via)
        self.runtime = Runtime(
            store=store if store is not None else self.config.store,
            transports={self.name: spec},
            tps=tps,
            concurrency=concurrency,
            drain_timeout=drain_timeout,
        )

    async def __aenter__(self) -> Self:
        await self.runtime.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 -- bounds the drain
        """Let what is in flight be answered (up to ``timeout``), store the receipts that came, close."""
        await self.runtime.drain(self.runtime.drain_timeout if timeout is None else timeout)

    # -- sending -------------------------------------------------------------------------------------

    async def send(
        self,
        to: str,
        text: str,
        *,
        sender: str | None = None,
        reference: str | None = None,
        callback_url: str | None = None,
        region: str | None = None,
        wait: float = DEFAULT_WAIT,
    ) -> SendResult:
        """Queue one message, then wait up to ``wait`` seconds for the transport's answer.

        The result's status is SUBMITTED (accepted, a receipt may follow), a refusal (FAILED, REJECTED...)
        with its error, MAYBE_SUBMITTED (the answer was lost: never resent blindly), or QUEUED when ``wait``
        passed first (it is still sent). A ``reference`` sent before returns that first message's result.
        Bad input raises :class:`~msgbridge.service.contract.InvalidSubmission` and queues nothing.
        """
        [result] = await self.send_many(
            [
                Submission(
                    to=to,
                    text=text,
                    sender=sender,
                    reference=reference,
                    callback_url=callback_url,
                    region=region,
                )
            ],
            wait=wait,
        )
        return result

    async def send_many(
        self, messages: Iterable[Submission | Mapping[str, str]], *, wait: float = DEFAULT_WAIT
    ) -> list[SendResult]:
        """Queue a batch in one commit (all or nothing), then wait for every answer as :meth:`send` does.

        Each item is a :class:`~msgbridge.service.contract.Submission` or a mapping of its fields
        (``{"to": ..., "text": ...}``); the client's ``sender`` and ``region`` fill what an item leaves out.
        """
        items = [self._submission(m) for m in messages]
        events = self.runtime.events() if wait > 0 else None
        try:
            accepted = await self.runtime.accept(items, scope=SCOPE)
            ids = [a.id for a in accepted]
            records = await self._wait(ids, events, wait) if events is not None else {}
        finally:
            if events is not None:
                events.close()
        out: list[SendResult] = []
        for a in accepted:
            rec = records.get(a.id)
            if rec is None:
                out.append(SendResult(message_id=a.id, status=a.status))
                continue
            out.append(
                SendResult(
                    message_id=a.id,
                    status=rec.status,
                    native_id=rec.native_id,
                    native_ids=rec.native_ids,
                    segments=rec.segments,
                    error=rec.last_error,
                )
            )
        return out

    def _submission(self, item: Submission | Mapping[str, str]) -> Submission:
        if isinstance(item, Submission):
            sub = item
        else:
            fields = dict(item)
            unknown = set(fields) - set(Submission.__dataclass_fields__)
            if unknown:
                raise ConfigError(f"unknown message field(s): {', '.join(sorted(unknown))}")
            sub = Submission(**fields)  # type: ignore[arg-type]
        if sub.transport is None and (sub.sender is None or sub.region is None):
            sub = Submission(
                to=sub.to,
                text=sub.text,
                sender=sub.sender if sub.sender is not None else self.sender,
                reference=sub.reference,
                transport=sub.transport,
                region=sub.region if sub.region is not None else self.region,
                callback_url=sub.callback_url,
                options=sub.options,
            )
        return sub

    async def _wait(
        self, ids: Sequence[str], events: Subscription, seconds: float
    ) -> dict[str, MessageRecord]:
        """The records of ``ids`` once none is QUEUED any more, or as they are when ``seconds`` have passed.

        Status events say when to look; the store is read for the messages they named (and, every
        RECHECK seconds, for the rest: a duplicate already answered, or an answer an event did not carry).
        """
        store = self.runtime.store
        deadline = time.monotonic() + seconds
        records: dict[str, MessageRecord] = {}
        waiting = set(ids)
        due = set(ids)  # to read now
        live = True  # events still arrive (else: the store alone, every RECHECK seconds)
        next_check = time.monotonic() + RECHECK
        while True:
            for mid in [m for m in due if m in waiting]:
                rec = await store.get(mid)
                if rec is not None:
                    records[mid] = rec
                    if rec.status is not DeliveryStatus.QUEUED:
                        waiting.discard(mid)
            due.clear()
            now = time.monotonic()
            if not waiting or now >= deadline:
                return records
            if now >= next_check:
                due |= waiting
                next_check = now + RECHECK
                continue
            left = min(deadline, next_check) - now
            if not live:
                await asyncio.sleep(left)
                continue
            try:
                await asyncio.wait_for(events.wait(), timeout=left)
            except TimeoutError:
                continue
            try:
                while (event := events.get_nowait()) is not None:
                    if event.message_id is not None and event.message_id in waiting:
                        due.add(event.message_id)
            except EventsLost:
                live = False
            if events.ended:
                live = False

    # -- reading -------------------------------------------------------------------------------------

    async def status(self, message_id: str) -> MessageRecord | None:
        """What the store holds for a message: status, native ids, segments, history, last error."""
        return await self.runtime.message(message_id)

    def events(self) -> Subscription:
        """Status changes and MO messages from now on (``async for event in client.events()``)."""
        return self.runtime.events()

    # -- campaigns -----------------------------------------------------------------------------------

    async def run_campaign(
        self,
        name: str,
        template: str,
        recipients: Iterable[Row] | Iterable[Mapping[str, str]] = (),
        *,
        csv: str | None = None,
        phone_column: str = "phone",
        sender: str | None = None,
        region: str | None = None,
        phone_check: PhoneCheck = PhoneCheck.STRICT,
        strict: bool = False,
        wait: float = 0.0,
        wait_receipts: bool = False,
    ) -> CampaignRun:
        """Queue a campaign (``template`` filled from each recipient's fields) and have this transport send it.

        ``recipients`` are mappings with a ``phone`` field (``{"phone": "+7701...", "name": "Ann"}``) or
        rows as ``dispatch.campaign`` reads them; or ``csv`` names a CSV file (a header row, the phone in
        ``phone_column``), read a chunk at a time as ``msgbridge campaign run`` reads it. Returns once every
        recipient is queued or reported, or, with ``wait``, once nothing is left to send (with
        ``wait_receipts``: nothing awaits a receipt either) or ``wait`` seconds have passed.
        """
        rows: Iterable[Row]
        if csv is not None:
            request = RunRequest(
                name=name,
                template=template,
                csv_path=csv,
                transport_label=self.name,
                phone_column=phone_column,
            )
            rows = CsvRows(request)  # re-read from the file by a strict campaign's second pass
        else:
            rows = [_row(r) for r in recipients] if strict else (_row(r) for r in recipients)
        return await self._campaign(
            name, template, rows, sender, region, phone_check, strict, wait, wait_receipts
        )

    async def _campaign(
        self,
        name: str,
        template: str,
        rows: Iterable[Row],
        sender: str | None,
        region: str | None,
        phone_check: PhoneCheck,
        strict: bool,
        wait: float,
        wait_receipts: bool,
    ) -> CampaignRun:
        submission = CampaignSubmission(
            name=name,
            template=template,
            sender=sender if sender is not None else self.sender,
            region=region if region is not None else self.region,
            phone_check=phone_check,
            strict=strict,
        )
        report = await self.runtime.start_campaign(submission, rows)
        deadline = time.monotonic() + wait
        while True:
            view = await self.runtime.campaign(name)
            assert view is not None
            pending = view.counts.get(DeliveryStatus.QUEUED, 0)
            if wait_receipts:
                pending = view.total - view.done - view.counts.get(DeliveryStatus.MAYBE_SUBMITTED, 0)
            if pending == 0 or time.monotonic() >= deadline:
                return CampaignRun(report=report, view=view)
            await asyncio.sleep(0.05)


def _row(item: Row | Mapping[str, str]) -> Row:
    if isinstance(item, tuple):
        return item
    fields = dict(item)
    return None, fields.get("phone", ""), fields, None
