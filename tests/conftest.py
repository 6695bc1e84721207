"""Fixtures shared by every test directory: a PostgreSQL server for the PostgreSQL store's tests.

Also the Hypothesis settings every property test starts from.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from pg_server import session_dsn

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
