"""``msgbridge serve`` SIGKILLed after status changes and before their events were delivered (the receiver
hanging on the requests it was sent): restarted, it delivers every event, signed, in order per message."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import httpx
from webhook_receiver import receiver

from msgbridge.service.apikeys import create_key

ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("MSGBRIDGE_")}, "PYTHONUNBUFFERED": "1"}
SECRET = "whsec_kill_test"
MESSAGES = 20


def events_by_state(db: Path) -> dict[str, int]:
    with sqlite3.connect(db, timeout=30) as conn:
        return dict(
            conn.execute("SELECT COALESCE(state, '-'), COUNT(*) FROM events GROUP BY state").fetchall()
        )


async def serve(config: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "msgbridge", "serve", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=ENV,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    assert line.startswith("listening on http://"), line
    return proc, line.split()[-1]


async def until(predicate: object, seconds: float, what: str) -> None:
    """Poll ``predicate`` (the store, read by another process) until it holds: a deadline, not a speed check."""
    async with asyncio.timeout(seconds):
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110 -- another process's file
            await asyncio.sleep(0.05)


async def test_a_sigkill_between_status_change_and_delivery_loses_no_event(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    config = tmp_path / "msgbridge.toml"
    config.write_text(
        f'[store]\npath = "{db}"\n[transports]\nsms = "memory://?dlr_delay_ms=20"\n'
        '[serve]\nlisten = "127.0.0.1:0"\n[events]\nallow_private_callbacks = true\n'
        f'[webhooks]\nsecret = "{SECRET}"\ntimeout = 1\nbreaker_cooldown = 0.5\n',
        encoding="utf-8",
    )
    key, token = create_key(tmp_path / "msgbridge-keys.toml", "app")
    auth = {"Authorization": f"Bearer {token}"}
    # What is sent with a key is signed with that key's own secret, not the [webhooks] default.
    async with receiver(key.webhook_secret, mode="slow", delay=60) as r:  # takes requests, never answers them
        proc, url = await serve(config)
        try:
            async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as client:
                batch = [
                    {"to": f"+7701{i:07d}", "text": f"m{i}", "callback_url": r.url + "/events"}
                    for i in range(MESSAGES)
                ]
                answer = await client.post("/v1/messages", json={"messages": batch})
                assert answer.status_code == 202, answer.text
                ids = [m["id"] for m in answer.json()["messages"]]
            # Every message SUBMITTED then DELIVERED: two events each, none delivered, some requests out.
            await until(lambda: sum(events_by_state(db).values()) >= 2 * MESSAGES, 60, "the events")
            await until(lambda: len(r.requests) > 0, 30, "a request in flight")
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert events_by_state(db).get("delivered", 0) == 0 and r.events == []
        r.mode = "up"
        proc, url = await serve(config)
        try:
            await until(
                lambda: events_by_state(db) == {"delivered": 2 * MESSAGES}, 90, "every event delivered"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
    firsts: dict[str, dict[str, object]] = {}
    for arrival in r.events:
        firsts.setdefault(str(arrival.event["event_id"]), arrival.event)
    assert len(firsts) == 2 * MESSAGES and all(a.verified for a in r.events)
    for mid in ids:  # per message: SUBMITTED before DELIVERED, in the order of first arrival
        mine = [e["status"] for e in firsts.values() if e["message_id"] == mid]
        assert mine == ["SUBMITTED", "DELIVERED"], (mid, mine)
