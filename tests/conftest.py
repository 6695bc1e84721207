"""Fixtures shared by every test directory: a PostgreSQL server for the PostgreSQL store's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_server import session_dsn


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A PostgreSQL DSN for the session (see ``pg_server.session_dsn``): tests isolate themselves in a schema."""
    yield from session_dsn()
