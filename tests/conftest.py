"""Fixtures shared by every test directory: a PostgreSQL server for the PostgreSQL store's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from pg_server import ServerNotFound, TempCluster

ENV_DSN = "MSGBRIDGE_TEST_POSTGRES"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A PostgreSQL DSN: ``MSGBRIDGE_TEST_POSTGRES`` if set, else a throwaway cluster for the session.

    Without server binaries the PostgreSQL tests are skipped on a developer's
    machine but fail under CI: a green CI run must not hide that the
    PostgreSQL store was never exercised. Tests isolate themselves in their
    own schema, so one database serves the whole session.
    """
    override = os.environ.get(ENV_DSN, "").strip()
    if override:
        yield override
        return
    try:
        cluster = TempCluster.start()
    except ServerNotFound as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI is set: the PostgreSQL tests must run there)", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield cluster.dsn
    finally:
        cluster.stop()
