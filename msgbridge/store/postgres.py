"""The PostgreSQL store, for several workers sharing one queue (``postgresql://...``, asyncpg).

Same tables (``schema.py``), rules and sequences (``sql.py``) as the SQLite
store; what is PostgreSQL's own is what several processes at once need:

- ``claim`` takes rows with ``FOR UPDATE SKIP LOCKED``, so two dispatchers
  never claim the same message and never wait on each other;
- result and receipt writes lock the message rows they read, in id order, so
  a receipt racing its own send result cannot lose an update or deadlock;
- recording results and receipts is serialised by a transaction-level
  advisory lock (taken before any row lock): otherwise a receipt parked by
  one transaction while another records the result naming it would be seen
  by neither, and never matched;
- batches travel as arrays (``unnest``/``ANY``): one statement for a whole
  batch (:class:`PostgresConn` turns the shared statements into that form),
  one transaction per call; the outbox's INSERT goes as a COPY into a
  temporary table and one INSERT from it (``Bulk.copy``), which measured
  faster than the arrays;
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

import functools
import re
import secrets
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from asyncpg.pool import PoolConnectionProxy  # type: ignore[import-untyped]

from msgbridge.core.errors import ConfigError
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import redact
from msgbridge.store.base import Wakeups
from msgbridge.store.dialect import RECEIPTS, SCHEMA, Bulk, Conn
from msgbridge.store.rows import INBOUND_COLUMNS
from msgbridge.store.schema import (
    POSTGRES_1_TO_2,
    POSTGRES_TYPES,
    statements,
    step_2_to_3,
    step_3_to_4,
    tables,
)
from msgbridge.store.sql import SqlStore
from msgbridge.store.wakeups import CHANNEL, NOTIFY, Listener

# Owner tokens whose store is open: the advisory locks (two-key form, objsubid 2) held in this database.
_LIVE_OWNERS = (
    "SELECT l.objid::text::int FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
    "AND l.objsubid = 2 AND l.classid = ?::int4::oid "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_MARK = re.compile(r"\?")
# Transaction-level advisory lock keys: creating or migrating the tables (one per database, as the
# schema of one name may be made by two workers at once), and results and receipts (one per schema).
_SCHEMA_LOCK = 4242017


@functools.lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """The shared statements' ``?`` as PostgreSQL's ``$1, $2, ...`` (none stands inside a literal)."""
    n = iter(range(1, 10_000))
    return _MARK.sub(lambda _: f"${next(n)}", sql)


@functools.lru_cache(maxsize=64)
def over_arrays(statement: Bulk) -> str:
    """``statement`` run once over one array per value: ``VALUES (...)`` becomes ``unnest``, an UPDATE's
    ``?`` the columns of an unnested row."""
    arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(statement.types))
    if statement.sql.startswith("INSERT"):
        return re.sub(r"VALUES \([^)]*\)", f"SELECT * FROM unnest({arrays})", statement.sql, count=1)
    names = ", ".join(f"c{i}" for i in range(len(statement.types)))
    n = iter(range(len(statement.types)))
    sql = _MARK.sub(lambda _: f"u.c{next(n)}", statement.sql)
    head, tail = sql.split(" WHERE ", 1)
    return f"{head} FROM unnest({arrays}) AS u({names}) WHERE {tail}"


@functools.lru_cache(maxsize=16)
def copy_plan(statement: Bulk) -> tuple[str, str, list[str], str]:
    """(CREATE of a temporary table for ``statement``'s rows, its name, the columns, the INSERT from it)."""
    m = re.match(r"INSERT INTO (\w+) \(([^)]*)\) VALUES \([^)]*\)(.*)", statement.sql)
    assert m is not None, statement.sql
    table, names, tail = m.group(1), m.group(2), m.group(3)
    # Named by its columns too: it outlives the transaction (a session's), and statements into one table
    # may write different columns (``INSERT_MESSAGES``, ``INSERT_PRICED_MESSAGES``).
    temp = f"msgbridge_copy_{table}_{zlib.crc32(names.encode()):08x}"
    # Only the columns, no constraint or default: what the INSERT from it applies.
    create = f"CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS SELECT {names} FROM {table} WITH NO DATA"
    return (
        create,
        temp,
        [n.strip() for n in names.split(",")],
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {temp}{tail}",
    )


def _plain(value: Any) -> Any:
    """Statuses as plain strings for the driver."""
    return value.value if isinstance(value, DeliveryStatus) else value


def rounds(statement: Bulk, rows: Sequence[Sequence[Any]]) -> list[list[Sequence[Any]]]:
    """``rows`` in rounds with no key twice in one: one statement over arrays applies each row once."""
    if not statement.key:
        return [list(rows)]
    out: list[list[Sequence[Any]]] = []
    seen: list[set[tuple[Any, ...]]] = []
    for row in rows:
        key = tuple(row[i] for i in statement.key)
        i = 0
        while i < len(seen) and key in seen[i]:
            i += 1
        if i == len(seen):
            out.append([])
            seen.append(set())
        out[i].append(row)
        seen[i].add(key)
    return out


def _count(status: str) -> int:
    """Rows changed, from the command tag (``INSERT 0 5``, ``UPDATE 3``)."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresConn(Conn):
    """The shared statements on an asyncpg connection or pool: numbered marks, arrays, row locks."""

    lock = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return list(await self.conn.fetch(numbered(sql), *map(_plain, params)))

    async def has_table(self, name: str) -> bool:
        # In the schema the store's search_path names. A query of pg_tables, not to_regclass(): that reads
        # the session's catalog cache, which right after waiting for another process's migration may not
        # show the tables it committed yet.
        return bool(
            await self.conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1)",
                name,
            )
        )

    async def columns(self, table: str) -> set[str]:
        rows = await self.conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = $1",
            table,
        )
        return {str(r[0]) for r in rows}

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return _count(await self.conn.execute(numbered(sql), *map(_plain, params)))

    async def bulk(self, statement: Bulk, rows: Sequence[Sequence[Any]]) -> int:
        if statement.copy and rows and isinstance(self.conn, asyncpg.Connection | PoolConnectionProxy):
            create, temp, names, insert = copy_plan(statement)
            await self.conn.execute(create)
            await self.conn.copy_records_to_table(
                temp, records=[tuple(map(_plain, r)) for r in rows], columns=names
            )
            return _count(await self.conn.execute(insert))
        changed = 0
        for part in rounds(statement, rows) if rows else ():
            arrays = [[_plain(v) for v in column] for column in zip(*part, strict=True)]
            changed += _count(await self.conn.execute(over_arrays(statement), *arrays))
        return changed

    def split_in(
        self, sql: str, values: Sequence[str], params: Sequence[Any] = ()
    ) -> list[tuple[str, list[Any]]]:
        return [(sql.replace("{in}", "= ANY(?::text[])"), [*params, list(values)])]


class PostgresStore(SqlStore):
    driver_errors = (asyncpg.PostgresError, asyncpg.InterfaceError)
    history_order = "id"
    token: int

    def __init__(self, dsn: str, *, schema: str | None = None, pool_size: int = 4) -> None:
        if schema is not None and not _IDENT.fullmatch(schema):
            raise ConfigError(f"schema name {schema!r} is not a plain identifier")
        super().__init__()
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
        self._listeners: set[Listener] = set()  # this store's watch() iterators still listening

    async def open(self) -> None:
        if self._pool is not None:
            return
        # Notices are not errors: "already exists, skipping" of the COPY table is not worth a log line.
        settings = {"client_min_messages": "warning"}
        if self.schema:
            settings["search_path"] = self.schema
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
            raise ConfigError(
                f"cannot open PostgreSQL store {redact(self.dsn)}: the DSN is malformed"
            ) from None
        assert pool is not None
        self._pool = pool
        try:
            await self._ensure_schema()
            await self._take_owner_token()
        except BaseException:
            self._pool = None
            await pool.close()
            raise

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
        for listener in list(self._listeners):  # each watch() ends, its connection closed
            await listener.aclose()
        if self._owner is not None:
            await self._owner.close()
            self._owner = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open: use 'async with store:' or await store.open()")
        return self._pool

    @asynccontextmanager
    async def _tx(self, serial: str | None = None) -> AsyncIterator[Conn]:
        async with self.pool.acquire() as conn, conn.transaction():
            if serial == RECEIPTS:
                # Before any row lock, in every transaction that takes it: one order, no deadlock.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", self._lock_key)
            elif serial == SCHEMA:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
            yield PostgresConn(conn)

    def _reader(self) -> PostgresConn:
        return PostgresConn(self.pool)

    # -- wake-ups (see wakeups.py) ---------------------------------------

    async def _wake(self, c: Conn) -> None:
        await c.execute(NOTIFY, [CHANNEL, self.schema or ""])

    def watch(self) -> Wakeups:
        """LISTEN on a connection of its own (``wakeups.Listener``); the store must be open."""
        _ = self.pool  # not open: raise now, not at the first step
        return Listener(self.dsn, self.schema or "", listeners=self._listeners)

    # -- schema ----------------------------------------------------------

    def _types_ddl(self) -> str:
        return tables(POSTGRES_TYPES)

    def _step_2_to_3(self) -> str:
        return step_2_to_3(POSTGRES_TYPES)

    def _step_3_to_4(self) -> str:
        return step_3_to_4(POSTGRES_TYPES, INBOUND_COLUMNS)

    async def _upgrade(self, c: Conn, version: int) -> None:
        if version != 1:
            return
        for statement in statements(POSTGRES_1_TO_2):
            await c.execute(statement)

    # -- owners ----------------------------------------------------------

    async def _held(self, c: Conn, column: str, *, mine: bool) -> tuple[str, list[Any]]:
        if mine:
            return f"{column} IN ({_LIVE_OWNERS})", [self._owner_space]
        return f"{column} <> ? AND {column} IN ({_LIVE_OWNERS})", [self.token, self._owner_space]
