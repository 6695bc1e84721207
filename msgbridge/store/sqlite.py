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

The sequences of reads and writes are the shared ones (``sql.py``) and the
tables those of ``schema.py``; what is SQLite's own is here: the connection
and its transactions, the background checkpoint, and who owns a claim (a
lease in ``owners``, see ``owners.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from msgbridge.store.dialect import Bulk, Conn
from msgbridge.store.owners import LEASE_SECONDS, OWNERS_SCHEMA, RENEW_EVERY, OwnerRow, new_token, split_live
from msgbridge.store.rows import INBOUND_COLUMNS
from msgbridge.store.schema import (
    SQLITE_1_TO_2,
    SQLITE_TYPES,
    SQLITE_V1_LATE_COLUMNS,
    statements,
    step_2_to_3,
    step_3_to_4,
    tables,
)
from msgbridge.store.sql import SqlStore

log = logging.getLogger(__name__)

# Seconds between background WAL checkpoints (see _Checkpointer).
CHECKPOINT_INTERVAL = 0.25
# The file's page size (new files), SQLite's own checkpoint threshold (WAL pages) and its page cache:
# measured with benchmarks/store_throughput.py, figures in docs/store-and-dispatch.md.
PAGE_SIZE = 4096
AUTOCHECKPOINT = 10_000
CACHE_KIB = 16_384
# SQLite's bound-parameter limit is 32766 since 3.32; stay far below it.
CHUNK = 900


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SqliteConn(Conn):
    """The shared sequences' statements run as written, on the store's one connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return self.db.execute(sql, params).fetchall()

    async def has_table(self, name: str) -> bool:
        return bool(await self.fetch("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]))

    async def columns(self, table: str) -> set[str]:
        return {str(r[1]) for r in await self.fetch(f"PRAGMA table_info({table})")}

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.db.execute(sql, params).rowcount

    async def bulk(self, statement: Bulk, rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        before = self.db.total_changes
        self.db.executemany(statement.sql, rows)
        return self.db.total_changes - before

    def split_in(
        self, sql: str, values: Sequence[str], params: Sequence[Any] = ()
    ) -> list[tuple[str, list[Any]]]:
        out = []
        for i in range(0, len(values), CHUNK):
            part = values[i : i + CHUNK]
            out.append((sql.replace("{in}", f"IN ({_marks(len(part))})"), [*params, *part]))
        return out

    def unindexed(self, column: str) -> str:
        return f"+{column}"


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


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK``) as an async context: a class, as it runs for
    every store call and a generator-based one costs a few microseconds more each time."""

    __slots__ = ("conn",)

    def __init__(self, conn: SqliteConn) -> None:
        self.conn = conn

    async def __aenter__(self) -> SqliteConn:
        # IMMEDIATE so two processes never deadlock upgrading a read lock.
        self.conn.db.execute("BEGIN IMMEDIATE")
        return self.conn

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        self.conn.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


class SqliteStore(SqlStore):
    driver_errors = (sqlite3.Error,)
    history_order = "at, seq"
    token: str

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "NORMAL",
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
        page_size: int = PAGE_SIZE,
        autocheckpoint: int = AUTOCHECKPOINT,
        cache_kib: int = CACHE_KIB,
    ) -> None:
        """``checkpoint_interval`` seconds between background WAL checkpoints; 0 leaves them to SQLite.

        ``page_size`` applies to a new file only; ``autocheckpoint`` is SQLite's ``wal_autocheckpoint``
        (pages), ``cache_kib`` its page cache. The defaults were measured (docs/store-and-dispatch.md).
        """
        super().__init__()
        self.path = os.fspath(path)
        self.synchronous = synchronous
        self.checkpoint_interval = checkpoint_interval
        self.page_size = page_size
        self.autocheckpoint = autocheckpoint
        self.cache_kib = cache_kib
        self._db: sqlite3.Connection | None = None
        self._conn: SqliteConn | None = None
        self._checkpointer: _Checkpointer | None = None
        # The owner token this store's claims carry; registered in ``owners`` at the first claim.
        self.token = new_token()
        self._lease_until = 0.0
        self._renewer: asyncio.Task[None] | None = None

    def error_text(self, exc: Exception) -> str:
        return f"{exc} ({self.path})"

    # -- lifecycle -------------------------------------------------------

    async def open(self) -> None:
        if self._db is not None:
            return
        self._db = self._connect()
        self._conn = SqliteConn(self._db)
        try:
            await self._ensure_schema()
        except BaseException:
            self._db.close()
            self._db = self._conn = None
            raise
        if self.checkpoint_interval > 0:
            self._checkpointer = _Checkpointer(self.path, self.checkpoint_interval)

    def _connect(self) -> sqlite3.Connection:
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        try:
            # Before WAL mode: a new file takes its page size from its first write.
            db.execute(f"PRAGMA page_size={int(self.page_size)}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute("PRAGMA foreign_keys=OFF")
            db.execute("PRAGMA temp_store=MEMORY")
            db.execute(f"PRAGMA cache_size=-{int(self.cache_kib)}")
            # Checkpoint less often: a page rewritten by several batches is copied back once. With the
            # background checkpointer, what this one still copies (in a COMMIT, on the loop) is only what
            # arrived since that one's last round; it is still needed, as only a checkpoint by the writer
            # itself reliably lets the next write start the WAL over.
            db.execute(f"PRAGMA wal_autocheckpoint={int(self.autocheckpoint)}")
        except BaseException:
            db.close()
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
            with contextlib.suppress(sqlite3.Error), self._begin() as db:
                db.execute("DELETE FROM owners WHERE token = ?", (self.token,))
            self._lease_until = 0.0
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._db is not None:
            self._db.close()
            self._db = self._conn = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open: use 'async with store:' or await store.open()")
        return self._db

    @contextmanager
    def _begin(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE so two processes never deadlock upgrading a read lock."""
        conn = self.db
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _tx(self, serial: str | None = None) -> _Transaction:
        # Every write transaction holds the whole file: serialised with all others already.
        return _Transaction(self._reader())

    def _reader(self) -> SqliteConn:
        if self._conn is None:
            raise RuntimeError("store is not open: use 'async with store:' or await store.open()")
        return self._conn

    # -- schema ----------------------------------------------------------

    def _types_ddl(self) -> str:
        return tables(SQLITE_TYPES) + OWNERS_SCHEMA

    def _step_2_to_3(self) -> str:
        return step_2_to_3(SQLITE_TYPES)

    def _step_3_to_4(self) -> str:
        return step_3_to_4(SQLITE_TYPES, INBOUND_COLUMNS)

    async def _upgrade(self, c: Conn, version: int) -> None:
        if version != 1:
            return
        present = {r[1] for r in await c.fetch("PRAGMA table_info(messages)")}
        for column in SQLITE_V1_LATE_COLUMNS:
            if column not in present:
                await c.execute(f"ALTER TABLE messages ADD COLUMN {column} TEXT")
        for statement in statements(SQLITE_1_TO_2):
            await c.execute(statement)

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
                with self._begin() as db:
                    self._lease_until = 0.0
                    self._own(db, time.time())
            except sqlite3.Error as exc:  # busy: the lease is long enough for the next round
                log.debug("lease renewal failed: %s", exc)

    async def _claiming(self, c: Conn) -> tuple[str, list[Any]]:
        now = time.time()
        self._own(self.db, now)
        live, dead = self._owners(self.db, now)
        if dead:
            self.db.execute(f"DELETE FROM owners WHERE token IN ({_marks(len(dead))})", dead)
        return f"claimed_by IN ({_marks(len(live))})", live

    async def _held(self, c: Conn, column: str, *, mine: bool) -> tuple[str, list[Any]]:
        live = self._owners(self.db, time.time())[0]
        tokens = live if mine else live[1:]
        return f"{column} IN ({_marks(len(tokens))})", tokens
