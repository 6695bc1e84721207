"""The embedded store: one SQLite file in WAL mode, stdlib ``sqlite3``.

Why synchronous calls on the event loop and no aiosqlite: every method is one
transaction of batched statements (``executemany`` over a whole batch), which
takes well under a millisecond per hundred messages, and ordering stays
simple: two coroutines can never interleave inside one store call. Moving the
calls to a dedicated thread was measured and is slower: the sqlite3 module
releases and retakes the GIL around every step (every row of an
``executemany``), and a thread that wants the GIL back while the busy loop
holds it waits out the switch interval (5 ms), so store calls took 60-150 ms
each and a 100,000-message SMPP campaign ran at 7,600/s instead of 11,800/s.
Passing each batch as one JSON parameter (one step per statement) still took
90 µs of CPU per message against 58 µs on the loop. What does run on another
thread is the WAL checkpoint (``_Checkpointer``): one statement that holds no
GIL for its whole length.

Durability: WAL with ``synchronous=NORMAL`` survives a killed process (the
case the dispatcher's MAYBE_SUBMITTED bookkeeping is about); pass
``synchronous="FULL"`` to survive power loss as well, at a cost per commit.

Receipts are matched per part: a single-part message on its own row
(``messages.native_id``), a multi-part one (SMPP long messages, one native id
per part) through ``segments``, and a message's status becomes
``merge(current, aggregate(part statuses))``. Receipts whose native id is not
known yet are kept in ``receipts`` (parked) and matched when the send result
naming that id is recorded.

What is written per message is kept small because it is written for every
message: the body once (``bodies``), and a line in the message's ``trail``
per status change from a send result, a requeue or a receipt, appended by the
UPDATE that changes the status. The enqueue itself is the message's
``created_at``; a claim is counted in ``attempts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from msgbridge.core.errors import ErrorInfo
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.status import AWAITING_RECEIPT, DeliveryStatus
from msgbridge.store.base import CampaignRecord, DoubtCounts, MessageRecord, OutboxEntry, Store
from msgbridge.store.owners import LEASE_SECONDS, OWNERS_SCHEMA, RENEW_EVERY, OwnerRow, new_token, split_live
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

log = logging.getLogger(__name__)

# Most enqueued messages kept in memory for claim() to hand back without a read.
WRITTEN_CACHE = 200_000
# Seconds between background WAL checkpoints (see _Checkpointer).
CHECKPOINT_INTERVAL = 0.25
# SQLite's bound-parameter limit is 32766 since 3.32; stay far below it.
CHUNK = 900

AWAITING = sorted(AWAITING_RECEIPT)

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    name TEXT PRIMARY KEY,
    template TEXT NOT NULL,
    sender TEXT,
    transport TEXT,
    created_at REAL NOT NULL,
    options TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    campaign TEXT,
    reference TEXT,
    row INTEGER,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    native_id TEXT,
    native_ids TEXT,
    link TEXT,
    segments INTEGER NOT NULL DEFAULT 1,
    error_code TEXT,
    error_native_code TEXT,
    error_text TEXT,
    error_retry_after REAL,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    trail TEXT,
    claimed_by TEXT
);
-- Every index costs each status change a write: keep to the ones a hot path reads.
CREATE INDEX IF NOT EXISTS messages_due ON messages (status, campaign, next_attempt_at);
CREATE INDEX IF NOT EXISTS messages_reference ON messages (reference) WHERE reference IS NOT NULL;
-- Receipts of single-part messages match here, (link, native_id) with native_id first; multi-part
-- messages match through ``segments``.
CREATE INDEX IF NOT EXISTS messages_native ON messages (native_id, link) WHERE native_id IS NOT NULL;
-- The message itself, written once: kept out of ``messages`` so the status updates that rewrite a
-- whole row there rewrite a narrow one.
CREATE TABLE IF NOT EXISTS bodies (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segments (
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    link TEXT NOT NULL,
    native_id TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (message_id, seq)
);
-- Keyed on (link, native_id); native_id first so a receipt without a link can use it too.
CREATE INDEX IF NOT EXISTS segments_native ON segments (native_id, link);
-- Status changes recorded before they were kept on the message's own row (``messages.trail``): read,
-- no longer written.
CREATE TABLE IF NOT EXISTS history (
    message_id TEXT NOT NULL,
    at REAL NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, at, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY,
    link TEXT NOT NULL,
    native_id TEXT NOT NULL,
    status TEXT NOT NULL,
    native_status TEXT NOT NULL DEFAULT '',
    error TEXT,
    message_hint TEXT,
    received_at REAL NOT NULL,
    message_id TEXT,
    matched INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_parked ON receipts (native_id) WHERE matched = 0;
CREATE TABLE IF NOT EXISTS inbound (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT NOT NULL,
    received_at REAL NOT NULL,
    parts INTEGER NOT NULL,
    raw TEXT
);
CREATE INDEX IF NOT EXISTS inbound_received ON inbound (received_at);
""" + OWNERS_SCHEMA

_STATUS = STATUS_BY_VALUE

# A status change is appended to its message's ``trail``, one JSON line [at, status, note] each: the
# UPDATE that changes the status rewrites that row anyway, whereas a row of its own per change was a
# b-tree insert at a random place (message ids are random) and a page more for every commit to write.
_APPEND_TRAIL = "trail = COALESCE(trail, '') || ?"

_MESSAGE_COLUMNS = (
    "id, status, attempts, native_id, native_ids, link, segments, error_code, "
    "error_native_code, error_text, error_retry_after, created_at, updated_at, campaign"
)
# Rows shaped (columns..., body) for _record.
_SELECT_MESSAGES = (
    "SELECT m.id, m.status, m.attempts, m.native_id, m.native_ids, m.link, m.segments, m.error_code, "
    "m.error_native_code, m.error_text, m.error_retry_after, m.created_at, m.updated_at, m.campaign, b.body "
    "FROM messages m JOIN bodies b ON b.id = m.id"
)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


_new = object.__new__


def _claimed(row: Sequence[Any], message: Message) -> MessageRecord:
    """``_record`` for a claimed row whose message this process wrote: the common case, once per message.

    Builds the frozen dataclass without its per-field ``object.__setattr__`` calls; the values are the
    row's own (``_MESSAGE_COLUMNS``), so nothing needs converting but the rare error and part ids.
    """
    rec = _new(MessageRecord)
    rec.__dict__.update(
        message=message,
        status=_STATUS[row[1]],
        attempts=row[2],
        native_id=row[3],
        native_ids=tuple(json.loads(row[4])) if row[4] else (),
        link=row[5],
        segments=row[6],
        last_error=error_from(row[7], row[8], row[9], row[10]) if row[7] is not None else None,
        created_at=row[11],
        updated_at=row[12],
        history=(),
    )
    return rec


# Keyed by the members, which are str: a status read back as text finds its entry too.
_STATUS_JSON: dict[str, str] = {s: f'"{s.value}",' for s in DeliveryStatus}
# Notes repeat ("result", "receipt DELIVRD", ...): their JSON is kept rather than made per message.
_note_json = functools.lru_cache(maxsize=4096)(json.dumps)


def _trail_entry(at: float, status: DeliveryStatus, note: str) -> str:
    """One line of ``messages.trail``; JSON escapes any newline in the note, so lines never split."""
    return f"[{at!r},{_STATUS_JSON[status]}{_note_json(note)}]\n"


def _trail(text: str | None) -> list[tuple[float, DeliveryStatus, str]]:
    out = []
    for line in (text or "").splitlines():
        at, status, note = json.loads(line)
        out.append((at, _STATUS[status], note))
    return out


def _error_json(error: ErrorInfo | None) -> str | None:
    return error.model_dump_json() if error is not None else None


class _Checkpointer:
    """Copies the WAL back into the database file from a thread of its own, every ``interval`` seconds.

    SQLite's automatic checkpoint runs inside whichever COMMIT crosses the
    threshold: on the event loop, for up to a hundred milliseconds with the
    fsyncs it does, stalling every transport meanwhile. Here it is one
    statement on another connection: sqlite3 releases the GIL for all of it,
    so it runs on the other core. PASSIVE never waits for, or blocks, the
    store's own writes.
    """

    def __init__(self, path: str, interval: float) -> None:
        self.interval = interval
        self.count = 0  # checkpoints done (tests wait on it)
        self._stop = threading.Event()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="msgbridge-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
            except sqlite3.Error as exc:  # the next round tries again; the WAL only grows meanwhile
                log.debug("background checkpoint failed: %s", exc)
            self.count += 1

    def checkpoint(self) -> None:
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._db.close()


class SqliteStore(Store):
    driver_errors = (sqlite3.Error,)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "NORMAL",
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        """``checkpoint_interval`` seconds between background WAL checkpoints; 0 leaves them to SQLite."""
        self.path = os.fspath(path)
        self.synchronous = synchronous
        self.checkpoint_interval = checkpoint_interval
        self._db: sqlite3.Connection | None = None
        self._checkpointer: _Checkpointer | None = None
        # Messages this process enqueued, by id, until claimed: a campaign prepared and sent by one
        # process skips reading and re-validating every body it has just written.
        self._written: dict[str, Message] = {}
        self._last_at = 0.0
        # The owner token this store's claims carry; registered in ``owners`` at the first claim.
        self.token = new_token()
        self._lease_until = 0.0
        self._renewer: asyncio.Task[None] | None = None

    def error_text(self, exc: Exception) -> str:
        return f"{exc} ({self.path})"

    # -- lifecycle -------------------------------------------------------

    async def open(self) -> None:
        if self._db is None:
            self._db = self._connect()
            if self.checkpoint_interval > 0:
                self._checkpointer = _Checkpointer(self.path, self.checkpoint_interval)

    def _connect(self) -> sqlite3.Connection:
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("PRAGMA cache_size=-65536")
        # Checkpoint less often: a page rewritten by several batches is copied back once. With the
        # background checkpointer, what this one still copies (in a COMMIT, on the loop) is only what
        # arrived since that one's last round; it is still needed, as only a checkpoint by the writer
        # itself reliably lets the next write start the WAL over.
        db.execute("PRAGMA wal_autocheckpoint=10000")
        # Every statement is IF NOT EXISTS, so two processes opening one new file at once is harmless.
        db.executescript(SCHEMA)
        columns = {r[1] for r in db.execute("PRAGMA table_info(messages)")}
        # Files written before status changes were kept on the message row, and before claims had owners.
        for column in ("trail", "claimed_by"):
            if column not in columns:
                try:
                    db.execute(f"ALTER TABLE messages ADD COLUMN {column} TEXT")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # another process added it first
                        raise
        return db

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        if self._db is not None and self._lease_until:
            # Gone on purpose: what it still holds is anyone's now (QUEUED to claim, MAYBE_SUBMITTED to settle).
            with contextlib.suppress(sqlite3.Error), self._tx() as db:
                db.execute("DELETE FROM owners WHERE token = ?", (self.token,))
            self._lease_until = 0.0
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open: use 'async with store:' or await store.open()")
        return self._db

    def _clock(self) -> float:
        """time.time(), but strictly later than the last call's: history entries of two calls never share ``at``."""
        now = time.time()
        if now <= self._last_at:
            now = math.nextafter(self._last_at, math.inf)
        self._last_at = now
        return now

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE so two processes never deadlock upgrading a read lock."""
        conn = self.db
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- campaigns -------------------------------------------------------

    async def save_campaign(self, record: CampaignRecord) -> None:
        with self._tx() as db:
            db.execute(
                f"INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET template = excluded.template, "
                "sender = excluded.sender, transport = excluded.transport, options = excluded.options",
                campaign_params(record),
            )

    async def get_campaign(self, name: str) -> CampaignRecord | None:
        row = self.db.execute(f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE name = ?", (name,)).fetchone()
        return campaign_from_row(row) if row is not None else None

    # -- outbox ----------------------------------------------------------

    async def enqueue(self, entries: Sequence[OutboxEntry]) -> list[str]:
        if not entries:
            return []
        now = time.time()
        queued = DeliveryStatus.QUEUED.value
        rows = [
            (
                e.message.id,
                e.idempotency_key,
                e.message.campaign,
                e.message.reference,
                e.row,
                queued,
                now,
                now,
            )
            for e in entries
        ]
        with self._tx() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO messages (id, idempotency_key, campaign, reference, row, status, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if db.total_changes - before == len(entries):
                ids = [e.message.id for e in entries]
                new = list(entries)
            else:
                by_key: dict[str, str] = {}
                keys = list({e.idempotency_key for e in entries})
                for part in _chunks(keys):
                    by_key.update(
                        db.execute(
                            f"SELECT idempotency_key, id FROM messages WHERE idempotency_key IN ({_marks(len(part))})",
                            part,
                        ).fetchall()
                    )
                ids = [by_key[e.idempotency_key] for e in entries]
                new = [e for e in entries if by_key[e.idempotency_key] == e.message.id]
            # No history row for "enqueued": created_at is that entry (see get()).
            db.executemany(
                "INSERT INTO bodies (id, body) VALUES (?, ?)",
                [(e.message.id, e.message.model_dump_json()) for e in new],
            )
        if len(self._written) + len(new) > WRITTEN_CACHE:
            self._written.clear()
        self._written.update((e.message.id, e.message) for e in new)
        return ids

    # -- owners ----------------------------------------------------------

    def _owners(self, db: sqlite3.Connection, now: float) -> tuple[list[str], list[str]]:
        """(live owner tokens, this store's first; dead ones): see ``owners.py``."""
        rows = [OwnerRow(*r) for r in db.execute("SELECT token, host, pid, lease_until FROM owners")]
        return split_live(rows, now, self.token)

    def _own(self, db: sqlite3.Connection, now: float) -> None:
        """Register (or renew) this store's lease inside the caller's transaction."""
        if self._lease_until - now > LEASE_SECONDS / 2:
            return
        host, pid, _ = self.token.rsplit(":", 2)
        self._lease_until = now + LEASE_SECONDS
        db.execute(
            "INSERT INTO owners (token, host, pid, started_at, lease_until) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (token) DO UPDATE SET lease_until = excluded.lease_until",
            (self.token, host, int(pid), now, self._lease_until),
        )
        if self._renewer is None:
            with contextlib.suppress(RuntimeError):  # no running loop: renewed at the next claim
                self._renewer = asyncio.get_running_loop().create_task(self._renew(), name="sqlite-lease")

    async def _renew(self) -> None:
        """Keep the lease while the store is open and its event loop runs."""
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                with self._tx() as db:
                    self._lease_until = 0.0
                    self._own(db, time.time())
            except sqlite3.Error as exc:  # busy: the lease is long enough for the next round
                log.debug("lease renewal failed: %s", exc)

    @staticmethod
    def _scope(campaign: str | None, origin: str | None, column: str = "") -> tuple[str, list[Any]]:
        sql, params = "", list[Any]()
        if campaign is not None:
            sql += f" AND {column}campaign = ?"
            params.append(campaign)
        if origin is not None:
            sql += f" AND substr({column}idempotency_key, 1, ?) = ?"
            params += [len(origin), origin]
        return sql, params

    # -- claims ----------------------------------------------------------

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
        where = f"status IN ({_marks(len(statuses))}) AND next_attempt_at <= ?"
        params: list[Any] = [*statuses, at]
        scope, scope_params = self._scope(campaign, origin)
        where += scope
        params += scope_params
        if ids is not None:
            wanted = list(ids)[:CHUNK]
            where += f" AND id IN ({_marks(len(wanted))})"
            params.extend(wanted)
        with self._tx() as db:
            self._own(db, time.time())
            live, dead = self._owners(db, time.time())
            if dead:
                db.execute(f"DELETE FROM owners WHERE token IN ({_marks(len(dead))})", dead)
            rows = db.execute(
                f"UPDATE messages SET claimed_by = ?, attempts = attempts + 1, updated_at = ? WHERE id IN "
                f"(SELECT id FROM messages WHERE {where} AND (claimed_by IS NULL OR claimed_by NOT IN "
                f"({_marks(len(live))})) ORDER BY next_attempt_at LIMIT ?) "
                f"RETURNING {_MESSAGE_COLUMNS}",
                [self.token, at, *params, *live, limit],
            ).fetchall()
            known = {r[0]: m for r in rows if (m := self._written.pop(r[0], None)) is not None}
            bodies: dict[str, str] = {}
            for part in _chunks([r[0] for r in rows if r[0] not in known]):
                bodies.update(
                    db.execute(
                        f"SELECT id, body FROM bodies WHERE id IN ({_marks(len(part))})", part
                    ).fetchall()
                )
        rows.sort(key=lambda r: r[0])
        return [
            _claimed(r, m) if (m := known.get(r[0])) is not None else self._record((*r, bodies[r[0]]))
            for r in rows
        ]

    async def mark_in_doubt(self, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        maybe = DeliveryStatus.MAYBE_SUBMITTED.value
        now = time.time()
        head = [maybe, now, self.token, DeliveryStatus.QUEUED.value, maybe]
        with self._tx() as db:
            # One statement per chunk rather than one step per row: this runs before every write group.
            # ``+status`` keeps the planner on the primary key: with messages_due it would scan every
            # queued message of the store for each group.
            for part in _chunks(message_ids):
                db.execute(
                    "UPDATE messages SET status = ?, updated_at = ? WHERE claimed_by = ? AND +status IN (?, ?) "
                    f"AND id IN ({_marks(len(part))})",
                    [*head, *part],
                )

    async def release(self, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        with self._tx() as db:
            db.executemany(
                "UPDATE messages SET claimed_by = NULL, attempts = MAX(attempts - 1, 0) "
                "WHERE id = ? AND claimed_by = ? AND status = ?",
                [(i, self.token, DeliveryStatus.QUEUED.value) for i in message_ids],
            )

    async def record_results(self, results: Sequence[SendResult], *, link: str) -> None:
        if not results:
            return
        now = self._clock()
        with self._tx() as db:
            current = self._statuses(db, [r.message_id for r in results])
            plan = plan_results(results, current, link=link, now=now)
            head = f"[{now!r},"  # _trail_entry's, once for the batch
            # plan.history has one entry per update, in the same order.
            db.executemany(
                "UPDATE messages SET status = ?, native_id = COALESCE(?, native_id), "
                "native_ids = COALESCE(?, native_ids), link = ?, segments = ?, error_code = ?, "
                "error_native_code = ?, error_text = ?, error_retry_after = ?, updated_at = ?, "
                f"claimed_by = NULL, {_APPEND_TRAIL} WHERE id = ?",
                [
                    (*u[:-1], f"{head}{_STATUS_JSON[status]}{_note_json(note)}]\n", u[-1])
                    for u, (_, _, status, note) in zip(plan.updates, plan.history, strict=True)
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO segments (message_id, seq, link, native_id, status) VALUES (?, ?, ?, ?, ?)",
                plan.segments,
            )
            if plan.native_ids and db.execute("SELECT 1 FROM receipts WHERE matched = 0 LIMIT 1").fetchone():
                # Later than ``now``: a message may get its result and a parked receipt in this one call.
                self._match_parked(db, plan.native_ids, self._clock())

    async def requeue(
        self, message_ids: Sequence[str], *, not_before: float, error: ErrorInfo | None
    ) -> None:
        if not message_ids:
            return
        now = self._clock()
        queued = DeliveryStatus.QUEUED.value
        err = error_columns(error)
        entry = _trail_entry(now, DeliveryStatus.QUEUED, "requeued" + (f": {error}" if error else ""))
        with self._tx() as db:
            current = self._statuses(db, list(message_ids))
            movable = [
                i
                for i in message_ids
                if current.get(i) in (DeliveryStatus.QUEUED, DeliveryStatus.MAYBE_SUBMITTED)
            ]
            db.executemany(
                "UPDATE messages SET status = ?, next_attempt_at = ?, error_code = COALESCE(?, error_code), "
                "error_native_code = COALESCE(?, error_native_code), error_text = COALESCE(?, error_text), "
                f"error_retry_after = ?, updated_at = ?, claimed_by = NULL, {_APPEND_TRAIL} WHERE id = ?",
                [(queued, not_before, *err, now, entry, i) for i in movable],
            )

    # -- receipts --------------------------------------------------------

    async def record_receipts(self, receipts: Sequence[DeliveryReceipt]) -> int:
        if not receipts:
            return 0
        now = self._clock()
        with self._tx() as db:
            matched, unmatched = self._apply(db, [(None, r) for r in receipts], now)
            # Only parked receipts are kept as rows; a matched one lives on as its message's history entry.
            db.executemany(
                "INSERT INTO receipts (link, native_id, status, native_status, error, message_hint, received_at, "
                "matched) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                [
                    (r.link, r.native_id, r.status, r.native_status, _error_json(r.error), r.message_id, r.received_at)
                    for _, r in unmatched
                ],
            )
        if unmatched:
            log.debug("parked %d receipts for native ids not known yet", len(unmatched))
        return len(matched)

    def _match_parked(self, db: sqlite3.Connection, native_ids: Sequence[str], now: float) -> None:
        parked: list[tuple[int | None, DeliveryReceipt]] = []
        for part in _chunks(list(native_ids)):
            for row in db.execute(
                "SELECT id, link, native_id, status, native_status, error, message_hint, received_at FROM receipts "
                f"WHERE matched = 0 AND native_id IN ({_marks(len(part))}) ORDER BY id",
                part,
            ):
                receipt = DeliveryReceipt(
                    link=row[1],
                    native_id=row[2],
                    status=_STATUS[row[3]],
                    native_status=row[4],
                    error=ErrorInfo.model_validate_json(row[5]) if row[5] else None,
                    message_id=row[6],
                    received_at=row[7],
                )
                parked.append((row[0], receipt))
        if not parked:
            return
        matched, _ = self._apply(db, parked, now)
        db.executemany(
            "UPDATE receipts SET matched = 1, message_id = ? WHERE id = ?",
            [(message_id, receipt_id) for (receipt_id, _), message_id in matched],
        )
        log.debug("matched %d parked receipts", len(matched))

    def _apply(
        self,
        db: sqlite3.Connection,
        receipts: Sequence[Item],
        now: float,
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
        for part in _chunks(ids):
            marks = _marks(len(part))
            for message_id, link, native_id, status in db.execute(
                f"SELECT id, link, native_id, status FROM messages WHERE native_id IN ({marks}) "
                "AND native_ids IS NULL",
                part,
            ):
                where.setdefault(native_id, []).append((message_id, None, link))
                current[message_id] = _STATUS[status]
            for message_id, seq, link, native_id in db.execute(
                f"SELECT message_id, seq, link, native_id FROM segments WHERE native_id IN ({marks})", part
            ):
                where.setdefault(native_id, []).append((message_id, seq, link))
        multipart = {m for places in where.values() for m, seq, _ in places if seq is not None}
        hinted = {r.message_id for _, r in receipts if r.message_id and r.native_id not in where}
        current.update(self._statuses(db, list((multipart | hinted) - current.keys())))
        segs: dict[str, dict[int, DeliveryStatus]] = {}
        for part in _chunks(list(multipart)):
            for message_id, seq, status in db.execute(
                f"SELECT message_id, seq, status FROM segments WHERE message_id IN ({_marks(len(part))})",
                part,
            ):
                segs.setdefault(message_id, {})[seq] = _STATUS[status]

        plan = plan_receipts(receipts, where, current, segs)
        db.executemany(
            "UPDATE segments SET status = ? WHERE message_id = ? AND seq = ?",
            [(s, m, q) for (m, q), s in plan.segments.items()],
        )
        head = f"[{now!r},"  # _trail_entry's, once for the batch
        db.executemany(
            "UPDATE messages SET status = ?, error_code = COALESCE(?, error_code), "
            "error_native_code = COALESCE(?, error_native_code), error_text = COALESCE(?, error_text), "
            f"updated_at = ?, {_APPEND_TRAIL} WHERE id = ?",
            [
                (s, None, None, None, now, f"{head}{_STATUS_JSON[s]}{_note_json(f'receipt {n}')}]\n", m)
                if e is None
                else (s, *error_columns(e)[:3], now, _trail_entry(now, s, f"receipt {n}"), m)
                for m, (s, e, n) in plan.messages.items()
            ],
        )
        return plan.matched, plan.unmatched

    # -- reads -----------------------------------------------------------

    def _statuses(self, db: sqlite3.Connection, message_ids: Sequence[str]) -> dict[str, DeliveryStatus]:
        out: dict[str, DeliveryStatus] = {}
        for part in _chunks(list(message_ids)):
            for message_id, status in db.execute(
                f"SELECT id, status FROM messages WHERE id IN ({_marks(len(part))})", part
            ):
                out[message_id] = _STATUS[status]
        return out

    def _record(self, row: Sequence[Any], history: Iterable[Sequence[Any]] = ()) -> MessageRecord:
        """``row`` is _MESSAGE_COLUMNS followed by the body (JSON, or the Message itself)."""
        return MessageRecord(
            message=row[14] if isinstance(row[14], Message) else Message.model_validate_json(row[14]),
            status=_STATUS[row[1]],
            attempts=row[2],
            native_id=row[3],
            native_ids=tuple(json.loads(row[4])) if row[4] else (),
            link=row[5],
            segments=row[6],
            last_error=error_from(row[7], row[8], row[9], row[10]),
            created_at=row[11],
            updated_at=row[12],
            history=tuple((h[0], _STATUS[h[1]], h[2]) for h in history),
        )

    async def get(self, message_id: str) -> MessageRecord | None:
        row = self.db.execute(f"{_SELECT_MESSAGES} WHERE m.id = ?", (message_id,)).fetchone()
        if row is None:
            return None
        history: list[tuple[float, DeliveryStatus | str, str]] = [
            (row[11], DeliveryStatus.QUEUED, "enqueued")
        ]
        history += self.db.execute(
            "SELECT at, status, note FROM history WHERE message_id = ? ORDER BY at, seq", (message_id,)
        ).fetchall()
        (trail,) = self.db.execute("SELECT trail FROM messages WHERE id = ?", (message_id,)).fetchone()
        history += _trail(trail)
        history.sort(key=lambda h: h[0])  # stable: entries of one call keep their order
        return self._record(row, history)

    async def find_by_reference(self, reference: str) -> MessageRecord | None:
        row = self.db.execute(
            "SELECT id FROM messages WHERE reference = ? ORDER BY created_at DESC LIMIT 1", (reference,)
        ).fetchone()
        return await self.get(row[0]) if row else None

    async def counts(self, campaign: str | None = None) -> dict[DeliveryStatus, int]:
        if campaign is None:
            rows = self.db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status")
        else:
            rows = self.db.execute(
                "SELECT status, COUNT(*) FROM messages WHERE campaign = ? GROUP BY status", (campaign,)
            )
        return {_STATUS[s]: n for s, n in rows}

    async def pending_native_ids(self, link: str, limit: int) -> list[str]:
        # Oldest update first: a message a poll just touched goes to the back of the line.
        rows = self.db.execute(
            f"SELECT native_id FROM messages WHERE link = ? AND native_id IS NOT NULL "
            f"AND status IN ({_marks(len(AWAITING))}) ORDER BY updated_at LIMIT ?",
            (link, *AWAITING, limit),
        )
        return [r[0] for r in rows]

    async def in_doubt(
        self, limit: int, *, campaign: str | None = None, origin: str | None = None
    ) -> list[MessageRecord]:
        others = self._owners(self.db, time.time())[0][1:]
        scope, params = self._scope(campaign, origin, "m.")
        sql = (
            f"{_SELECT_MESSAGES} WHERE m.status = ?{scope} "
            f"AND (m.claimed_by IS NULL OR m.claimed_by NOT IN ({_marks(len(others))}))"
        )
        rows = self.db.execute(
            sql + " ORDER BY m.id LIMIT ?",
            [DeliveryStatus.MAYBE_SUBMITTED.value, *params, *others, limit],
        ).fetchall()
        return [self._record(r) for r in rows]

    async def doubt_counts(self, campaign: str | None = None, origin: str | None = None) -> DoubtCounts:
        others = set(self._owners(self.db, time.time())[0][1:])
        scope, params = self._scope(campaign, origin)
        left = held = 0
        for owner, n in self.db.execute(
            f"SELECT claimed_by, COUNT(*) FROM messages WHERE status = ?{scope} GROUP BY claimed_by",
            [DeliveryStatus.MAYBE_SUBMITTED.value, *params],
        ):
            if owner in others:
                held += n
            else:
                left += n
        return DoubtCounts(left=left, held=held)

    async def next_due(self, *, campaign: str | None = None, origin: str | None = None) -> float | None:
        live = self._owners(self.db, time.time())[0]
        scope, params = self._scope(campaign, origin)
        row = self.db.execute(
            f"SELECT MIN(next_attempt_at) FROM messages WHERE status = ?{scope} "
            f"AND (claimed_by IS NULL OR claimed_by NOT IN ({_marks(len(live))}))",
            [DeliveryStatus.QUEUED.value, *params, *live],
        ).fetchone()
        return row[0] if row else None

    # -- inbound ---------------------------------------------------------

    async def add_inbound(self, messages: Sequence[InboundMessage]) -> None:
        if not messages:
            return
        with self._tx() as db:
            db.executemany(
                f"INSERT OR IGNORE INTO inbound ({INBOUND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [inbound_params(m) for m in messages],
            )

    async def list_inbound(self, limit: int = 100) -> list[InboundMessage]:
        rows = self.db.execute(
            f"SELECT {INBOUND_COLUMNS} FROM inbound ORDER BY received_at DESC, id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [inbound_from_row(r) for r in rows]
