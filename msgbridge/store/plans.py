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

from msgbridge.core.errors import ErrorInfo
from msgbridge.core.message import DeliveryReceipt, SendResult
from msgbridge.core.status import DeliveryStatus, aggregate, merge
from msgbridge.store.base import attempt_note
from msgbridge.store.rows import error_columns, micros, trail_tail

log = logging.getLogger(__name__)

# (receipt's parked-row id or None, receipt)
Item = tuple[int | None, DeliveryReceipt]
# where a native id was sent: (message_id, part number or None for a single-part message, link)
Place = tuple[str, int | None, str]


@dataclass
class ResultPlan:
    # (status, native_id, native_ids JSON, link, segments, 4 error columns, updated_at, message_id)
    updates: list[tuple[Any, ...]] = field(default_factory=list)
    # (message_id, seq, link, native_id, status): only for multi-part messages
    segments: list[tuple[str, int, str, str, str]] = field(default_factory=list)
    # (message_id, at, status, note)
    history: list[tuple[str, float, DeliveryStatus, str]] = field(default_factory=list)
    native_ids: list[str] = field(default_factory=list)
    # Links results name besides the call's own (``SendResult.link``: a routed transport's children).
    links: set[str] = field(default_factory=set)
    # Trail lines of earlier attempts, each at its own time, appended before the result's own line:
    # (at in microseconds, trail tail, message_id)
    attempts: list[tuple[int, str, str]] = field(default_factory=list)


def plan_results(
    results: Sequence[SendResult], current: Mapping[str, DeliveryStatus], *, link: str, now: float
) -> ResultPlan:
    """Each result's row update. Native ids and parts are keyed by the result's own link where it names
    one (``result.link or link``), so a receipt arriving on that link matches; earlier attempts become
    trail lines with the status the message had meanwhile (an attempt changes no status)."""
    plan = ResultPlan()
    statuses = dict(current)
    # Runs once per message sent: the appends are bound once, not looked up per row.
    updates, history, native_ids = plan.updates.append, plan.history.append, plan.native_ids.extend
    for r in results:
        message_id = r.message_id
        before = statuses.get(message_id)
        if before is None:
            log.warning("send result for unknown message %s ignored", message_id)
            continue
        status = merge(before, r.status)
        error = r.error
        native_id = r.native_id
        ids = r.native_ids or ((native_id,) if native_id else ())
        many = len(ids) > 1
        via = r.link
        if via:
            plan.links.add(via)
        else:
            via = link
        if r.attempts:
            plan.attempts.extend(
                (micros(a.at), trail_tail(before, attempt_note(a.transport, a.error)), message_id)
                for a in r.attempts
            )
        updates(
            (
                status,
                native_id or (ids[-1] if ids else None),
                json.dumps(list(ids)) if many else None,
                via,
                max(r.segments, len(ids), 1),
                *error_columns(error),
                now,
                message_id,
            )
        )
        if many:
            plan.segments.extend((message_id, seq, via, nid, status) for seq, nid in enumerate(ids))
        native_ids(ids)
        history((message_id, now, status, "result" if error is None else f"result: {error}"))
        statuses[message_id] = status
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


def claimable_statuses(include_maybe: bool) -> list[str]:
    """QUEUED, plus MAYBE_SUBMITTED when the user asked to resend what may have been sent."""
    if include_maybe:
        return [DeliveryStatus.QUEUED.value, DeliveryStatus.MAYBE_SUBMITTED.value]
    return [DeliveryStatus.QUEUED.value]
