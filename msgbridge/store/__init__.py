"""Durable outbox, status history, receipts and inbound messages.

``open_store`` lives here, not in ``base.py``: it imports the backends, and the
backends import ``base``.
"""

from __future__ import annotations

from msgbridge.core.url import encode_credentials
from msgbridge.store.base import MessageRecord, OutboxEntry, Store, StoreError


def open_store(dsn: str | None = None) -> Store:
    """``None`` or a path -> SQLite file; ``sqlite:///path``; ``postgresql://...`` -> PostgreSQL."""
    from msgbridge.store.sqlite import SqliteStore

    if dsn is None:
        return SqliteStore("msgbridge.db")
    if dsn.startswith(("postgres://", "postgresql://")):
        from msgbridge.store.postgres import PostgresStore

        # Passwords with '/', '@' or ':' pasted as they are: encoded here, so the driver reads them whole.
        return PostgresStore(encode_credentials(dsn))
    if dsn.startswith("sqlite:///"):
        return SqliteStore(dsn[len("sqlite:///") :])
    return SqliteStore(dsn)


__all__ = ["MessageRecord", "OutboxEntry", "Store", "StoreError", "open_store"]
