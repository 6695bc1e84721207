"""``msgbridge events list|replay`` over a store holding events (written by the store itself)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Run

from msgbridge.cli.events import parse_since
from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.base import EventOutcome, OutboxEntry
from msgbridge.store.sqlite import SqliteStore

LINK = "smpp://smsc.example:2775"
HOOK = CallbackTarget("https://app.example/hook")


async def fill(path: Path) -> None:
    """m1 submitted then delivered (its first event delivered), m2 rejected with a peer's text."""
    async with SqliteStore(path) as store:
        messages = [
            Message(id="m1", to="+77010000001", text="a", metadata={"callback": HOOK.dumps()}),
            Message(id="m2", to="+77010000002", text="b", metadata={"callback": HOOK.dumps()}),
        ]
        await store.enqueue([OutboxEntry(m, m.id) for m in messages])
        await store.claim(2)
        await store.mark_in_doubt(["m1", "m2"])
        bad = ErrorInfo(code=ErrorCode.INVALID_DESTINATION, native_code=11, native_message="bad\x1b[31m dest")
        await store.record_results(
            [SendResult("m1", S.SUBMITTED, "n1"), SendResult("m2", S.REJECTED, error=bad)], link=LINK
        )
        await store.record_receipts([DeliveryReceipt("n1", S.DELIVERED, "DELIVRD", link=LINK)])
        [first, _] = await store.claim_events(10, now=time.time() + 1, lease=30)
        await store.events_done([EventOutcome(first.n, "delivered", None, None)])


def test_list_shows_every_event_in_order_and_json_is_the_callbacks_shape(
    msgbridge: Callable[..., Run], tmp_path: Path
) -> None:
    db = tmp_path / "ev.db"
    asyncio.run(fill(db))
    listed = msgbridge("--store", str(db), "events", "list")
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert len(lines) == 3
    assert "m1  SUBMITTED" in lines[0] and "-> delivered x1 https://app.example/hook" in lines[0]
    assert "m2  REJECTED" in lines[1] and "INVALID_DESTINATION" in lines[1] and "\x1b" not in listed.out
    assert "m1  DELIVERED (DELIVRD)" in lines[2] and "-> pending x0" in lines[2]
    as_json = msgbridge("--store", str(db), "events", "list", "--json", "--message", "m1")
    records = [json.loads(line) for line in as_json.out.splitlines()]
    assert [(r["message_id"], r["status"], r["delivery"]["state"]) for r in records] == [
        ("m1", "SUBMITTED", "delivered"), ("m1", "DELIVERED", "pending"),
    ]  # fmt: skip
    assert records[0]["event_id"].startswith("evt_") and records[0]["cursor"] < records[1]["cursor"]
    assert msgbridge("--store", str(db), "events", "list", "--limit", "1").out.count("\n") == 1
    future = msgbridge("--store", str(db), "events", "list", "--since", "2999-01-01T00:00:00Z")
    assert future.code == 0 and future.out == "" and "no events" in future.err


def test_replay_makes_them_pending_again(msgbridge: Callable[..., Run], tmp_path: Path) -> None:
    db = tmp_path / "ev.db"
    asyncio.run(fill(db))
    replayed = msgbridge("--store", str(db), "events", "replay", "--since", "1h", "--message", "m1")
    assert replayed.code == 0 and "2 event(s) pending delivery again" in replayed.out
    states = [json.loads(x)["delivery"]["state"] for x in msgbridge("--store", str(db), "events", "list", "--json").out.splitlines()]
    assert states == ["pending", "pending", "pending"]
    bad = msgbridge("--store", str(db), "events", "replay", "--since", "yesterday")
    assert bad.code == 2 and "--since" in bad.err
    missing = msgbridge("--store", str(tmp_path / "none.db"), "events", "list")
    assert missing.code == 2 and "no store" in missing.err


def test_since_reads_durations_and_iso_times() -> None:
    assert parse_since("90s", 1000.0) == 910.0 and parse_since("2h", 10_000.0) == 2800.0
    assert parse_since("1d", 86_400.0) == 0.0 and parse_since("1.5m", 100.0) == 10.0
    assert parse_since("1970-01-01T00:01:00Z", 0) == 60.0 and parse_since("1970-01-01T00:01:00", 0) == 60.0
    assert parse_since("1970-01-01T01:01:00+01:00", 0) == 60.0
    with pytest.raises(ConfigError, match="duration"):
        parse_since("soon", 0)
