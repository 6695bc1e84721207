"""Fuzzing every endpoint from the OpenAPI document (schemathesis): no 500, every answer as documented.

The server is the real one (runtime, uvicorn, the SMSC simulator) in a thread of its own, since
schemathesis calls it synchronously. Schemathesis generates both valid and invalid requests from the
document; each answer must be a 4xx/2xx the document declares, with a body matching the declared schema.
Bounded to a few examples per operation; ``FUZZ_EXAMPLES`` in the slow variant explores more.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_helpers import USERS, api
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from msgbridge.simulators.smsc import SmscSimulator


@schemathesis.check
def no_internal_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 500, and no 5xx but the documented ones: 501 (this store cannot do it), 503 (draining)."""
    if response.status_code >= 500 and response.status_code not in (501, 503):
        raise AssertionError(f"{response.status_code} from {case.method} {case.formatted_path}: {response.text[:300]}")
    return None


CHECKS: list[Any] = [
    no_internal_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@contextmanager
def api_in_thread(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The API over the real runtime, served from its own thread and loop; yields (URL, auth headers)."""
    box: dict[str, Any] = {}
    up = threading.Event()

    async def main() -> None:
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        sim = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=11)
        async with sim.serve("127.0.0.1", 0), api(tmp_path, sim) as a:
            box["url"], box["auth"] = a.url, a.auth()
            up.set()
            await box["stop"].wait()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by the test, not lost in the thread
            box["error"] = exc
            up.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert up.wait(60), "the API did not start"
    if "error" in box:
        raise box["error"]
    try:
        yield box["url"], box["auth"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(60)
    if "error" in box:
        raise box["error"]


def fuzz(tmp_path: Path, examples: int) -> int:
    """Every operation, ``examples`` generated cases each, with and without a key; returns the calls made."""
    calls = 0
    with api_in_thread(tmp_path) as (url, auth):
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 12
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def call(case: Any) -> None:
                nonlocal calls
                calls += 1
                case.call_and_validate(base_url=url, headers=auth, checks=CHECKS)

            call()
    return calls


def test_every_endpoint_answers_as_documented(tmp_path: Path) -> None:
    assert fuzz(tmp_path, examples=8) >= 12 * 8 // 2


@pytest.mark.slow
def test_every_endpoint_answers_as_documented_at_length(tmp_path: Path) -> None:
    assert fuzz(tmp_path, examples=200) >= 12 * 100
