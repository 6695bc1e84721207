"""Fixtures shared by every test directory: a PostgreSQL server for the PostgreSQL store's tests.

Also the Hypothesis settings every property test starts from.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from pg_server import session_dsn

if TYPE_CHECKING:
    from msgbridge.store.sql import SqlStore

# The properties are about results, never about speed, and the tests share a small machine with other
# work: Hypothesis' 200 ms per-example deadline and its too_slow health check would fail a correct
# property whenever another process takes the CPU. Under CI, Hypothesis' own "ci" profile already
# does the same (and derandomizes); elsewhere the default profile is kept otherwise as it is.
settings.register_profile(
    "local", settings.get_profile("default"), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
if settings().deadline is not None:
    settings.load_profile("local")


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A PostgreSQL DSN for the session (see ``pg_server.session_dsn``): tests isolate themselves in a schema."""
    yield from session_dsn()


@pytest.fixture(params=["sqlite", "postgres"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable[[], SqlStore]]:
    """Makes stores on one database, once per backend: each store made is what one process opens. The
    PostgreSQL server is asked for only here, so a SQLite-only selection (``-k sqlite``) starts none."""
    from msgbridge.store.sqlite import SqliteStore

    if request.param == "sqlite":
        yield lambda: SqliteStore(tmp_path / "stores.db")
        return
    import asyncpg  # type: ignore[import-untyped]

    from msgbridge.store.postgres import PostgresStore

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"s_{uuid.uuid4().hex[:12]}"
    yield lambda: PostgresStore(dsn, schema=schema)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def _collector_pace_restored() -> Iterator[None]:
    """A test that runs ``serve`` in this process lets it settle the collector (``heap.settle``: a frozen
    heap, a new threshold) for the rest of the process, as a service wants; tests run in any order, so the
    pace is put back after each one."""
    from msgbridge.dispatch import heap

    before = gc.get_threshold()
    yield
    if heap._settled:
        heap._settled = False
        gc.set_threshold(*before)
        gc.unfreeze()
