"""Turning a campaign (template + recipients) into queued messages.

Every recipient row is rendered, its phone normalised to E.164 and its text
measured before anything is written; rows that cannot be sent are reported
with their CSV line and skipped (or, in strict mode, stop the campaign before
anything is queued). The idempotency key is ``campaign + E.164``, so preparing
the same campaign again (a re-run after a crash) queues nothing twice; a phone
repeated within the file is sent once and reported as a repeat of its first
line.

Because a re-run resumes by name, a name that already belongs to a campaign
with another template, sender or transport would quietly send nothing new
(every recipient is "already queued"): that is refused, naming what differs,
unless the caller asks to append to the existing campaign.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from msgbridge.core.encoding import TextInfo, info
from msgbridge.core.errors import ConfigError, ErrorCode, MessagingError
from msgbridge.core.message import Campaign, Message, Recipient
from msgbridge.core.phone import PhoneCheck, normalize
from msgbridge.core.template import check, render
from msgbridge.dispatch.csvsource import CsvData
from msgbridge.store.base import CampaignRecord, OutboxEntry, Store

ENQUEUE_CHUNK = 1000


@dataclass(frozen=True)
class RowProblem:
    line: int | None
    phone: str
    code: ErrorCode
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "recipient"
        return f"{where}: {self.reason}"


@dataclass
class PrepareReport:
    campaign: str
    rows: int = 0
    queued: int = 0  # newly written to the outbox
    already: int = 0  # in the outbox from an earlier run (or a repeated phone): not queued again
    segments: int = 0  # over the newly queued messages
    encodings: Counter[str] = field(default_factory=Counter)
    problems: list[RowProblem] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)

    repeats: list[RowRepeat] = field(default_factory=list)  # same phone as an earlier line of this file

    @property
    def skipped(self) -> int:
        return len(self.problems)


@dataclass(frozen=True)
class RowRepeat:
    line: int | None
    first_line: int | None
    phone: str  # E.164

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "recipient"
        first = f"line {self.first_line}" if self.first_line is not None else "an earlier recipient"
        return f"{where}: {self.phone} is already on {first}; sent once"


def recipients_from_csv(data: CsvData) -> tuple[list[Recipient], list[RowProblem]]:
    """Recipients for every well-formed record; malformed ones become problems."""
    recipients: list[Recipient] = []
    problems: list[RowProblem] = []
    for row in data.rows:
        phone = row.fields.get(data.phone_column, "")
        if row.problem is not None:
            problems.append(RowProblem(row.line, phone, ErrorCode.INVALID_ARGUMENT, row.problem))
            continue
        recipients.append(Recipient(phone=phone, fields=row.fields, row=row.line))
    return recipients, problems


def build_messages(
    campaign: Campaign,
    *,
    region: str | None = None,
    repeats: list[RowRepeat] | None = None,
    phone_check: PhoneCheck = PhoneCheck.STRICT,
) -> tuple[list[tuple[OutboxEntry, TextInfo]], list[RowProblem]]:
    """(entry, encoding) for each sendable recipient, and a problem for each other one.

    A recipient whose phone an earlier one already has is left out and added to ``repeats``.
    """
    out: list[tuple[OutboxEntry, TextInfo]] = []
    problems: list[RowProblem] = []
    first_row: dict[str, int | None] = {}
    for rec in campaign.recipients:
        try:
            e164 = normalize(rec.phone, region, phone_check)
            if e164 in first_row:
                if repeats is not None:
                    repeats.append(RowRepeat(rec.row, first_row[e164], e164))
                continue
            text = render(campaign.template, {**rec.fields, "phone": e164}, row=rec.row)
            if not text.strip():
                raise MessagingError(
                    "the text is empty once the template is filled in", code=ErrorCode.INVALID_ARGUMENT
                )
            measured = info(text)
            if measured.too_long:
                raise MessagingError(
                    f"text needs {measured.segments} segments, more than a message may have",
                    code=ErrorCode.MESSAGE_TOO_LONG,
                )
        except MessagingError as exc:
            reason = str(exc)
            if rec.row is not None:
                reason = reason.removeprefix(f"row {rec.row}: ")
            problems.append(RowProblem(rec.row, rec.phone, exc.code, reason))
            continue
        first_row[e164] = rec.row  # only a row that is sent makes later ones repeats
        message = Message(to=e164, text=text, sender=campaign.sender, campaign=campaign.name)
        entry = OutboxEntry(message=message, idempotency_key=f"{campaign.name}:{e164}", row=rec.row)
        out.append((entry, measured))
    return out, problems


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


async def prepare_campaign(
    store: Store,
    campaign: Campaign,
    *,
    region: str | None = None,
    strict: bool = False,
    extra_problems: list[RowProblem] | None = None,
    append: bool = False,
    phone_check: PhoneCheck = PhoneCheck.STRICT,
) -> PrepareReport:
    """Validate every recipient, then write the campaign and its messages to the outbox.

    ``append`` lets a campaign name that exists with another template, sender or transport take these
    recipients (with this template); without it that is an error, since a resume must be the same campaign.
    """
    check(campaign.template)
    if not append:
        await check_name(store, campaign)
    report = PrepareReport(campaign=campaign.name, rows=len(campaign.recipients) + len(extra_problems or []))
    built, problems = build_messages(campaign, region=region, repeats=report.repeats, phone_check=phone_check)
    report.problems = sorted([*(extra_problems or []), *problems], key=lambda p: p.line or 0)
    if strict and report.problems:
        first = report.problems[0]
        more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        raise ConfigError(f"campaign {campaign.name!r} not started: {first}{more}")
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
    for start in range(0, len(built), ENQUEUE_CHUNK):
        chunk = built[start : start + ENQUEUE_CHUNK]
        ids = await store.enqueue([entry for entry, _ in chunk])
        for (entry, measured), got in zip(chunk, ids, strict=True):
            report.message_ids.append(got)
            if got == entry.message.id:
                report.queued += 1
                report.encodings[measured.encoding.value] += 1
                report.segments += measured.segments
            else:
                report.already += 1
    return report
