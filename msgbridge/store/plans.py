"""What a batch of send results or receipts changes, decided without any SQL.

Every store backend reads the current statuses it needs, hands them to these
functions and writes the rows they return. Keeping the decisions here means
SQLite and PostgreSQL cannot disagree about the merge rule, segment
aggregation or matching by link.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, InboundMessage, SendResult
from msgbridge.core.status import DeliveryStatus, aggregate, merge
from msgbridge.core.url import redact
from msgbridge.store.base import CampaignRecord

log = logging.getLogger(__name__)

# Row text -> status by dict lookup: Enum(value) and .value are slow on hot paths. Statuses are
# bound to statements as the members themselves (a StrEnum is a str).
STATUS_BY_VALUE: dict[str, DeliveryStatus] = {s.value: s for s in DeliveryStatus}

# (receipt's parked-row id or None, receipt)
Item = tuple[int | None, DeliveryReceipt]
# where a native id was sent: (message_id, part number or None for a single-part message, link)
Place = tuple[str, int | None, str]


_NO_ERROR: tuple[None, None, None, None] = (None, None, None, None)


def error_columns(error: ErrorInfo | None) -> tuple[str | None, str | None, str | None, float | None]:
    """(code, native code as JSON, native text, retry-after): the four error columns of ``messages``."""
    if error is None:
        return None, None, None, None
    return error.code.value, json.dumps(error.native_code), error.native_message, error.retry_after


def error_from(
    code: str | None, native: str | None, text: str | None, retry: float | None
) -> ErrorInfo | None:
    if code is None:
        return None
    native_code = json.loads(native) if native is not None else None
    return ErrorInfo(
        code=ErrorCode(code), native_code=native_code, native_message=text or "", retry_after=retry
    )


@dataclass
class ResultPlan:
    # (status, native_id, native_ids JSON, link, segments, 4 error columns, updated_at, message_id)
    updates: list[tuple[Any, ...]] = field(default_factory=list)
    # (message_id, seq, link, native_id, status): only for multi-part messages
    segments: list[tuple[str, int, str, str, str]] = field(default_factory=list)
    # (message_id, at, status, note)
    history: list[tuple[str, float, str, str]] = field(default_factory=list)
    native_ids: list[str] = field(default_factory=list)


def plan_results(
    results: Sequence[SendResult], current: Mapping[str, DeliveryStatus], *, link: str, now: float
) -> ResultPlan:
    plan = ResultPlan()
    statuses = dict(current)
    for r in results:
        before = statuses.get(r.message_id)
        if before is None:
            log.warning("send result for unknown message %s ignored", r.message_id)
            continue
        status = merge(before, r.status)
        error = r.error
        ids = r.native_ids or ((r.native_id,) if r.native_id else ())
        plan.updates.append(
            (
                status,
                r.native_id or (ids[-1] if ids else None),
                json.dumps(list(ids)) if len(ids) > 1 else None,
                link,
                max(r.segments, len(ids), 1),
                *(_NO_ERROR if error is None else error_columns(error)),
                now,
                r.message_id,
            )
        )
        if len(ids) > 1:
            plan.segments.extend((r.message_id, seq, link, nid, status) for seq, nid in enumerate(ids))
        plan.native_ids.extend(ids)
        plan.history.append((r.message_id, now, status, "result" if error is None else f"result: {error}"))
        statuses[r.message_id] = status
    return plan


@dataclass
class ReceiptPlan:
    matched: list[tuple[Item, str]] = field(default_factory=list)  # with the message id each matched
    unmatched: list[Item] = field(default_factory=list)
    segments: dict[tuple[str, int], DeliveryStatus] = field(
        default_factory=dict
    )  # (message_id, seq) -> status
    # message_id -> (new status, error to record, what the last receipt said)
    messages: dict[str, tuple[DeliveryStatus, ErrorInfo | None, str]] = field(default_factory=dict)


def plan_receipts(
    receipts: Sequence[Item],
    where: Mapping[str, Sequence[Place]],
    current: Mapping[str, DeliveryStatus],
    parts: Mapping[str, Mapping[int, DeliveryStatus]],
) -> ReceiptPlan:
    """Apply receipts in order: a part's receipt updates that part, the message takes the aggregate.

    ``where`` maps native ids to where they were sent, ``current`` holds the
    status of every message concerned (including those a receipt names by
    ``message_id``), ``parts`` the part statuses of multi-part messages.
    """
    plan = ReceiptPlan()
    statuses = dict(current)
    segs = {m: dict(p) for m, p in parts.items()}
    for item in receipts:
        _, r = item
        place = None
        for candidate in where.get(r.native_id, ()):
            if not r.link or candidate[2] == r.link:
                place = candidate
                break
        if place is not None:
            message_id, seq, _ = place
            if seq is None:
                incoming = r.status
            else:
                mine = segs[message_id]
                mine[seq] = merge(mine[seq], r.status)
                plan.segments[(message_id, seq)] = mine[seq]
                incoming = aggregate(mine[k] for k in sorted(mine))
        elif r.message_id and r.message_id in statuses:
            message_id, incoming = r.message_id, r.status
        else:
            plan.unmatched.append(item)
            continue
        status = merge(statuses[message_id], incoming)
        statuses[message_id] = status
        prev = plan.messages.get(message_id)
        error = r.error or (prev[1] if prev else None)
        plan.messages[message_id] = (status, error, r.native_status or r.status)
        plan.matched.append((item, message_id))
    return plan


# -- rows both backends write and read the same way -------------------------
# Column lists fix the order, so a row reads by position whether it is a sqlite3 tuple or an asyncpg Record.

CAMPAIGN_COLUMNS = "name, template, sender, transport, created_at, options"
INBOUND_COLUMNS = "id, source, destination, text, link, received_at, parts, raw"


def stored_transport(transport: str | None) -> str | None:
    """What the ``campaigns.transport`` column may hold: a config name or a URL without its secret.

    Applied on write and on read, so neither a caller that passes a full URL
    nor a row written before this rule can bring a password back to a screen.
    """
    return redact(transport) if transport else transport


def campaign_params(record: CampaignRecord) -> tuple[Any, ...]:
    return (
        record.name,
        record.template,
        record.sender,
        stored_transport(record.transport),
        record.created_at,
        json.dumps(record.options),
    )


def campaign_from_row(row: Sequence[Any]) -> CampaignRecord:
    return CampaignRecord(
        name=row[0],
        template=row[1],
        sender=row[2],
        transport=stored_transport(row[3]),
        created_at=row[4],
        options=json.loads(row[5]),
    )


def inbound_params(m: InboundMessage) -> tuple[Any, ...]:
    raw = json.dumps(m.raw, default=str) if m.raw is not None else None
    return (m.id, m.source, m.destination, m.text, m.link, m.received_at, m.parts, raw)


def inbound_from_row(row: Sequence[Any]) -> InboundMessage:
    return InboundMessage(
        id=row[0],
        source=row[1],
        destination=row[2],
        text=row[3],
        link=row[4],
        received_at=row[5],
        parts=row[6],
        raw=json.loads(row[7]) if row[7] else None,
    )


def claimable_statuses(include_maybe: bool) -> list[str]:
    """QUEUED, plus MAYBE_SUBMITTED when the user asked to resend what may have been sent."""
    if include_maybe:
        return [DeliveryStatus.QUEUED.value, DeliveryStatus.MAYBE_SUBMITTED.value]
    return [DeliveryStatus.QUEUED.value]
