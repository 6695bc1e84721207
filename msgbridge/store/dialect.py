"""What a store backend's connection does, in the words the shared sequences (``sql.py``) use.

Every statement the sequences run is written once, the way both databases
read it, with ``?`` for each value. A backend's :class:`Conn` runs it in its
own words: how the ``?`` are spelled, how a list goes into ``IN`` (the
``{in}`` of a statement given to :meth:`Conn.split_in`), how one statement
runs for many rows (:class:`Bulk`), and whether rows read inside a
transaction must be locked.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

# What a transaction may ask to be serialised with (see SqlStore._tx).
RECEIPTS = "receipts"
SCHEMA = "schema"


@dataclass(frozen=True)
class Bulk:
    """One statement written once for many rows.

    ``sql`` is as SQLite runs it, once per row (``executemany``): an INSERT
    with one ``VALUES (?, ...)`` or an ``UPDATE ... SET ... WHERE ...``, a
    ``?`` per value. PostgreSQL runs it once over arrays instead (``unnest``),
    which needs each value's type (``types``). A row that repeats another's
    ``key`` (the positions of the values naming the row written) goes in a
    later round there, so both apply rows in their order.
    """

    sql: str
    types: tuple[str, ...]
    key: tuple[int, ...]
    # An ``INSERT ... ON CONFLICT DO NOTHING`` PostgreSQL may run as a COPY into a temporary table and one
    # INSERT from it (measured faster than arrays for the outbox's batches: docs/store-and-dispatch.md).
    copy: bool = False


class Conn(ABC):
    """A backend's connection (or pool) in the words the shared sequences use."""

    # Appended to reads whose rows the transaction writes next: PostgreSQL locks them, SQLite's
    # write transaction already holds the whole file.
    lock: ClassVar[str] = ""
    # Appended to the claim's inner SELECT: another worker's claim in progress is skipped, not waited for.
    skip_locked: ClassVar[str] = ""

    @abstractmethod
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...

    @abstractmethod
    async def has_table(self, name: str) -> bool: ...

    @abstractmethod
    async def columns(self, table: str) -> set[str]:
        """The names of ``table``'s columns."""

    @abstractmethod
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; how many rows it changed."""

    @abstractmethod
    async def bulk(self, statement: Bulk, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``statement`` for every row, in order; how many rows it changed."""

    @abstractmethod
    def split_in(
        self, sql: str, values: Sequence[str], params: Sequence[Any] = ()
    ) -> list[tuple[str, list[Any]]]:
        """``sql`` with ``{in}`` made ``IN`` ``values`` (text), as statements to run; ``params`` go first."""

    def unindexed(self, column: str) -> str:
        """``column`` in a form the planner does not look up by index (SQLite: ``+column``)."""
        return column

    async def fetch_in(
        self, sql: str, values: Sequence[str], params: Sequence[Any] = ()
    ) -> list[Sequence[Any]]:
        out: list[Sequence[Any]] = []
        for statement, args in self.split_in(sql, values, params):
            out += await self.fetch(statement, args)
        return out
