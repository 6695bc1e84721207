"""The store's writes, written once for SQLite and PostgreSQL: plan (``plans.py``), then write; the reads
they build on are ``sqlreads.py``'s.

What differs between the backends is small and lives in their connection
(``dialect.Conn``): how a statement's ``?`` are spelled, how a list goes into
``IN``, how one statement runs for many rows (``writes.py``), and whether rows
read inside a transaction must be locked. Who owns a claim differs more (a
lease row in SQLite, a session advisory lock in PostgreSQL): each backend says
which ``claimed_by`` values belong to a live owner (:meth:`SqlReads._held`).
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, ClassVar

from msgbridge.core.errors import ErrorInfo
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.store import events
from msgbridge.store.base import (
    CampaignRecord,
    EventOutcome,
    MessageRecord,
    OutboxEntry,
    StoredEvent,
    StoreError,
)
from msgbridge.store.bodies import BODY_COLUMNS
from msgbridge.store.dialect import RECEIPTS, SCHEMA, Conn
from msgbridge.store.eventrules import EventRules
from msgbridge.store.plans import Item, Place, claimable_statuses, plan_receipts, plan_results
from msgbridge.store.rows import (
    APPEND_TRAIL,
    CAMPAIGN_COLUMNS,
    MESSAGE_COLUMNS,
    PARKED_COLUMNS,
    STATUS_BY_VALUE,
    CampaignRow,
    InboundRow,
    ParkedRow,
    error_columns,
    micros,
    parked_params,
    trail_tail,
)
from msgbridge.store.schema import CALLBACK_COLUMN, PRICE_COLUMNS, VERSION, statements
from msgbridge.store.sqlreads import WORD, SqlReads, scope_sql
from msgbridge.store.steps import history_onto_trail, outbox_to_v3
from msgbridge.store.texts import Texts
from msgbridge.store.writes import (
    ATTEMPT_TRAIL,
    COST_UPDATE,
    INSERT_INBOUND,
    INSERT_MESSAGES,
    INSERT_PRICED_MESSAGES,
    MATCH_PARKED,
    PARK_RECEIPTS,
    RECEIPT_UPDATE,
    REQUEUE_UPDATE,
    RESULT_UPDATE,
    SEGMENT_STATUS,
    SEGMENT_UPSERT,
    due_after,
)

log = logging.getLogger(__name__)

_STATUS = STATUS_BY_VALUE
_QUEUED = DeliveryStatus.QUEUED
_MAYBE = DeliveryStatus.MAYBE_SUBMITTED
_CANCELED = DeliveryStatus.CANCELED
# Most enqueued messages kept in memory for claim() to hand back without a read.
WRITTEN_CACHE = 200_000


_NO_PRICE = (None, None)


def _price(price: tuple[int, str] | None, ids: dict[str | None, int | None]) -> tuple[int | None, int | None]:
    """``messages.price`` and ``price_currency_id`` of an entry's price."""
    return _NO_PRICE if price is None else (price[0], ids[price[1]])


class SqlStore(SqlReads):
    """:class:`Store` over a :class:`Conn`: every sequence of reads and writes, for both backends."""

    # (order of version-1 ``history`` rows within a message, for the migration)
    history_order: ClassVar[str]
    # What this store's claims carry in ``claimed_by``.
    token: str | int

    def __init__(self) -> None:
        # Messages this process enqueued, by id, until claimed: a campaign prepared and sent by one
        # process skips reading and re-validating every body it has just written.
        self._written: dict[str, Message] = {}
        self._last_us = 0
        self.texts = Texts()
        self.event_rules = EventRules()

    # -- what a backend supplies -------------------------------------------

    @abstractmethod
    def _tx(self, serial: str | None = None) -> AbstractAsyncContextManager[Conn]:
        """One write transaction. With ``serial`` (RECEIPTS or SCHEMA) it also waits for every other one
        of that name: a receipt parked by one is never missed by another recording the result naming it,
        and two processes opening one new database never both create or migrate it.
        """

    async def _claiming(self, c: Conn) -> tuple[str, list[Any]]:
        """Inside the claim's transaction, before it reads: a backend's owner bookkeeping, then what
        ``_held(mine=True)`` says for the claim to leave out."""
        return await self._held(c, "claimed_by", mine=True)

    @abstractmethod
    async def _upgrade(self, c: Conn, version: int) -> None:
        """The backend's own part of the step from ``version`` to ``version + 1``."""

    @abstractmethod
    def _types_ddl(self) -> str:
        """``schema.tables`` in this backend's words."""

    @abstractmethod
    def _step_2_to_3(self) -> str:
        """``schema.step_2_to_3`` in this backend's words."""

    @abstractmethod
    def _step_3_to_4(self) -> str:
        """``schema.step_3_to_4`` in this backend's words."""

    async def _wake(self, c: Conn) -> None:
        """Inside a transaction that made messages claimable now: tell other processes at its commit
        (see :meth:`Store.watch`). A backend without notifications does nothing; they poll."""

    def _clock(self) -> float:
        """time.time(), but a microsecond or more later than the last call's: trail entries (kept to the
        microsecond) of two calls never share ``at``."""
        now = micros(time.time())
        if now <= self._last_us:
            now = self._last_us + 1
        self._last_us = now
        return now / 1_000_000

    @asynccontextmanager
    async def _write(self, serial: str | None = None) -> AsyncIterator[Conn]:
        """``_tx``, and the words and templates it made known once it has committed (forgotten if not)."""
        try:
            async with self._tx(serial) as c:
                yield c
        except BaseException:
            self.texts.forget()
            raise
        self.texts.keep()

    # -- schema --------------------------------------------------------------

    async def _ensure_schema(self) -> None:
        """At open: the tables, as ``schema.VERSION`` has them. A current database costs one read."""
        if await self._found_version(self._reader()) != VERSION:
            async with self._write(SCHEMA) as c:
                await self._migrate(c)

    async def _found_version(self, c: Conn) -> int:
        """The schema version the database holds: 0 for none (empty), 1 for the format before versions."""
        if await c.has_table("schema_version"):
            rows = await c.fetch("SELECT MAX(version) FROM schema_version")
            return int(rows[0][0] or VERSION)
        return 1 if await c.has_table("messages") else 0

    async def _migrate(self, c: Conn) -> None:
        """Bring the database to ``schema.VERSION`` (inside the caller's transaction; see ``schema.py``)."""
        found = await self._found_version(c)
        if found == VERSION:
            return
        if found > VERSION:
            raise StoreError(f"the store has schema version {found}; this msgbridge reads up to {VERSION}")
        for version in range(found, VERSION) if found else ():  # 0: a new database, nothing to move
            log.info("store schema: version %d -> %d", version, version + 1)
            await self._upgrade(c, version)
            if version == 1 and await c.has_table("history"):
                await history_onto_trail(c, self.history_order)
            if version == 2:
                await outbox_to_v3(c, self.texts, self._step_2_to_3())
            if version == 3 and await c.has_table("inbound"):  # (a file older than MO has none: made below)
                for statement in statements(self._step_3_to_4()):
                    await c.execute(statement)
            if version == 4 and "callback_id" not in await c.columns("messages"):
                await c.execute(CALLBACK_COLUMN)
            if version == 5:
                have = await c.columns("messages")
                for name, kind in PRICE_COLUMNS:
                    if name not in have:
                        await c.execute(f"ALTER TABLE messages ADD COLUMN {name} {kind}")
        for statement in statements(self._types_ddl()):
            await c.execute(statement)
        await c.execute("DELETE FROM schema_version")
        await c.execute("INSERT INTO schema_version (version) VALUES (?)", [VERSION])

    # -- campaigns -----------------------------------------------------------

    async def save_campaign(self, record: CampaignRecord) -> None:
        self.texts.campaign_changed(record.name)
        async with self._tx() as c:
            await c.execute(
                f"INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET template = excluded.template, sender = excluded.sender, "
                "transport = excluded.transport, options = excluded.options",
                CampaignRow.of(record),
            )

    async def get_campaign(self, name: str) -> CampaignRecord | None:
        rows = await self._reader().fetch(f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE name = ?", [name])
        return CampaignRow(*rows[0]).record() if rows else None

    async def list_campaigns(self, limit: int) -> list[CampaignRecord]:
        rows = await self._reader().fetch(
            f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns ORDER BY created_at DESC, name LIMIT ?", [limit]
        )
        return [CampaignRow(*row).record() for row in rows]

    # -- outbox --------------------------------------------------------------

    async def enqueue(self, entries: Sequence[OutboxEntry]) -> list[str]:
        if not entries:
            return []
        # created_at on a microsecond: the trail's times are microseconds since it, subtracted by SQL's round()
        # and added back by Python's, which take a product ending in exactly .5 to different neighbours.
        now = micros(time.time()) / 1_000_000
        async with self._write() as c:
            bodies = await self.texts.body_columns(c, [(e.message, e.idempotency_key) for e in entries])
            currencies = {e.price[1] for e in entries if e.price is not None}
            insert = INSERT_PRICED_MESSAGES if currencies else INSERT_MESSAGES
            if currencies:
                ids_of = await self.texts.word_ids(c, currencies)
                rows = [
                    (*b, e.row, _QUEUED, 0.0, now, now, *_price(e.price, ids_of))
                    for b, e in zip(bodies, entries, strict=True)
                ]
            else:
                rows = [(*b, e.row, _QUEUED, 0.0, now, now) for b, e in zip(bodies, entries, strict=True)]
            # No trail entry for "enqueued": created_at is that entry (see get()).
            if await c.bulk(insert, rows) == len(entries):
                ids = [e.message.id for e in entries]
                new = list(entries)
            else:
                by_key: dict[tuple[int, str], str] = {}
                for prefix in {b[1] for b in bodies}:
                    rests = list({b[2] for b in bodies if b[1] == prefix})
                    for rest, message_id in await c.fetch_in(
                        "SELECT key_rest, id FROM messages WHERE key_prefix = ? AND key_rest {in}",
                        rests,
                        [prefix],
                    ):
                        by_key[(prefix, rest)] = message_id
                ids = [by_key[(b[1], b[2])] for b in bodies]
                new = [e for e, i in zip(entries, ids, strict=True) if i == e.message.id]
            if new:
                await self._wake(c)
        if len(self._written) + len(new) > WRITTEN_CACHE:
            self._written.clear()
        self._written.update((e.message.id, e.message) for e in new)
        return ids

    async def claim(
        self,
        limit: int,
        *,
        campaign: str | None = None,
        include_maybe: bool = False,
        now: float | None = None,
        ids: Sequence[str] | None = None,
        origin: str | None = None,
    ) -> list[MessageRecord]:
        if limit <= 0 or (ids is not None and not ids):
            return []
        at = time.time() if now is None else now
        statuses = claimable_statuses(include_maybe)
        scope, params = scope_sql(campaign, origin)
        where = f"status IN ({', '.join('?' * len(statuses))}) AND due <= ?{scope}"
        async with self._tx() as c:
            held, owners = await self._claiming(c)
            sql = (
                "UPDATE messages SET claimed_by = ?, attempts = attempts + 1, updated_at = ? WHERE id IN "
                f"(SELECT id FROM messages WHERE {where} AND (claimed_by IS NULL OR NOT ({held})){{in}} "
                f"ORDER BY due LIMIT ?{c.skip_locked}) RETURNING {MESSAGE_COLUMNS}, {BODY_COLUMNS}"
            )
            head = [self.token, at, *statuses, at, *params, *owners]
            if ids is None:
                rows = await c.fetch(sql.replace("{in}", ""), [*head, limit])
            else:
                # The first chunk only: a claim hands back at most one batch.
                statement, args = c.split_in(sql.replace("{in}", " AND id {in}"), list(ids), head)[0]
                rows = await c.fetch(statement, [*args, limit])
            known = {r[0]: m for r in rows if (m := self._written.pop(r[0], None)) is not None}
            records = await self.texts.records(c, rows, known)
        records.sort(key=lambda r: r.message.id)
        return records

    async def mark_in_doubt(self, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        async with self._tx() as c:
            # One statement per chunk rather than one step per row: this runs before every write group.
            # The status is checked, not looked up: with messages_due SQLite would scan every queued
            # message of the store for each group.
            for sql, args in c.split_in(
                f"UPDATE messages SET status = ?, updated_at = ? WHERE claimed_by = ? AND {c.unindexed('status')} "
                "IN (?, ?) AND id {in}",
                list(message_ids),
                [_MAYBE, time.time(), self.token, _QUEUED, _MAYBE],
            ):
                await c.execute(sql, args)

    async def release(self, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        async with self._tx() as c:
            given_back = 0
            for sql, args in c.split_in(
                "UPDATE messages SET claimed_by = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 "
                "ELSE 0 END WHERE claimed_by = ? AND status = ? AND id {in}",
                list(message_ids),
                [self.token, _QUEUED],
            ):
                given_back += await c.execute(sql, args)
            if given_back:
                await self._wake(c)

    async def _statuses(
        self, c: Conn, message_ids: Iterable[str], targets: dict[str, int] | None = None
    ) -> dict[str, DeliveryStatus]:
        """Current statuses; where the backend locks, the rows are locked, in id order, for the transaction.
        The callback target of each message that has one goes into ``targets`` (its event's, if any)."""
        wanted = list(message_ids)
        if not wanted:
            return {}
        rows = await c.fetch_in(
            f"SELECT id, status, callback_id FROM messages WHERE id {{in}} ORDER BY id{c.lock}", wanted
        )
        if targets is not None:
            targets.update((message_id, target) for message_id, _, target in rows if target is not None)
        return {message_id: _STATUS[status] for message_id, status, _ in rows}

    def want_events(self, format: str, by_mask: Mapping[int | None, frozenset[DeliveryStatus]]) -> None:
        self.event_rules.register(format, by_mask)

    async def _write_events(self, c: Conn, rows: Sequence[Sequence[Any]]) -> None:
        """``events.write_events``, less what no target wants (``eventrules.py``)."""
        kept = await self.event_rules.apply(c, self.texts, rows, record_all=self.record_all_events)
        await events.write_events(c, kept)

    def _evented(self, targets: dict[str, int]) -> bool:
        """Whether a change may need an event: every one is recorded, or some message has a target."""
        return self.record_all_events or bool(targets)

    async def record_results(self, results: Sequence[SendResult], *, link: str) -> None:
        if not results:
            return
        now = self._clock()
        at_us = micros(now)
        async with self._write(RECEIPTS) as c:
            targets: dict[str, int] = {}
            current = await self._statuses(c, {r.message_id for r in results}, targets)
            plan = plan_results(results, current, link=link, now=now)
            # The links the results went out on, and the currencies of their costs.
            word = await self.texts.word_ids(c, [link, *plan.links, *(cur for _, cur, _ in plan.costs)])
            if plan.attempts:
                await c.bulk(ATTEMPT_TRAIL, plan.attempts)
            # plan.history has one entry per update, in the same order.
            await c.bulk(
                RESULT_UPDATE,
                [
                    (
                        *u[:3],
                        word[u[3]],
                        *u[4:-1],
                        *due_after(status, now),
                        at_us,
                        trail_tail(status, note),
                        u[-1],
                    )
                    for u, (_, _, status, note) in zip(plan.updates, plan.history, strict=True)
                ],
            )
            await c.bulk(SEGMENT_UPSERT, plan.segments)
            if plan.costs:
                await c.bulk(COST_UPDATE, [(n, word[cur], m) for n, cur, m in plan.costs])
            if self._evented(targets):
                # MAYBE_SUBMITTED again is an outcome too: the mark before the write was no event.
                await self._write_events(
                    c,
                    [
                        events.status_event(m, status, None, events.result_error(u), targets.get(m), now)
                        for u, (m, _, status, _) in zip(plan.updates, plan.history, strict=True)
                        if (m in targets or self.record_all_events)
                        and (status != current[m] or status is _MAYBE)
                    ],
                )
            if plan.native_ids and await c.fetch("SELECT 1 FROM receipts WHERE NOT matched LIMIT 1"):
                # Later than ``now``: a message may get its result and a parked receipt in this one call.
                await self._match_parked(c, plan.native_ids, self._clock())

    async def requeue(
        self, message_ids: Sequence[str], *, not_before: float, error: ErrorInfo | None
    ) -> None:
        if not message_ids:
            return
        now = self._clock()
        err = error_columns(error)
        at_us, tail = micros(now), trail_tail(_QUEUED, "requeued" + (f": {error}" if error else ""))
        async with self._tx() as c:
            current = await self._statuses(c, set(message_ids))
            movable = [i for i in message_ids if current.get(i) in (_QUEUED, _MAYBE)]
            await c.bulk(REQUEUE_UPDATE, [(_QUEUED, not_before, *err, now, at_us, tail, i) for i in movable])
            if movable and not_before <= now:
                await self._wake(c)

    async def cancel(self, campaign: str) -> int:
        now = self._clock()
        # Serialised with results and receipts: it may write events, whose numbers follow commit order.
        async with self._tx(RECEIPTS) as c:
            held, owners = await self._held(c, "claimed_by", mine=True)
            rows = await c.fetch(
                f"UPDATE messages SET status = ?, due = NULL, claimed_by = NULL, updated_at = ?, {APPEND_TRAIL} "
                f"WHERE id IN (SELECT id FROM messages WHERE status = ? AND due IS NOT NULL AND campaign_id = {WORD} "
                f"AND (claimed_by IS NULL OR NOT ({held})){c.skip_locked}) RETURNING id, callback_id",
                [_CANCELED, now, micros(now), trail_tail(_CANCELED, "canceled"), _QUEUED, campaign, *owners],
            )
            await self._write_events(
                c,
                [
                    events.status_event(m, _CANCELED, None, (None, None, None), target, now)
                    for m, target in sorted(rows, key=lambda r: str(r[0]))
                    if target is not None or self.record_all_events
                ],
            )
        return len(rows)

    # -- receipts --------------------------------------------------------------

    async def record_receipts(self, receipts: Sequence[DeliveryReceipt]) -> int:
        if not receipts:
            return 0
        now = self._clock()
        async with self._tx(RECEIPTS) as c:
            matched, unmatched = await self._apply(c, [(None, r) for r in receipts], now)
            # Only parked receipts are kept as rows; a matched one lives on as its message's trail entry.
            await c.bulk(PARK_RECEIPTS, [parked_params(r) for _, r in unmatched])
        if unmatched:
            log.debug("parked %d receipts for native ids not known yet", len(unmatched))
        return len(matched)

    async def _match_parked(self, c: Conn, native_ids: Sequence[str], now: float) -> None:
        rows = await c.fetch_in(
            f"SELECT {PARKED_COLUMNS} FROM receipts WHERE NOT matched AND native_id {{in}} ORDER BY id{c.lock}",
            list(native_ids),
        )
        if not rows:
            return
        parked: list[Item] = [(row.id, row.receipt()) for row in (ParkedRow(*r) for r in rows)]
        matched, _ = await self._apply(c, parked, now)
        await c.bulk(MATCH_PARKED, [(message_id, receipt_id) for (receipt_id, _), message_id in matched])
        log.debug("matched %d parked receipts", len(matched))

    async def _apply(
        self, c: Conn, receipts: Sequence[Item], now: float
    ) -> tuple[list[tuple[Item, str]], list[Item]]:
        """Merge receipts into segments and messages; return (matched with message id, unmatched).

        A single-part message is matched on its own row (no segment rows are
        written for it: that halves the writes of the common case); a
        multi-part one through ``segments``, one row per part.
        """
        # native id -> [(message_id, seq or None for a single-part message, link)]
        where: dict[str, list[Place]] = {}
        current: dict[str, DeliveryStatus] = {}
        ids = list({r.native_id for _, r in receipts})
        found = await c.fetch_in(
            "SELECT id, link_id, native_id, status, callback_id FROM messages WHERE native_ids IS NULL "
            "AND native_id {in}",
            ids,
        )
        await self.texts.load(c, [r[1] for r in found])
        words = self.texts.words
        targets = {r[0]: r[4] for r in found if r[4] is not None}
        for message_id, link_id, native_id, status, _ in found:  # one pass per receipt: kept lean
            place = (message_id, None, words[link_id] if link_id is not None else "")
            places = where.get(native_id)
            if places is None:
                where[native_id] = [place]
            else:
                places.append(place)
            current[message_id] = _STATUS[status]
        multipart: set[str] = set()
        for message_id, seq, link, native_id in await c.fetch_in(
            "SELECT message_id, seq, link, native_id FROM segments WHERE native_id {in}", ids
        ):
            where.setdefault(native_id, []).append((message_id, seq, link))
            multipart.add(message_id)
        hinted = {r.message_id for _, r in receipts if r.message_id and r.native_id not in where}
        if c.lock:  # read again, locked in id order: the statuses read above may change until then
            current = await self._statuses(c, multipart | hinted | current.keys(), targets)
        else:
            current.update(await self._statuses(c, (multipart | hinted) - current.keys(), targets))
        segs: dict[str, dict[int, DeliveryStatus]] = {}
        if multipart:
            for message_id, seq, status in await c.fetch_in(
                "SELECT message_id, seq, status FROM segments WHERE message_id {in}", list(multipart)
            ):
                segs.setdefault(message_id, {})[seq] = _STATUS[status]

        plan = plan_receipts(receipts, where, current, segs)
        await c.bulk(SEGMENT_STATUS, [(s, m, q) for (m, q), s in plan.segments.items()])
        costs = [(r.cost, m) for (_, r), m in plan.matched if r.cost is not None]
        if costs:  # (a parked receipt keeps no cost: providers that report one are polled, never parked)
            currencies = await self.texts.word_ids(c, [cost[1] for cost, _ in costs])
            await c.bulk(COST_UPDATE, [(cost[0], currencies[cost[1]], m) for cost, m in costs])
        at_us = micros(now)
        await c.bulk(
            RECEIPT_UPDATE,
            [
                (s, *error_columns(e)[:3], now, *due_after(s, now), at_us, trail_tail(s, f"receipt {n}"), m)
                for m, (s, e, n) in plan.messages.items()
            ],
        )
        if self._evented(targets):
            await self._write_events(
                c,
                [
                    events.status_event(m, s, n, events.receipt_error(e), targets.get(m), now)
                    for m, (s, e, n) in plan.messages.items()
                    if (m in targets or self.record_all_events) and s != current[m]
                ],
            )
        return plan.matched, plan.unmatched

    # -- inbound ---------------------------------------------------------------

    async def add_inbound(self, messages: Sequence[InboundMessage]) -> None:
        if not messages:
            return
        # Serialised with receipts: a number (``inbound.n``) is taken and committed under one lock, so the
        # numbers commit in order and a reader paging by them never passes one that commits later.
        async with self._write(RECEIPTS) as c:
            rows = []
            if self.inbound_target is not None or self.inbound_router is not None or self.record_all_events:
                rows = await events.inbound_events(
                    c,
                    self.texts,
                    messages,
                    self.inbound_target_of,
                    self._clock(),
                    record_all=self.record_all_events,
                )
            await c.bulk(INSERT_INBOUND, [InboundRow.of(m) for m in messages])
            await self._write_events(c, rows)

    # -- events (events.py) ------------------------------------------------------

    async def claim_events(
        self,
        limit: int,
        *,
        now: float,
        lease: float,
        formats: Sequence[str] | None = None,
        urls: Sequence[str] | None = None,
        done: Sequence[EventOutcome] = (),
    ) -> list[StoredEvent]:
        if limit <= 0:
            await self.events_done(done)
            return []
        async with self._tx() as c:
            if done:
                await c.bulk(events.EVENT_DONE, events.done_rows(done, self.token))
            return await events.claim_events(
                c, self.texts, self.token, limit, now=now, lease=lease, formats=formats, urls=urls
            )

    async def events_done(self, outcomes: Sequence[EventOutcome]) -> None:
        if outcomes:
            async with self._tx() as c:
                await c.bulk(events.EVENT_DONE, events.done_rows(outcomes, self.token))

    async def replay_events(self, *, since: float, message_id: str | None = None) -> int:
        async with self._tx() as c:
            return await events.replay_events(c, since=since, message_id=message_id, now=time.time())
