"""``msgbridge status ID`` lists the attempts a routed send made on other transports before its result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Run

from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import Attempt, Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

AT = 1796590000.0  # 2026-12-06 20:46:40 UTC


async def seed(db: Path) -> str:
    async with SqliteStore(db) as store:
        [mid] = await store.enqueue([OutboxEntry(Message(to="+77011234567", text="hi"), "k1")])
        await store.claim(10, ids=[mid])
        down = ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_code=None, native_message="connection refused")
        tries = (
            Attempt("kz_smsc", "smpp://a:2775", down, AT),
            Attempt("kz_backup", "smpp://b:2775", None, AT + 61),
        )
        await store.record_results(
            [SendResult(mid, DeliveryStatus.SUBMITTED, "n1", link="https://api.example", attempts=tries)],
            link="route:kz",
        )
        return mid


def test_status_lists_the_attempts_before_the_result(
    tmp_path: Path, msgbridge: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    mid = asyncio.run(seed(db))
    monkeypatch.setenv("COLUMNS", "200")
    r = msgbridge("--store", str(db), "status", mid)
    assert r.code == 0, r.output
    lines = r.out.splitlines()
    tried = [line.split("│") for line in lines if "kz_" in line and "attempt via" not in line]
    assert [[cell.strip() for cell in row if cell.strip()] for row in tried] == [
        ["1", "2026-12-06 20:46:40", "kz_smsc", "NETWORK_ERROR: connection refused"],
        ["2", "2026-12-06 20:47:41", "kz_backup", "-"],
    ]
    assert "link https://api.example" in r.out
    # The history has them too, in order, before the result.
    notes = [line for line in lines if "attempt via" in line or "│ result" in line]
    assert [("kz_smsc" in n, "kz_backup" in n, "result" in n) for n in notes] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]
    history = msgbridge("--store", str(db), "status", mid, "--json").json()["history"]
    assert [h["note"] for h in history] == [  # type: ignore[index]
        "enqueued",
        "attempt via kz_smsc: NETWORK_ERROR: connection refused",
        "attempt via kz_backup",
        "result",
    ]
