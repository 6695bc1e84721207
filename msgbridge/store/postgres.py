"""The PostgreSQL store, for several workers sharing one queue (``postgresql://...``, asyncpg).

Same tables and rules as the SQLite store (see ``sqlite.py``); what differs is
what several processes at once need:

- ``claim`` takes rows with ``FOR UPDATE SKIP LOCKED``, so two dispatchers
  never claim the same message and never wait on each other;
- result and receipt writes lock the message rows they read, in id order, so
  a receipt racing its own send result cannot lose an update or deadlock;
- recording results and receipts is serialised by a transaction-level
  advisory lock (taken before any row lock): otherwise a receipt parked by
  one transaction while another records the result naming it would be seen
  by neither, and never matched;
- batches travel as arrays (``unnest``/``ANY``): one statement for a whole
  batch, one transaction per call;
- a claim is stamped with its store's owner token, and each open store holds
  a session advisory lock on that token. A claimed message stays QUEUED
  (owned, not in doubt) until ``mark_in_doubt``; ``claim`` never takes what
  another *live* worker holds, and ``in_doubt`` leaves out what such a worker
  has written and not answered yet (it is in flight, not left behind), so a
  worker joining a running campaign settles only what a dead one left. The
  lock ends with its session, so a killed worker's claims are claimed again
  (never written) or settled (in doubt) by the next run.

``PostgresStore(dsn, schema="name")`` keeps the tables in their own schema
(created if missing), which is also how tests isolate themselves.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from msgbridge.core.errors import ConfigError, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.status import AWAITING_RECEIPT, DeliveryStatus
from msgbridge.core.url import redact
from msgbridge.store.base import CampaignRecord, DoubtCounts, MessageRecord, OutboxEntry, Store
from msgbridge.store.plans import (
    CAMPAIGN_COLUMNS,
    INBOUND_COLUMNS,
    STATUS_BY_VALUE,
    Item,
    Place,
    campaign_from_row,
    campaign_params,
    claimable_statuses,
    error_columns,
    error_from,
    inbound_from_row,
    inbound_params,
    plan_receipts,
    plan_results,
)

_STATUS = STATUS_BY_VALUE
AWAITING = [s.value for s in sorted(AWAITING_RECEIPT)]

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    name TEXT PRIMARY KEY,
    template TEXT NOT NULL,
    sender TEXT,
    transport TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    options TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    campaign TEXT,
    reference TEXT,
    csv_row INTEGER,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    native_id TEXT,
    native_ids TEXT,
    link TEXT,
    segments INTEGER NOT NULL DEFAULT 1,
    error_code TEXT,
    error_native_code TEXT,
    error_text TEXT,
    error_retry_after DOUBLE PRECISION,
    next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    claimed_by INTEGER
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (status, campaign, next_attempt_at);
CREATE INDEX IF NOT EXISTS messages_reference ON messages (reference) WHERE reference IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_native ON messages (native_id, link) WHERE native_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS segments (
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    link TEXT NOT NULL,
    native_id TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (message_id, seq)
);
CREATE INDEX IF NOT EXISTS segments_native ON segments (native_id, link);
CREATE TABLE IF NOT EXISTS history (
    id BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS history_message ON history (message_id, id);
CREATE TABLE IF NOT EXISTS receipts (
    id BIGSERIAL PRIMARY KEY,
    link TEXT NOT NULL,
    native_id TEXT NOT NULL,
    status TEXT NOT NULL,
    native_status TEXT NOT NULL DEFAULT '',
    error TEXT,
    message_hint TEXT,
    received_at DOUBLE PRECISION NOT NULL,
    message_id TEXT,
    matched BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_parked ON receipts (native_id) WHERE NOT matched;
CREATE TABLE IF NOT EXISTS inbound (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    parts INTEGER NOT NULL,
    raw TEXT
);
CREATE INDEX IF NOT EXISTS inbound_received ON inbound (received_at);
"""

_COLUMNS = (
    "id, status, attempts, native_id, native_ids, link, segments, error_code, error_native_code, "
    "error_text, error_retry_after, created_at, updated_at, body"
)
_HISTORY_BULK = (
    "INSERT INTO history (message_id, at, status, note) "
    "SELECT * FROM unnest($1::text[], $2::float8[], $3::text[], $4::text[])"
)
# Tables made before claims carried their owner's token get the column (checked first: ALTER TABLE would
# take an exclusive lock on every open).
_ADD_CLAIMED_BY = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'messages'
                   AND column_name = 'claimed_by') THEN
        ALTER TABLE messages ADD COLUMN claimed_by INTEGER;
    END IF;
END $$;
"""
# Owner tokens whose store is open: the advisory locks (two-key form, objsubid 2) held in this database.
_LIVE_OWNERS = (
    "SELECT l.objid::text::int FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
    "AND l.objsubid = 2 AND l.classid = {space}::int4::oid "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _record(row: asyncpg.Record, history: Sequence[asyncpg.Record] = ()) -> MessageRecord:
    return MessageRecord(
        message=Message.model_validate_json(row["body"]),
        status=_STATUS[row["status"]],
        attempts=row["attempts"],
        native_id=row["native_id"],
        native_ids=tuple(json.loads(row["native_ids"])) if row["native_ids"] else (),
        link=row["link"],
        segments=row["segments"],
        last_error=error_from(
            row["error_code"], row["error_native_code"], row["error_text"], row["error_retry_after"]
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        history=tuple((h["at"], _STATUS[h["status"]], h["note"]) for h in history),
    )


def _plain(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Statuses as plain strings for the driver."""
    return [tuple(v.value if isinstance(v, DeliveryStatus) else v for v in row) for row in rows]


async def _bulk(conn: asyncpg.Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """One statement for many rows: ``rows`` go in column by column, as the arrays ``sql`` unnests."""
    if rows:
        await conn.execute(sql, *(list(column) for column in zip(*_plain(rows), strict=True)))


class PostgresStore(Store):
    driver_errors = (asyncpg.PostgresError, asyncpg.InterfaceError)

    def __init__(self, dsn: str, *, schema: str | None = None, pool_size: int = 4) -> None:
        if schema is not None and not _IDENT.fullmatch(schema):
            raise ConfigError(f"schema name {schema!r} is not a plain identifier")
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        # One receipt-matching lock per schema.
        self._lock_key = zlib.crc32(f"msgbridge-receipts:{schema or ''}".encode())
        # Owner locks live in a key space of their own per schema: (space, token), token > 0.
        space = zlib.crc32(f"msgbridge-claims:{schema or ''}".encode())
        self._owner_space = space - 2**32 if space >= 2**31 else space
        self._owner: asyncpg.Connection | None = None
        self.token = 0

    async def open(self) -> None:
        if self._pool is not None:
            return
        settings = {"search_path": self.schema} if self.schema else None
        try:
            if self.schema:
                conn = await asyncpg.connect(self.dsn)
                try:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                finally:
                    await conn.close()
            pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.pool_size, server_settings=settings
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise ConfigError(f"cannot open PostgreSQL store: {exc}") from exc
        except ValueError:
            # The driver's own message quotes the piece of the DSN it could not read: maybe the password.
            raise ConfigError(f"cannot open PostgreSQL store {redact(self.dsn)}: the DSN is malformed") from None
        assert pool is not None
        async with pool.acquire() as conn:
            # Two workers starting at once must not both run the DDL half-way.
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(4242017)")
                await conn.execute(SCHEMA)
                await conn.execute(_ADD_CLAIMED_BY)
        try:
            await self._take_owner_token()
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def _take_owner_token(self) -> None:
        """Hold a session advisory lock on a fresh token for as long as the store is open (see the module doc)."""
        owner = await asyncpg.connect(self.dsn)
        try:
            while True:
                token = secrets.randbelow(2**31 - 1) + 1
                if await owner.fetchval("SELECT pg_try_advisory_lock($1, $2)", self._owner_space, token):
                    break
        except BaseException:
            await owner.close()
            raise
        self._owner, self.token = owner, token

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._owner is not None:
            await self._owner.close()
            self._owner = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open: use 'async with store:' or await store.open()")
        return self._pool

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    # -- campaigns -------------------------------------------------------

    async def save_campaign(self, record: CampaignRecord) -> None:
        await self.pool.execute(
            f"INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET template = excluded.template, "
            "sender = excluded.sender, transport = excluded.transport, options = excluded.options",
            *campaign_params(record),
        )

    async def get_campaign(self, name: str) -> CampaignRecord | None:
        row = await self.pool.fetchrow(f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE name = $1", name)
        return campaign_from_row(row) if row is not None else None

    # -- outbox ----------------------------------------------------------

    async def enqueue(self, entries: Sequence[OutboxEntry]) -> list[str]:
        if not entries:
            return []
        now = time.time()
        async with self._tx() as conn:
            inserted = await conn.fetch(
                "INSERT INTO messages (id, idempotency_key, campaign, reference, csv_row, body, status, "
                "created_at, updated_at) SELECT i, k, c, r, n, b, $7, $8, $8 "
                "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[]) AS t(i, k, c, r, n, b) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                [e.message.id for e in entries],
                [e.idempotency_key for e in entries],
                [e.message.campaign for e in entries],
                [e.message.reference for e in entries],
                [e.row for e in entries],
                [e.message.model_dump_json() for e in entries],
                DeliveryStatus.QUEUED.value,
                now,
            )
            if len(inserted) == len(entries):
                return [e.message.id for e in entries]
            rows = await conn.fetch(
                "SELECT idempotency_key, id FROM messages WHERE idempotency_key = ANY($1::text[])",
                list({e.idempotency_key for e in entries}),
            )
        by_key = {r["idempotency_key"]: r["id"] for r in rows}
        return [by_key[e.idempotency_key] for e in entries]

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
        rows = await self.pool.fetch(
            f"UPDATE messages m SET attempts = m.attempts + 1, updated_at = $1, claimed_by = $6 FROM "
            f"(SELECT id FROM messages WHERE status = ANY($2::text[]) AND next_attempt_at <= $1 "
            f"AND ($3::text IS NULL OR campaign = $3) AND ($4::text[] IS NULL OR id = ANY($4::text[])) "
            f"AND ($7::text IS NULL OR starts_with(idempotency_key, $7)) "
            f"AND (claimed_by IS NULL OR claimed_by NOT IN ({_LIVE_OWNERS.format(space='$8')})) "
            f"ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED) c WHERE m.id = c.id "
            f"RETURNING {', '.join('m.' + c.strip() for c in _COLUMNS.split(','))}",
            at,
            statuses,
            campaign,
            list(ids) if ids is not None else None,
            limit,
            self.token,
            origin,
            self._owner_space,
        )
        return sorted((_record(r) for r in rows), key=lambda r: r.message.id)

    async def mark_in_doubt(self, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        await self.pool.execute(
            "UPDATE messages SET status = $1, updated_at = $2 WHERE id = ANY($3::text[]) AND claimed_by = $4 "
            "AND status = ANY($5::text[])",
            DeliveryStatus.MAYBE_SUBMITTED.value,
            time.time(),
            list(message_ids),
            self.token,
            claimable_statuses(True),
        )

    async def release(self, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        await self.pool.execute(
            "UPDATE messages SET claimed_by = NULL, attempts = GREATEST(attempts - 1, 0) "
            "WHERE id = ANY($1::text[]) AND claimed_by = $2 AND status = $3",
            list(message_ids),
            self.token,
            DeliveryStatus.QUEUED.value,
        )

    async def _statuses(
        self, conn: asyncpg.Connection, message_ids: Sequence[str]
    ) -> dict[str, DeliveryStatus]:
        """Current statuses, with the rows locked in id order for the rest of the transaction."""
        rows = await conn.fetch(
            "SELECT id, status FROM messages WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
            list(message_ids),
        )
        return {r["id"]: _STATUS[r["status"]] for r in rows}

    async def record_results(self, results: Sequence[SendResult], *, link: str) -> None:
        if not results:
            return
        now = time.time()
        async with self._tx() as conn:
            # The advisory lock before any row lock, as in record_receipts: one order, no deadlock.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", self._lock_key)
            current = await self._statuses(conn, [r.message_id for r in results])
            plan = plan_results(results, current, link=link, now=now)
            await _bulk(
                conn,
                "UPDATE messages m SET status = u.s, native_id = COALESCE(u.n, m.native_id), "
                "native_ids = COALESCE(u.ns, m.native_ids), link = u.l, segments = u.g, error_code = u.ec, "
                "error_native_code = u.en, error_text = u.et, error_retry_after = u.er, updated_at = u.at, "
                "claimed_by = NULL FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], "
                "$8::text[], $9::float8[], $10::float8[], $11::text[]) AS u(s, n, ns, l, g, ec, en, et, er, at, id) "
                "WHERE m.id = u.id",
                plan.updates,
            )
            if plan.segments:
                await conn.executemany(
                    "INSERT INTO segments (message_id, seq, link, native_id, status) VALUES ($1, $2, $3, $4, $5) "
                    "ON CONFLICT (message_id, seq) DO UPDATE SET link = excluded.link, "
                    "native_id = excluded.native_id, status = excluded.status",
                    _plain(plan.segments),
                )
            await _bulk(conn, _HISTORY_BULK, plan.history)
            if plan.native_ids and await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM receipts WHERE NOT matched)"
            ):
                await self._match_parked(conn, plan.native_ids, now)

    async def requeue(
        self, message_ids: Sequence[str], *, not_before: float, error: ErrorInfo | None
    ) -> None:
        if not message_ids:
            return
        now = time.time()
        queued = DeliveryStatus.QUEUED.value
        err = error_columns(error)
        note = "requeued" + (f": {error}" if error else "")
        async with self._tx() as conn:
            current = await self._statuses(conn, message_ids)
            movable = [
                i
                for i in message_ids
                if current.get(i) in (DeliveryStatus.QUEUED, DeliveryStatus.MAYBE_SUBMITTED)
            ]
            await conn.execute(
                "UPDATE messages SET status = $1, next_attempt_at = $2, error_code = COALESCE($3, error_code), "
                "error_native_code = COALESCE($4, error_native_code), error_text = COALESCE($5, error_text), "
                "error_retry_after = $6, updated_at = $7, claimed_by = NULL WHERE id = ANY($8::text[])",
                queued,
                not_before,
                *err,
                now,
                movable,
            )
            await _bulk(conn, _HISTORY_BULK, [(i, now, queued, note) for i in movable])

    # -- receipts --------------------------------------------------------

    async def record_receipts(self, receipts: Sequence[DeliveryReceipt]) -> int:
        if not receipts:
            return 0
        now = time.time()
        async with self._tx() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", self._lock_key)
            matched, unmatched = await self._apply(conn, [(None, r) for r in receipts], now)
            if unmatched:
                # Only parked receipts are kept as rows; a matched one lives on as its message's history entry.
                await conn.executemany(
                    "INSERT INTO receipts (link, native_id, status, native_status, error, message_hint, received_at, "
                    "matched) VALUES ($1, $2, $3, $4, $5, $6, $7, false)",
                    [
                        (
                            r.link,
                            r.native_id,
                            r.status.value,
                            r.native_status,
                            r.error.model_dump_json() if r.error else None,
                            r.message_id,
                            r.received_at,
                        )
                        for _, r in unmatched
                    ],
                )
        return len(matched)

    async def _match_parked(self, conn: asyncpg.Connection, native_ids: Sequence[str], now: float) -> None:
        rows = await conn.fetch(
            "SELECT * FROM receipts WHERE NOT matched AND native_id = ANY($1::text[]) ORDER BY id FOR UPDATE",
            list(native_ids),
        )
        parked: list[Item] = [
            (
                row["id"],
                DeliveryReceipt(
                    link=row["link"],
                    native_id=row["native_id"],
                    status=_STATUS[row["status"]],
                    native_status=row["native_status"],
                    error=ErrorInfo.model_validate_json(row["error"]) if row["error"] else None,
                    message_id=row["message_hint"],
                    received_at=row["received_at"],
                ),
            )
            for row in rows
        ]
        if not parked:
            return
        matched, _ = await self._apply(conn, parked, now)
        await conn.executemany(
            "UPDATE receipts SET matched = true, message_id = $1 WHERE id = $2",
            [(message_id, receipt_id) for (receipt_id, _), message_id in matched],
        )

    async def _apply(
        self, conn: asyncpg.Connection, receipts: Sequence[Item], now: float
    ) -> tuple[list[tuple[Item, str]], list[Item]]:
        """Read (and lock) what the receipts concern, plan, write; see SqliteStore._apply."""
        ids = list({r.native_id for _, r in receipts})
        where: dict[str, list[Place]] = {}
        singles = await conn.fetch(
            "SELECT id, link, native_id FROM messages WHERE native_id = ANY($1::text[]) AND native_ids IS NULL",
            ids,
        )
        for row in singles:
            where.setdefault(row["native_id"], []).append((row["id"], None, row["link"]))
        for row in await conn.fetch(
            "SELECT message_id, seq, link, native_id FROM segments WHERE native_id = ANY($1::text[])", ids
        ):
            where.setdefault(row["native_id"], []).append((row["message_id"], row["seq"], row["link"]))
        multipart = {m for places in where.values() for m, seq, _ in places if seq is not None}
        concerned = {m for places in where.values() for m, _, _ in places}
        concerned |= {r.message_id for _, r in receipts if r.message_id and r.native_id not in where}
        if not concerned:
            return [], list(receipts)
        current = await self._statuses(conn, list(concerned))
        segs: dict[str, dict[int, DeliveryStatus]] = {}
        if multipart:
            for row in await conn.fetch(
                "SELECT message_id, seq, status FROM segments WHERE message_id = ANY($1::text[])",
                list(multipart),
            ):
                segs.setdefault(row["message_id"], {})[row["seq"]] = _STATUS[row["status"]]
        plan = plan_receipts(receipts, where, current, segs)
        if plan.segments:
            await conn.executemany(
                "UPDATE segments SET status = $1 WHERE message_id = $2 AND seq = $3",
                [(s.value, m, q) for (m, q), s in plan.segments.items()],
            )
        await _bulk(
            conn,
            "UPDATE messages m SET status = u.s, error_code = COALESCE(u.ec, m.error_code), "
            "error_native_code = COALESCE(u.en, m.error_native_code), error_text = COALESCE(u.et, m.error_text), "
            "updated_at = u.at FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[]) "
            "AS u(s, ec, en, et, at, id) WHERE m.id = u.id",
            [(s, *error_columns(e)[:3], now, m) for m, (s, e, _) in plan.messages.items()],
        )
        await _bulk(
            conn, _HISTORY_BULK, [(m, now, s, f"receipt {n}") for m, (s, _, n) in plan.messages.items()]
        )
        return plan.matched, plan.unmatched

    # -- reads -----------------------------------------------------------

    async def get(self, message_id: str) -> MessageRecord | None:
        row = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM messages WHERE id = $1", message_id)
        if row is None:
            return None
        history = await self.pool.fetch(
            "SELECT at, status, note FROM history WHERE message_id = $1 ORDER BY id", message_id
        )
        enqueued = {"at": row["created_at"], "status": DeliveryStatus.QUEUED.value, "note": "enqueued"}
        return _record(row, [enqueued, *history])

    async def find_by_reference(self, reference: str) -> MessageRecord | None:
        mid = await self.pool.fetchval(
            "SELECT id FROM messages WHERE reference = $1 ORDER BY created_at DESC LIMIT 1", reference
        )
        return await self.get(mid) if mid else None

    async def counts(self, campaign: str | None = None) -> dict[DeliveryStatus, int]:
        rows = await self.pool.fetch(
            "SELECT status, COUNT(*) AS n FROM messages WHERE ($1::text IS NULL OR campaign = $1) GROUP BY status",
            campaign,
        )
        return {_STATUS[r["status"]]: r["n"] for r in rows}

    async def pending_native_ids(self, link: str, limit: int) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT native_id FROM messages WHERE link = $1 AND native_id IS NOT NULL "
            "AND status = ANY($2::text[]) ORDER BY updated_at LIMIT $3",
            link,
            AWAITING,
            limit,
        )
        return [r["native_id"] for r in rows]

    async def in_doubt(
        self, limit: int, *, campaign: str | None = None, origin: str | None = None
    ) -> list[MessageRecord]:
        """MAYBE_SUBMITTED messages, less those another open store has claimed and not answered yet."""
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM messages WHERE status = $1 AND ($2::text IS NULL OR campaign = $2) "
            f"AND (claimed_by IS NULL OR claimed_by = $4 OR claimed_by NOT IN ({_LIVE_OWNERS.format(space='$5')})) "
            "AND ($6::text IS NULL OR starts_with(idempotency_key, $6)) "
            "ORDER BY id LIMIT $3",
            DeliveryStatus.MAYBE_SUBMITTED.value,
            campaign,
            limit,
            self.token,
            self._owner_space,
            origin,
        )
        return [_record(r) for r in rows]

    async def doubt_counts(self, campaign: str | None = None, origin: str | None = None) -> DoubtCounts:
        row = await self.pool.fetchrow(
            f"SELECT COUNT(*) FILTER (WHERE held) AS held, COUNT(*) FILTER (WHERE NOT held) AS gone FROM "
            f"(SELECT (claimed_by IS NOT NULL AND claimed_by <> $3 AND claimed_by IN "
            f"({_LIVE_OWNERS.format(space='$4')})) AS held FROM messages WHERE status = $1 "
            "AND ($2::text IS NULL OR campaign = $2) AND ($5::text IS NULL OR starts_with(idempotency_key, $5))) d",
            DeliveryStatus.MAYBE_SUBMITTED.value,
            campaign,
            self.token,
            self._owner_space,
            origin,
        )
        return DoubtCounts(left=row["gone"], held=row["held"])

    async def next_due(self, *, campaign: str | None = None, origin: str | None = None) -> float | None:
        value = await self.pool.fetchval(
            "SELECT MIN(next_attempt_at) FROM messages WHERE status = $1 AND ($2::text IS NULL OR campaign = $2) "
            "AND ($3::text IS NULL OR starts_with(idempotency_key, $3)) "
            f"AND (claimed_by IS NULL OR claimed_by NOT IN ({_LIVE_OWNERS.format(space='$4')}))",
            DeliveryStatus.QUEUED.value,
            campaign,
            origin,
            self._owner_space,
        )
        return float(value) if value is not None else None

    # -- inbound ---------------------------------------------------------

    async def add_inbound(self, messages: Sequence[InboundMessage]) -> None:
        if not messages:
            return
        await self.pool.executemany(
            f"INSERT INTO inbound ({INBOUND_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
            [inbound_params(m) for m in messages],
        )

    async def list_inbound(self, limit: int = 100) -> list[InboundMessage]:
        rows = await self.pool.fetch(
            f"SELECT {INBOUND_COLUMNS} FROM inbound ORDER BY received_at DESC, id DESC LIMIT $1", limit
        )
        return [inbound_from_row(r) for r in rows]
