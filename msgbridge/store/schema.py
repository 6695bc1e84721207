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

Version 4 gives inbound messages a number of their own (``inbound.n``), the
cursor ``Store.inbound_page`` pages by; step 3 -> 4 builds that table again
(``step_3_to_4``), the same for both backends.

Version 5 keeps events (``EVENTS``: status changes and inbound messages, with their delivery state) and
gives each message a callback target (``messages.callback_id``, a ``words`` id like ``sender_id``); step
4 -> 5 adds that column where it is missing (``CALLBACK_COLUMN``), the events table is made by TABLES.

Version 6 keeps what a message costs: ``price`` (expected, for all its segments, when it was queued) and
``cost`` (what the provider said it charged), each in millionths of its currency (integers: sums are exact),
and each currency as a ``words`` id. Two currency columns, not one: a provider reports in its account's
currency, which need not be the price table's. Step 5 -> 6 adds the columns a version-5 outbox lacks
(``PRICE_COLUMNS``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from msgbridge.core.status import DeliveryStatus
from msgbridge.store.rows import STATUS_BY_VALUE

VERSION = 6


@dataclass(frozen=True)
class Types:
    """The words of ``TABLES`` that differ between SQLite and PostgreSQL."""

    serial: str  # an integer key the database numbers itself
    token: str  # the type of an owner token (``messages.claimed_by``)
    compact: str  # a table suffix for a table of (key, value) only
    by_campaign: str  # the columns of ``messages_campaign`` (SQLite's indexes end with the rowid anyway)
    row_key: str  # ``messages.n``: SQLite's rowid; a plain number in PostgreSQL, where ``id`` is the key
    id_key: str  # ``messages.id``: UNIQUE beside the rowid, or PostgreSQL's primary key
    messages_with: str  # storage options of ``messages``
    ordered_key: str  # ``inbound.n``: the order rows came in, which an inbox page is read by (a cursor)


SQLITE_TYPES = Types(
    serial="INTEGER",
    token="TEXT",
    compact=" WITHOUT ROWID",
    by_campaign="campaign_id",
    row_key="INTEGER PRIMARY KEY",
    id_key="UNIQUE",
    messages_with="",
    ordered_key="INTEGER PRIMARY KEY",
)
# PostgreSQL writes a new row version for every UPDATE, and one entry in every index for it unless the
# version fits on the same page and no indexed column changed (a HOT update): room left on each page lets
# a claim (owner, attempts, time) be one, and ``n`` has no index of its own to pay for.
POSTGRES_TYPES = Types(
    serial="BIGSERIAL",
    token="INTEGER",
    compact="",
    by_campaign="campaign_id, n",
    row_key="BIGSERIAL",
    id_key="PRIMARY KEY",
    messages_with=" WITH (fillfactor = 80)",
    ordered_key="BIGSERIAL UNIQUE",
)

CAMPAIGNS = """
CREATE TABLE IF NOT EXISTS campaigns (
    name TEXT PRIMARY KEY,
    template TEXT NOT NULL,
    sender TEXT,
    transport TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    options TEXT NOT NULL DEFAULT '{{}}'
);
"""
# Texts many rows repeat, each kept once (see bodies.py); ids are never reused or changed.
WORDS = """
CREATE TABLE IF NOT EXISTS words (
    id {t.serial} PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS templates (
    id {t.serial} PRIMARY KEY,
    text TEXT NOT NULL
);
"""

# The outbox, one row per message (``{name}``: the migration builds it beside the old one). ``n`` is
# SQLite's rowid (no key stored twice); the message id is looked up through its UNIQUE index.
MESSAGES = """
CREATE TABLE IF NOT EXISTS {name} (
    n {t.row_key},
    id TEXT NOT NULL {t.id_key},
    key_prefix INTEGER NOT NULL,
    key_rest TEXT NOT NULL,
    campaign_id INTEGER,
    phone TEXT,
    template_id INTEGER,
    text TEXT NOT NULL,
    sender_id INTEGER,
    reference TEXT,
    extras TEXT,
    callback_id INTEGER,
    csv_row INTEGER,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    native_id TEXT,
    native_ids TEXT,
    link_id INTEGER,
    segments INTEGER NOT NULL DEFAULT 1,
    error_code TEXT,
    error_native_code TEXT,
    error_text TEXT,
    error_retry_after DOUBLE PRECISION,
    due DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    trail TEXT,
    claimed_by {t.token},
    price BIGINT,
    price_currency_id INTEGER,
    cost BIGINT,
    cost_currency_id INTEGER,
    UNIQUE (key_prefix, key_rest)
){t.messages_with};
"""

# Inbound (MO) messages, numbered in the order they were stored: ``n`` is the cursor an inbox is paged
# by (SQLite's rowid, never renumbered as an implicit one may be by VACUUM; a serial in PostgreSQL).
INBOUND = """
CREATE TABLE IF NOT EXISTS {name} (
    n {t.ordered_key},
    id TEXT NOT NULL {t.id_key},
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    parts INTEGER NOT NULL,
    raw TEXT
);
"""

# Events, numbered in commit order (``n``: the cursor GET /v1/events pages by, and the order a message's
# events are delivered in). What a message row holds and never changes (reference, campaign, phone) is read
# from it, and an inbound message's fields from ``inbound``; only what the change said is kept here.
# ``target_id`` (a ``words`` id, the target's JSON) NULL: recorded for reading only, nothing to deliver.
EVENTS = """
CREATE TABLE IF NOT EXISTS events (
    n {t.serial} PRIMARY KEY,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    message_id TEXT NOT NULL,
    occurred_at DOUBLE PRECISION NOT NULL,
    status TEXT,
    native_status TEXT,
    error_code TEXT,
    error_native_code TEXT,
    error_text TEXT,
    target_id INTEGER,
    state TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at DOUBLE PRECISION,
    last_error TEXT,
    leased_by {t.token}
);
-- A message's events in order: GET /v1/events?message_id=, and the claim's "no earlier one pending".
CREATE INDEX IF NOT EXISTS events_message ON events (message_id, n);
CREATE INDEX IF NOT EXISTS events_occurred ON events (occurred_at);
-- What the delivery worker claims, by when it is due; an event leaves it once delivered or given up.
CREATE INDEX IF NOT EXISTS events_due ON events (next_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS events_failed ON events (n) WHERE state = 'failed';
"""

TABLES = (
    """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
"""
    + CAMPAIGNS
    + WORDS
    + MESSAGES.replace("{name}", "messages")
    + """
-- Every index costs each status change a write: keep to the ones a query needs.
-- Messages not final yet (``due`` is NULL once they are): what claims, settling and pollers look for.
-- A final message leaves it, so a finished campaign costs it nothing.
CREATE INDEX IF NOT EXISTS messages_open ON messages (status, campaign_id, due) WHERE due IS NOT NULL;
-- A campaign's messages in the order they were queued: counts and exports. Never changes after the
-- INSERT, so it costs status changes nothing.
CREATE INDEX IF NOT EXISTS messages_campaign ON messages ({t.by_campaign}) WHERE campaign_id IS NOT NULL;
-- The same by key prefix, for a lane that claims only what its origin queued (``claim(origin=...)``: a
-- service's ``api:``, the SMTP gateway's ``smtp:``): without it such a claim reads every message that
-- prefix ever had, sent or not, through the key's UNIQUE index, and sorts them, so a service slowed down
-- with every message it had sent.
CREATE INDEX IF NOT EXISTS messages_origin ON messages (key_prefix, status, due) WHERE due IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_reference ON messages (reference) WHERE reference IS NOT NULL;
-- Receipts of single-part messages match here, (link, native_id) with native_id first; multi-part
-- messages match through ``segments``.
CREATE INDEX IF NOT EXISTS messages_native ON messages (native_id, link_id) WHERE native_id IS NOT NULL;
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
"""
    + INBOUND.replace("{name}", "inbound")
    + """
CREATE INDEX IF NOT EXISTS inbound_received ON inbound (received_at);
"""
    + EVENTS
)


def tables(types: Types) -> str:
    return TABLES.format(t=types)


def step_2_to_3(types: Types) -> str:
    """The new tables of version 3, the outbox beside the old one (``sql.py`` copies the rows over)."""
    return (CAMPAIGNS + WORDS + MESSAGES.replace("{name}", "messages_v3")).format(t=types)


# After the copy: the version-2 outbox goes, the new one takes its name (its indexes are made by TABLES).
AFTER_2_TO_3 = """
DROP TABLE messages;
DROP TABLE bodies;
ALTER TABLE messages_v3 RENAME TO messages;
"""


def step_3_to_4(types: Types, columns: str) -> str:
    """Version 4 numbers inbound messages (``INBOUND``): the table is built again beside the old one and
    filled oldest first, so the numbers of rows stored before follow the order they were received in.
    ``columns`` are the ones both versions have (``rows.INBOUND_COLUMNS``)."""
    return INBOUND.replace("{name}", "inbound_v4").format(t=types) + (
        f"INSERT INTO inbound_v4 ({columns}) SELECT {columns} FROM inbound ORDER BY received_at, id;\n"
        "DROP TABLE inbound;\n"
        "ALTER TABLE inbound_v4 RENAME TO inbound;\n"
    )


# Step 4 -> 5: the column a version-4 outbox lacks (one migrated from version 2 in the same run has it).
CALLBACK_COLUMN = "ALTER TABLE messages ADD COLUMN callback_id INTEGER"
# Step 5 -> 6: (column, type) a version-5 outbox lacks; all NULL on the rows it holds (no price was known).
PRICE_COLUMNS = (
    ("price", "BIGINT"),
    ("price_currency_id", "INTEGER"),
    ("cost", "BIGINT"),
    ("cost_currency_id", "INTEGER"),
)


def statements(script: str) -> list[str]:
    """A script as single statements: run one by one inside a transaction (no DDL here has a ``;`` inside)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def v2_trail_line(at: float, status: DeliveryStatus, note: str) -> str:
    """A trail line as schema version 2 wrote it (JSON), which the step 2 -> 3 reads again."""
    return json.dumps([at, status.value, note]) + "\n"


def fold_history(rows: Sequence[Sequence[object]]) -> list[tuple[str, str]]:
    """Version-1 ``history`` rows ``(message_id, at, status, note)``, in order, as ``(trail lines, message_id)``.

    The lines go in front of what the message's trail already holds: rows of
    ``history`` were written before any trail line (a file stopped writing them
    when it got the trail column), so the order of events is kept.
    """
    lines: dict[str, list[str]] = {}
    for message_id, at, status, note in rows:
        assert isinstance(at, int | float)
        entry = v2_trail_line(float(at), STATUS_BY_VALUE.get(str(status), DeliveryStatus.UNKNOWN), str(note))
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
