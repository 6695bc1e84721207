"""Durable outbox, status history, receipts and inbound messages."""

from __future__ import annotations

from msgbridge.store.base import MessageRecord, OutboxEntry, Store, open_store

__all__ = ["MessageRecord", "OutboxEntry", "Store", "open_store"]
