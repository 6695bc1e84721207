"""The events table's statements and rows, for both backends: what a status change writes, what the delivery
worker claims and reports, what a reader pages through.

An event is written by the very transaction that makes the change it reports (``sql.py`` calls
:func:`write_events` inside ``record_results``, ``record_receipts``, ``cancel`` and ``add_inbound``), so a
change is never committed without its event, nor an event without its change. Only a message with a
callback target gets one, unless every change is recorded (``Store.record_all_events``): the rows are made
here from what the transaction read anyway (the target is a column of the message row it reads for the
status), so a store without callbacks runs no statement more per batch.

Ordering. ``n`` is the cursor readers page by, so it must follow commit order: a number taken by one
transaction and committed after a later one's would be passed by a reader that had seen the later one.
Every transaction that writes events is serialised on the receipts lock (``dialect.RECEIPTS``: in
PostgreSQL a transaction-level advisory lock, taken before anything else and released only once the commit
is visible; in SQLite every write transaction holds the file), so numbers are taken and committed in one
order. The delivery order of one message's events to one target is ``n`` too: a claim hands out only the
lowest event of a (message, target) still pending.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ErrorInfo
from msgbridge.core.message import InboundMessage
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import (
    INBOUND_EVENT,
    PENDING,
    SKIPPED,
    STATUS_EVENT,
    EventBacklog,
    EventOutcome,
    StoredEvent,
)
from msgbridge.store.dialect import Bulk, Conn
from msgbridge.store.rows import STATUS_BY_VALUE, InboundRow, columns, error_columns, error_from
from msgbridge.store.texts import Texts

# The most of an attempt's outcome kept (``last_error``): a receiver's reply body is cut to 1 KB before.
MAX_LAST_ERROR = 1100

_T, _F, _I = "text", "float8", "int8"
INSERT_EVENTS = Bulk(
    "INSERT INTO events (id, type, message_id, occurred_at, status, native_status, error_code, "
    "error_native_code, error_text, target_id, state, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    (_T, _T, _T, _F, _T, _T, _T, _T, _T, _I, _T, _F),
    (),
)
# One outcome; applied only while this store holds the lease (another's claim or a replay since wins).
EVENT_DONE = Bulk(
    "UPDATE events SET state = ?, next_at = ?, last_error = ?, attempts = attempts + ?, leased_by = NULL "
    "WHERE n = ? AND leased_by = ? AND state = 'pending'",
    (_T, _F, _T, "int4", _I, "int4"),
    (4,),
)


# Each random octet to one of base32's 32 lower-case characters (its low 5 bits: 256 is 8 x 32, so uniform).
_BASE32 = bytes.maketrans(
    bytes(range(256)), bytes(b"abcdefghijklmnopqrstuvwxyz234567"[b & 31] for b in range(256))
)


def new_event_id() -> str:
    """``evt_`` and 26 characters of lower-case base32: 130 random bits. Made in C by one translate (base64's
    b32encode is a Python loop: with two events a message it was a twentieth of the SMPP front's time)."""
    return "evt_" + os.urandom(26).translate(_BASE32).decode("ascii")


def status_event(
    message_id: str,
    status: DeliveryStatus,
    native_status: str | None,
    error: tuple[str | None, str | None, str | None],
    target_id: int | None,
    at: float,
) -> tuple[Any, ...]:
    """An INSERT_EVENTS row for a status change; pending (due now) when there is a target to call."""
    return (
        new_event_id(),
        STATUS_EVENT,
        message_id,
        at,
        status,
        native_status,
        *error,
        target_id,
        PENDING if target_id is not None else None,
        at if target_id is not None else None,
    )


def result_error(update: Sequence[Any]) -> tuple[str | None, str | None, str | None]:
    """The event's error columns from a ``writes.RESULT_UPDATE`` row (its 6th to 8th values)."""
    return update[5], update[6], update[7]


def receipt_error(error: ErrorInfo | None) -> tuple[str | None, str | None, str | None]:
    code, native, text, _ = error_columns(error)
    return code, native, text


async def write_events(c: Conn, rows: Sequence[Sequence[Any]]) -> None:
    await c.bulk(INSERT_EVENTS, rows)


async def inbound_events(
    c: Conn,
    texts: Texts,
    messages: Sequence[InboundMessage],
    target_of: Callable[[InboundMessage], CallbackTarget | None],
    at: float,
    *,
    record_all: bool,
) -> list[tuple[Any, ...]]:
    """Rows for the inbound messages not stored before (a repeated id is no new message), read before
    they are inserted, inside the same transaction. ``target_of`` names each one's target (the store's
    ``inbound_target_of``: one MO may go to an SMPP account, the next to ``[events] inbound_url``); one
    with none gets a row only when every change is recorded (``record_all``)."""
    known = {
        str(r[0])
        for r in await c.fetch_in("SELECT id FROM inbound WHERE id {in}", list({m.id for m in messages}))
    }
    fresh: list[tuple[InboundMessage, str | None]] = []
    seen = set(known)
    for m in messages:
        if m.id in seen:
            continue
        seen.add(m.id)
        target = target_of(m)
        if target is None and not record_all:
            continue
        fresh.append((m, target.dumps() if target is not None else None))
    ids = await texts.word_ids(c, [text for _, text in fresh])
    out = []
    for m, text in fresh:
        target_id = ids[text]
        out.append(
            (
                new_event_id(),
                INBOUND_EVENT,
                m.id,
                at,
                None,
                None,
                None,
                None,
                None,
                target_id,
                PENDING if target_id is not None else None,
                at if target_id is not None else None,
            )
        )
    return out


# -- reading -------------------------------------------------------------------


class EventRow(NamedTuple):
    """An event as read: its own columns, then its message's (status) or inbound message's (inbound)."""

    n: int
    id: str
    type: str
    occurred_at: float
    message_id: str
    status: str | None
    native_status: str | None
    error_code: str | None
    error_native_code: str | None
    error_text: str | None
    target_id: int | None
    state: str | None
    attempts: int
    next_at: float | None
    last_error: str | None
    reference: str | None
    campaign_id: int | None
    to: str | None
    segments: int | None


_OWN = len(EventRow._fields)
_E = ", ".join(f"e.{name}" for name in EventRow._fields[:15])
SELECT_EVENTS = (
    f"SELECT {_E}, m.reference, m.campaign_id, COALESCE(m.phone, m.key_rest), m.segments, "
    f"{columns(InboundRow, 'i.')} FROM events e "
    f"LEFT JOIN messages m ON e.type = '{STATUS_EVENT}' AND m.id = e.message_id "
    f"LEFT JOIN inbound i ON e.type = '{INBOUND_EVENT}' AND i.id = e.message_id"
)


async def stored_events(c: Conn, texts: Texts, rows: Sequence[Sequence[Any]]) -> list[StoredEvent]:
    """StoredEvents from SELECT_EVENTS rows (the words they name loaded first)."""
    events = [(EventRow._make(r[:_OWN]), r[_OWN:]) for r in rows]
    await texts.load(c, [e.campaign_id for e, _ in events] + [e.target_id for e, _ in events])
    words = texts.words
    out = []
    for e, inbound in events:
        out.append(
            StoredEvent(
                n=int(e.n),
                id=e.id,
                type=e.type,
                occurred_at=e.occurred_at,
                message_id=e.message_id,
                status=STATUS_BY_VALUE[e.status] if e.status is not None else None,
                native_status=e.native_status,
                error=error_from(e.error_code, e.error_native_code, e.error_text, None),
                segments=e.segments,
                reference=e.reference,
                campaign=words[e.campaign_id] if e.campaign_id is not None else None,
                to=e.to,
                inbound=InboundRow(*inbound).message() if inbound[0] is not None else None,
                target=CallbackTarget.loads(words[e.target_id]) if e.target_id is not None else None,
                state=e.state,
                attempts=e.attempts,
                next_at=e.next_at,
                last_error=e.last_error,
            )
        )
    return out


async def events_page(
    c: Conn,
    texts: Texts,
    after: int | None,
    limit: int,
    *,
    message_id: str | None = None,
    since: float | None = None,
) -> list[StoredEvent]:
    sql, params = f"{SELECT_EVENTS} WHERE e.n > ?", list[Any]([after or 0])
    if message_id is not None:
        sql += " AND e.message_id = ?"
        params.append(message_id)
    if since is not None:
        sql += " AND e.occurred_at >= ?"
        params.append(since)
    return await stored_events(c, texts, await c.fetch(sql + " ORDER BY e.n LIMIT ?", [*params, limit]))


# -- the delivery worker's side ------------------------------------------------------

# Due, pending, and no earlier event of the same (message, target) still pending: that one goes first.
_CLAIMABLE = (
    "SELECT e.n FROM events e WHERE e.state = 'pending' AND e.next_at <= ? AND NOT EXISTS "
    "(SELECT 1 FROM events p WHERE p.message_id = e.message_id AND p.target_id = e.target_id "
    "AND p.state = 'pending' AND p.n < e.n){targets} ORDER BY e.next_at LIMIT ?"
)


def target_filter(formats: Sequence[str] | None, urls: Sequence[str] | None) -> tuple[str, list[Any]]:
    """SQL (and its parameters) keeping the claim to targets of ``formats`` and ``urls`` (None: any).

    A target's text is canonical JSON with sorted keys (``CallbackTarget.dumps``): ``format`` comes first
    when it is not the default ``json``, ``url`` always last, so each is a prefix or suffix compared
    exactly (``substr``, in both backends' words), with no pattern characters to escape.
    """
    ors: list[list[str]] = []
    params: list[Any] = []
    if formats is not None:
        conds = []
        for f in formats:
            if f == "json":
                conds.append("substr(w.text, 1, 11) <> ?")
                params.append('{"format":"')
            else:
                head = '{"format":' + json.dumps(f, ensure_ascii=False) + ","
                conds.append(f"substr(w.text, 1, {len(head)}) = ?")
                params.append(head)
        ors.append(conds or ["1 = 0"])
    if urls is not None:
        conds = []
        for u in urls:
            tail = '"url":' + json.dumps(u, ensure_ascii=False) + "}"
            conds.append(f"substr(w.text, length(w.text) - {len(tail) - 1}) = ?")
            params.append(tail)
        ors.append(conds or ["1 = 0"])
    if not ors:
        return "", []
    where = " AND ".join("(" + " OR ".join(conds) + ")" for conds in ors)
    return f" AND e.target_id IN (SELECT w.id FROM words w WHERE {where})", params


async def claim_events(
    c: Conn,
    texts: Texts,
    token: str | int,
    limit: int,
    *,
    now: float,
    lease: float,
    formats: Sequence[str] | None = None,
    urls: Sequence[str] | None = None,
) -> list[StoredEvent]:
    """Inside a write transaction: lease up to ``limit`` claimable events to ``token`` until ``now + lease``,
    then read them back by that lease (the stamp is this claim's own: a token and an instant). ``formats``
    and ``urls`` keep it to those targets (:func:`target_filter`)."""
    until = now + lease
    targets, target_params = target_filter(formats, urls)
    claimable = _CLAIMABLE.format(targets=targets)
    taken = await c.fetch(
        f"UPDATE events SET next_at = ?, leased_by = ? WHERE n IN ({claimable}{c.skip_locked}) RETURNING n",
        [until, token, now, *target_params, limit],
    )
    if not taken:
        return []
    rows = await c.fetch(
        f"{SELECT_EVENTS} WHERE e.state = 'pending' AND e.next_at = ? AND e.leased_by = ? ORDER BY e.n",
        [until, token],
    )
    return await stored_events(c, texts, rows)


def done_rows(outcomes: Sequence[EventOutcome], token: str | int) -> list[tuple[Any, ...]]:
    rows = []
    for o in outcomes:
        if o.state == PENDING and o.next_at is None:
            raise ValueError(f"event {o.n}: a retry needs next_at")
        error = o.last_error[:MAX_LAST_ERROR] if o.last_error is not None else None
        rows.append((o.state, o.next_at if o.state == PENDING else None, error, 0 if o.state == SKIPPED else 1,
                     o.n, token))  # fmt: skip
    return rows


async def replay_events(c: Conn, *, since: float, message_id: str | None, now: float) -> int:
    sql = (
        "UPDATE events SET state = 'pending', next_at = ?, attempts = 0, leased_by = NULL "
        "WHERE target_id IS NOT NULL AND occurred_at >= ?"
    )
    params: list[Any] = [now, since]
    if message_id is not None:
        sql += " AND message_id = ?"
        params.append(message_id)
    return await c.execute(sql, params)


async def event_backlog(c: Conn, *, formats: Sequence[str] | None = None) -> EventBacklog:
    """Pending and failed events; ``formats`` keeps the count to those targets (the SMPP front shows the
    receipts held for it apart from the webhooks' backlog), as :func:`target_filter` keeps a claim."""
    targets, params = target_filter(formats, None)
    pending = await c.fetch(
        f"SELECT COUNT(*), MIN(e.occurred_at) FROM events e WHERE e.state = 'pending'{targets}", params
    )
    failed = await c.fetch(f"SELECT COUNT(*) FROM events e WHERE e.state = 'failed'{targets}", params)
    count, oldest = pending[0] if pending else (0, None)
    return EventBacklog(
        pending=int(count or 0),
        failed=int(failed[0][0] or 0) if failed else 0,
        oldest_pending_at=float(oldest) if oldest is not None else None,
    )
