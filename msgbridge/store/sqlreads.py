"""The store's reads, written once for SQLite and PostgreSQL: what ``SqlStore`` (``sql.py``, the writes)
builds on. Reads outside a transaction go to the backend's ``_reader``; which claims belong to a live
owner is the backend's ``_held`` (see ``sql.py``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from msgbridge.core.message import InboundMessage
from msgbridge.core.status import AWAITING_RECEIPT, DeliveryStatus
from msgbridge.store import events
from msgbridge.store.base import (
    CostTotal,
    DoubtCounts,
    EventBacklog,
    ExportRecord,
    MessageRecord,
    Quote,
    Store,
    StoredEvent,
)
from msgbridge.store.bodies import BODY_COLUMNS, BodyRow, receipt_id_of, split_key
from msgbridge.store.dialect import Conn
from msgbridge.store.rows import (
    INBOUND_COLUMNS,
    STATUS_BY_VALUE,
    History,
    InboundRow,
    message_columns,
    trail_entries,
)
from msgbridge.store.texts import Texts

_STATUS = STATUS_BY_VALUE
_QUEUED = DeliveryStatus.QUEUED
_MAYBE = DeliveryStatus.MAYBE_SUBMITTED
AWAITING = sorted(AWAITING_RECEIPT)

M = message_columns("m.")
# Rows shaped (MessageRow..., BodyRow...): a record's row and its message.
SELECT_MESSAGES = f"SELECT {M}, {BODY_COLUMNS} FROM messages m"
WORD = "(SELECT id FROM words WHERE text = ?)"


def scope_sql(campaign: str | None, origin: str | None, prefix: str = "") -> tuple[str, list[Any]]:
    """The ``AND ...`` that limits a query to a campaign and to keys starting with ``origin``."""
    sql, params = "", list[Any]()
    if campaign is not None:
        sql += f" AND {prefix}campaign_id = {WORD}"
        params.append(campaign)
    if origin is not None:
        head, rest = split_key(origin)
        if head is not None:
            sql += f" AND {prefix}key_prefix = {WORD} AND substr({prefix}key_rest, 1, ?) = ?"
            params += [head, len(rest), rest]
        else:  # a key without ':' starting with it, or one whose word before the ':' does
            sql += (
                f" AND (({prefix}key_prefix = 0 AND substr({prefix}key_rest, 1, ?) = ?) OR {prefix}key_prefix IN "
                "(SELECT id FROM words WHERE substr(text, 1, ?) = ?))"
            )
            params += [len(origin), origin, len(origin), origin]
    return sql, params


def history(created_at: float, trail: str | None) -> History:
    """A message's history: its enqueueing (not a trail line: every row has one), then its trail's lines."""
    return ((created_at, _QUEUED, "enqueued"), *trail_entries(trail, created_at))


async def by_id(c: Conn, columns: str, message_ids: Sequence[str]) -> list[Sequence[Any]]:
    """``columns`` of the messages ``message_ids`` names (each once, in no particular order)."""
    return await c.fetch_in(f"SELECT {columns} FROM messages m WHERE m.id {{in}}", list(dict.fromkeys(message_ids)))


class SqlReads(Store):
    """The reads of :class:`Store` over a :class:`Conn`; the backend supplies ``_reader`` and ``_held``."""

    texts: Texts

    @abstractmethod
    def _reader(self) -> Conn:
        """Where reads outside a transaction go."""

    @abstractmethod
    async def _held(self, c: Conn, column: str, *, mine: bool) -> tuple[str, list[Any]]:
        """SQL true where ``column`` (a ``claimed_by``) names a live owner; ``mine``: this store counts."""

    # -- reads -----------------------------------------------------------------

    async def get(self, message_id: str) -> MessageRecord | None:
        c = self._reader()
        rows = await c.fetch(
            f"SELECT {M}, {BODY_COLUMNS}, m.price, m.price_currency_id, m.cost, m.cost_currency_id, m.trail "
            "FROM messages m WHERE m.id = ?",
            [message_id],
        )
        if not rows:
            return None
        row = rows[0]
        [record] = await self.texts.records(c, [row[:-5]])
        price, price_in, cost, cost_in = row[-5:-1]
        await self.texts.load(c, [price_in, cost_in])
        words = self.texts.words
        record.price = None if price is None else (int(price), words[price_in])
        record.cost = None if cost is None else (int(cost), words[cost_in])
        record.history = history(record.created_at, row[-1])
        return record

    async def get_many(self, message_ids: Sequence[str]) -> dict[str, MessageRecord]:
        if not message_ids:
            return {}
        c = self._reader()
        rows = await by_id(c, f"{M}, {BODY_COLUMNS}, m.trail", message_ids)
        records = await self.texts.records(c, [row[:-1] for row in rows])
        for record, row in zip(records, rows, strict=True):
            record.history = history(record.created_at, row[-1])
        return {record.message.id: record for record in records}

    async def quotes(self, message_ids: Sequence[str]) -> dict[str, Quote]:
        if not message_ids:
            return {}
        c = self._reader()
        rows = await by_id(c, f"m.created_at, {BODY_COLUMNS}", message_ids)
        bodies = [BodyRow._make(r[1:]) for r in rows]
        await self.texts.load(c, [b.sender_id for b in bodies], [b.template_id for b in bodies])
        words = self.texts.words
        return {
            b.id: Quote(
                words[b.sender_id] if b.sender_id is not None else None,
                self.texts.text(b),
                float(r[0]),
                receipt_id_of(b.extras),
            )
            for r, b in zip(rows, bodies, strict=True)
        }

    async def export_page(
        self, campaign: str, *, status: DeliveryStatus | None = None, after: int = 0, limit: int = 1000
    ) -> list[ExportRecord]:
        """One page of a campaign's messages in the order they were queued, those after cursor ``after``.

        Keyset pagination on the row number (``messages_campaign``): each page costs the same however far
        into the campaign it is, and the caller holds one page at a time.
        """
        c = self._reader()
        sql = (
            "SELECT n, csv_row, COALESCE(phone, key_rest), id, native_id, status, error_code, error_native_code, "
            "error_text, segments, created_at, updated_at, price, price_currency_id, cost, cost_currency_id "
            f"FROM messages WHERE campaign_id = {WORD} AND n > ?"
        )
        params: list[Any] = [campaign, after]
        if status is not None:
            sql += f" AND {c.unindexed('status')} = ?"
            params.append(status)
        rows = await c.fetch(sql + " ORDER BY n LIMIT ?", [*params, limit])
        await self.texts.load(c, [r[13] for r in rows] + [r[15] for r in rows])
        words = self.texts.words
        return [
            ExportRecord(
                int(r[0]),
                r[1],
                r[2],
                r[3],
                r[4],
                _STATUS[r[5]],
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                r[11],
                None if r[12] is None else (int(r[12]), words[r[13]]),
                None if r[14] is None else (int(r[14]), words[r[15]]),
            )
            for r in rows
        ]

    async def csv_rows(self, message_ids: Sequence[str]) -> dict[str, int | None]:
        if not message_ids:
            return {}
        rows = await self._reader().fetch_in(
            "SELECT id, csv_row FROM messages WHERE id {in}", list(dict.fromkeys(message_ids))
        )
        return {str(mid): row for mid, row in rows}

    async def find_by_reference(self, reference: str) -> MessageRecord | None:
        rows = await self._reader().fetch(
            "SELECT id FROM messages WHERE reference = ? ORDER BY created_at DESC LIMIT 1", [reference]
        )
        return await self.get(rows[0][0]) if rows else None

    async def counts(self, campaign: str | None = None) -> dict[DeliveryStatus, int]:
        scope, params = scope_sql(campaign, None)
        rows = await self._reader().fetch(
            f"SELECT status, COUNT(*) FROM messages WHERE 1 = 1{scope} GROUP BY status", params
        )
        return {_STATUS[status]: n for status, n in rows}

    async def cost_totals(self, campaign: str) -> list[CostTotal]:
        c = self._reader()
        # One pass over the campaign's rows (``messages_campaign``), grouped by both currencies, folded here.
        totals: dict[int, list[int]] = {}
        for price_in, cost_in, price, priced, cost, costed in await c.fetch(
            "SELECT price_currency_id, cost_currency_id, SUM(price), COUNT(price), SUM(cost), COUNT(cost) "
            f"FROM messages WHERE campaign_id = {WORD} GROUP BY price_currency_id, cost_currency_id",
            [campaign],
        ):
            for currency_id, total, n, at in ((price_in, price, priced, 0), (cost_in, cost, costed, 2)):
                if n:
                    entry = totals.setdefault(int(currency_id), [0, 0, 0, 0])
                    entry[at] += int(total)
                    entry[at + 1] += int(n)
        await self.texts.load(c, totals)
        return sorted(
            (CostTotal(self.texts.words[i], *t) for i, t in totals.items()), key=lambda t: t.currency
        )

    async def pending_native_ids(self, link: str, limit: int) -> list[str]:
        # Oldest update first: a message a poll just touched goes to the back of the line.
        # ``due`` is the time of the last update while a receipt is awaited (see writes._DUE).
        rows = await self._reader().fetch(
            f"SELECT native_id FROM messages WHERE status IN ({', '.join('?' * len(AWAITING))}) "
            f"AND due IS NOT NULL AND link_id = {WORD} AND native_id IS NOT NULL ORDER BY due LIMIT ?",
            [*AWAITING, link, limit],
        )
        return [native_id for (native_id,) in rows]

    async def in_doubt(
        self, limit: int, *, campaign: str | None = None, origin: str | None = None
    ) -> list[MessageRecord]:
        """MAYBE_SUBMITTED messages, less those another live store has claimed and not answered yet."""
        c = self._reader()
        held, owners = await self._held(c, "m.claimed_by", mine=False)
        scope, params = scope_sql(campaign, origin, "m.")
        rows = await c.fetch(
            f"{SELECT_MESSAGES} WHERE m.status = ? AND m.due IS NOT NULL{scope} "
            f"AND (m.claimed_by IS NULL OR NOT ({held})) ORDER BY m.id LIMIT ?",
            [_MAYBE, *params, *owners, limit],
        )
        return await self.texts.records(c, rows)

    async def doubt_counts(self, campaign: str | None = None, origin: str | None = None) -> DoubtCounts:
        c = self._reader()
        held, owners = await self._held(c, "claimed_by", mine=False)
        scope, params = scope_sql(campaign, origin)
        counts = {True: 0, False: 0}
        for is_held, n in await c.fetch(
            f"SELECT claimed_by IS NOT NULL AND ({held}), COUNT(*) FROM messages WHERE status = ? "
            f"AND due IS NOT NULL{scope} GROUP BY 1",
            [*owners, _MAYBE, *params],
        ):
            counts[bool(is_held)] += n
        return DoubtCounts(left=counts[False], held=counts[True])

    async def held_elsewhere(self, campaign: str | None = None, origin: str | None = None) -> int:
        c = self._reader()
        held, owners = await self._held(c, "claimed_by", mine=False)
        scope, params = scope_sql(campaign, origin)
        rows = await c.fetch(
            f"SELECT COUNT(*) FROM messages WHERE status = ? AND due IS NOT NULL{scope} "
            f"AND claimed_by IS NOT NULL AND ({held})",
            [_QUEUED, *params, *owners],
        )
        return int(rows[0][0]) if rows else 0

    async def next_due(self, *, campaign: str | None = None, origin: str | None = None) -> float | None:
        c = self._reader()
        held, owners = await self._held(c, "claimed_by", mine=True)
        scope, params = scope_sql(campaign, origin)
        rows = await c.fetch(
            f"SELECT MIN(due) FROM messages WHERE status = ? AND due IS NOT NULL{scope} "
            f"AND (claimed_by IS NULL OR NOT ({held}))",
            [_QUEUED, *params, *owners],
        )
        value = rows[0][0] if rows else None
        return float(value) if value is not None else None

    # -- inbound ---------------------------------------------------------------

    async def list_inbound(self, limit: int = 100) -> list[InboundMessage]:
        rows = await self._reader().fetch(
            f"SELECT {INBOUND_COLUMNS} FROM inbound ORDER BY received_at DESC, id DESC LIMIT ?", [limit]
        )
        return [InboundRow(*r).message() for r in rows]

    async def inbound_page(self, after: int | None, limit: int) -> list[tuple[int, InboundMessage]]:
        rows = await self._reader().fetch(
            f"SELECT n, {INBOUND_COLUMNS} FROM inbound WHERE n > ? ORDER BY n LIMIT ?",
            [0 if after is None else after, limit],
        )
        return [(int(r[0]), InboundRow(*r[1:]).message()) for r in rows]

    # -- events (events.py) ------------------------------------------------------

    async def events_page(
        self, after: int | None, limit: int, *, message_id: str | None = None, since: float | None = None
    ) -> list[StoredEvent]:
        return await events.events_page(
            self._reader(), self.texts, after, limit, message_id=message_id, since=since
        )

    async def event_backlog(self, *, formats: Sequence[str] | None = None) -> EventBacklog:
        return await events.event_backlog(self._reader(), formats=formats)
