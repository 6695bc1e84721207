"""Turning a campaign (template + recipients) into queued messages.

Every recipient row is rendered, its phone normalised to E.164 and its text
measured before anything is written; rows that cannot be sent are reported
with their CSV line and skipped (or, in strict mode, stop the campaign before
anything is queued). The idempotency key is ``campaign + E.164``, so preparing
the same campaign again (a re-run after a crash) queues nothing twice.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from msgbridge.core.encoding import TextInfo, info
from msgbridge.core.errors import ConfigError, ErrorCode, MessagingError
from msgbridge.core.message import Campaign, Message, Recipient
from msgbridge.core.phone import normalize
from msgbridge.core.template import render
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

    @property
    def skipped(self) -> int:
        return len(self.problems)


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
    campaign: Campaign, *, region: str | None = None
) -> tuple[list[tuple[OutboxEntry, TextInfo]], list[RowProblem]]:
    """(entry, encoding) for each sendable recipient, and a problem for each other one."""
    out: list[tuple[OutboxEntry, TextInfo]] = []
    problems: list[RowProblem] = []
    for rec in campaign.recipients:
        try:
            e164 = normalize(rec.phone, region)
            text = render(campaign.template, {**rec.fields, "phone": e164}, row=rec.row)
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
        message = Message(to=e164, text=text, sender=campaign.sender, campaign=campaign.name)
        entry = OutboxEntry(message=message, idempotency_key=f"{campaign.name}:{e164}", row=rec.row)
        out.append((entry, measured))
    return out, problems


async def prepare_campaign(
    store: Store,
    campaign: Campaign,
    *,
    region: str | None = None,
    strict: bool = False,
    extra_problems: list[RowProblem] | None = None,
) -> PrepareReport:
    """Validate every recipient, then write the campaign and its messages to the outbox."""
    report = PrepareReport(campaign=campaign.name, rows=len(campaign.recipients) + len(extra_problems or []))
    built, problems = build_messages(campaign, region=region)
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
