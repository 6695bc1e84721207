"""One schema for both backends, and the numbered steps that bring an older database to it.

The tables are declared once (``TABLES``); a backend fills in the few words
SQL spells differently (``Types``). A database records the version it holds in
``schema_version``; opening one runs the steps from there up to ``VERSION``,
inside one write transaction that a second process opening the same database
waits for, so it never sees half a migration.

Version 1 is what came before the version table, and it differed per backend:
SQLite kept the body in ``bodies`` and status changes on the row (``trail``),
PostgreSQL the body in ``messages.body`` and status changes as rows of
``history``. Step 1 -> 2 is each backend's ``_upgrade`` (what it had of its
own) and then the shared part (``history`` rows onto the trail); the tables a
version-1 database lacks are then made as ``TABLES`` has them. Its DDL, and
databases written by it, are the tests' fixtures (``tests/unit/store/fixtures``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from msgbridge.core.status import DeliveryStatus
from msgbridge.store.rows import STATUS_BY_VALUE, trail_head, trail_line

VERSION = 2


@dataclass(frozen=True)
class Types:
    """The words of ``TABLES`` that differ between SQLite and PostgreSQL."""

    serial: str  # an integer key the database numbers itself
    token: str  # the type of an owner token (``messages.claimed_by``)
    compact: str  # a table suffix for a table of (key, value) only


SQLITE_TYPES = Types(serial="INTEGER", token="TEXT", compact=" WITHOUT ROWID")
POSTGRES_TYPES = Types(serial="BIGSERIAL", token="INTEGER", compact="")

TABLES = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS campaigns (
    name TEXT PRIMARY KEY,
    template TEXT NOT NULL,
    sender TEXT,
    transport TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    options TEXT NOT NULL DEFAULT '{{}}'
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    campaign TEXT,
    reference TEXT,
    csv_row INTEGER,
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
    trail TEXT,
    claimed_by {t.token}
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
){t.compact};
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
-- Receipts whose native id was not known yet (parked), and whether they were matched later.
CREATE TABLE IF NOT EXISTS receipts (
    id {t.serial} PRIMARY KEY,
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


def tables(types: Types) -> str:
    return TABLES.format(t=types)


def statements(script: str) -> list[str]:
    """A script as single statements: run one by one inside a transaction (no DDL here has a ``;`` inside)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def fold_history(rows: Sequence[Sequence[object]]) -> list[tuple[str, str]]:
    """Version-1 ``history`` rows ``(message_id, at, status, note)``, in order, as ``(trail lines, message_id)``.

    The lines go in front of what the message's trail already holds: rows of
    ``history`` were written before any trail line (a file stopped writing them
    when it got the trail column), so the order of events is kept.
    """
    lines: dict[str, list[str]] = {}
    for message_id, at, status, note in rows:
        assert isinstance(at, int | float)
        entry = trail_line(
            trail_head(float(at)), STATUS_BY_VALUE.get(str(status), DeliveryStatus.UNKNOWN), str(note)
        )
        lines.setdefault(str(message_id), []).append(entry)
    return [("".join(text), message_id) for message_id, text in lines.items()]


# SQLite 1 -> 2, after the columns the oldest files lack are added: ``row`` spelled as PostgreSQL spells
# it; the parked-receipts index made again by TABLES, in the words both backends query it with.
SQLITE_1_TO_2 = """
ALTER TABLE messages RENAME COLUMN row TO csv_row;
DROP INDEX IF EXISTS receipts_parked;
"""
# Columns a SQLite file of version 1 may lack: it got them over time (status changes on the row, owners).
SQLITE_V1_LATE_COLUMNS = ("trail", "claimed_by")

# PostgreSQL 1 -> 2: the owner column tables from before claims had owners lack, the body into
# ``bodies`` as SQLite keeps it, a trail column for the history rows.
POSTGRES_1_TO_2 = """
ALTER TABLE messages ADD COLUMN IF NOT EXISTS claimed_by INTEGER;
CREATE TABLE bodies (id TEXT PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO bodies (id, body) SELECT id, body FROM messages;
ALTER TABLE messages DROP COLUMN body;
ALTER TABLE messages ADD COLUMN trail TEXT;
"""
