"""GET /v1/events and callback targets over a real uvicorn and the real runtime (the SMSC simulator as SMSC):
the target a message gets (its own, its key's, its campaign's or row's, its transport's), the URLs refused,
and the events as a receiver catching up reads them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from api_helpers import Api, http_server, make_keys, sim_url, until

from msgbridge.config import EventSettings, ServeSettings
from msgbridge.core.callbacks import CallbackTarget
from msgbridge.service.apikeys import KeyRing, read_keys, write_keys
from msgbridge.service.http import create_app
from msgbridge.service.http.gate import Gate
from msgbridge.service.runtime import Runtime
from msgbridge.simulators.smsc import SmscSimulator

# Literal public addresses (documentation ranges are reserved, so real ones): nothing is resolved or called.
OWN = "https://93.184.216.34/own-hook"
KEY_DEFAULT = "https://93.184.216.35/key-hook"
BACKUP_DEFAULT = "https://93.184.216.36/backup-hook"
CAMPAIGN = "https://93.184.216.37/campaign-hook"
ROW = "https://93.184.216.38/row-hook"


@asynccontextmanager
async def events_api(tmp_path: Path, sim: SmscSimulator) -> AsyncIterator[Api]:
    """The API with key ``full`` defaulting to KEY_DEFAULT and transport ``backup`` to BACKUP_DEFAULT."""
    keys_path = tmp_path / "keys.toml"
    tokens = make_keys(keys_path)
    keys = read_keys(keys_path)
    keys["full"] = dataclasses.replace(keys["full"], callback_url=KEY_DEFAULT)
    write_keys(keys_path, keys.values())
    runtime = Runtime(
        store=str(tmp_path / "events.db"),
        transports={"sms": sim_url(sim), "backup": "memory://?dlr_delay_ms=5"},
        events=EventSettings(allow_private_callbacks=False),
        transport_callbacks={"backup": BACKUP_DEFAULT},
        keys=KeyRing.load(keys_path),
    )
    gate = Gate()
    app = create_app(runtime, keys=KeyRing.load(keys_path), settings=ServeSettings(), gate=gate)
    async with runtime:
        assert await runtime.wait_ready()
        async with http_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield Api(url=url, client=client, runtime=runtime, gate=gate, app=app, tokens=tokens)


async def target_of(a: Api, message_id: str) -> CallbackTarget:
    record = await a.runtime.message(message_id)
    assert record is not None
    return CallbackTarget.loads(record.message.metadata["callback"])


async def all_events(a: Api, **params: Any) -> list[dict[str, Any]]:
    """Every event, page by page, as a receiver catching up pages."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 3, **params, **({"cursor": cursor} if cursor is not None else {})}
        r = await a.client.get("/v1/events", params=query, headers=a.auth())
        assert r.status_code == 200, r.text
        page = r.json()
        if not page["events"]:
            assert page["next_cursor"] == (cursor or 0)  # nothing newer: poll again with the same cursor
            return out
        out += page["events"]
        cursor = page["next_cursor"]


async def test_events_of_a_message_read_as_its_callbacks_would_post_them(sim: SmscSimulator, tmp_path: Path) -> None:
    async with events_api(tmp_path, sim) as a:
        r = await a.client.post(
            "/v1/messages", headers=a.auth(),
            json={"to": "+77011234567", "text": "hello", "reference": "order-1", "callback_url": OWN},
        )  # fmt: skip
        assert r.status_code == 202, r.text
        mid = r.json()["id"]
        assert await target_of(a, mid) == CallbackTarget(OWN, key="full")  # signed with the key's secret

        async def delivered() -> bool:
            return [e["status"] for e in await all_events(a)] == ["SUBMITTED", "DELIVERED"]

        await until(delivered, what="SUBMITTED and DELIVERED events")
        submitted, done = await all_events(a)
        assert set(submitted) == {
            "event_id", "type", "message_id", "reference", "campaign", "to", "status", "native_status", "error",
            "segments", "occurred_at",
        }  # fmt: skip
        assert (submitted["type"], submitted["message_id"], submitted["reference"], submitted["to"]) == (
            "message.status", mid, "order-1", "+77011234567",
        )  # fmt: skip
        assert submitted["event_id"].startswith("evt_") and submitted["event_id"] != done["event_id"]
        assert submitted["occurred_at"].endswith("Z") and submitted["occurred_at"] <= done["occurred_at"]
        assert (done["native_status"], done["error"], done["segments"], done["campaign"]) == ("DELIVRD", None, 1, None)
        only = await a.client.get("/v1/events", params={"message_id": mid, "limit": 1}, headers=a.auth())
        assert only.json()["events"] == [submitted]
        unauthorised = await a.client.get("/v1/events")
        assert unauthorised.status_code == 401


async def test_a_message_without_its_own_target_gets_its_keys_then_its_transports(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with events_api(tmp_path, sim) as a:
        by_key = await a.client.post("/v1/messages", headers=a.auth(), json={"to": "+77011234567", "text": "a"})
        # The key "backup-only" has no default: its messages on transport backup get the transport's.
        by_transport = await a.client.post(
            "/v1/messages", headers=a.auth("backup-only"), json={"to": "+77011234568", "text": "b", "transport": "backup"}
        )
        assert by_key.status_code == by_transport.status_code == 202, (by_key.text, by_transport.text)
        assert await target_of(a, by_key.json()["id"]) == CallbackTarget(KEY_DEFAULT, key="full")
        assert await target_of(a, by_transport.json()["id"]) == CallbackTarget(BACKUP_DEFAULT, key="backup-only")


async def test_private_and_credentialed_callback_urls_are_refused_and_nothing_is_queued(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with events_api(tmp_path, sim) as a:
        for url, words in [
            ("http://127.0.0.1:8080/hook", "loopback"),
            ("http://10.1.2.3/hook", "private"),
            ("http://169.254.169.254/latest/meta-data", "link-local"),
            ("http://[::1]/hook", "loopback"),
            ("http://localhost/hook", "loopback"),
            ("https://user:secret@93.184.216.34/hook", "credentials"),
            ("ftp://93.184.216.34/hook", "http"),
        ]:
            r = await a.client.post(
                "/v1/messages", headers=a.auth(), json={"to": "+77011234567", "text": "x", "callback_url": url}
            )
            assert r.status_code == 422, (url, r.text)
            [problem] = r.json()["error"]["fields"]
            assert problem["field"] == "callback_url" and words in problem["message"], (url, problem)
        assert sum((await a.runtime.queue_depth()).values()) == 0


async def test_a_campaigns_rows_carry_the_campaign_target_or_their_own(sim: SmscSimulator, tmp_path: Path) -> None:
    async with events_api(tmp_path, sim) as a:
        recipients = [
            {"phone": "+77011230001", "fields": {"name": "Ann"}},
            {"phone": "+77011230002", "fields": {"name": "Bob", "callback_url": ROW}},
            {"phone": "+77011230003", "fields": {"name": "Eve", "callback_url": "http://192.168.0.1/x"}},
        ]
        body = {"name": "spring", "template": "Hi {name}", "callback_url": CAMPAIGN, "recipients": recipients}
        r = await a.client.post("/v1/campaigns", json=body, headers=a.auth())
        assert r.status_code in (200, 201, 202), r.text
        report = r.json()
        assert report["queued"] == 2 and report["skipped"] == 1
        assert "callback_url" in report["problems"][0]["reason"] and "private" in report["problems"][0]["reason"]
        page = await a.client.get("/v1/campaigns/spring/messages", headers=a.auth())
        targets = {m["phone"]: await target_of(a, m["message_id"]) for m in page.json()["messages"]}
        assert targets == {"+77011230001": CallbackTarget(CAMPAIGN, key="full"), "+77011230002": CallbackTarget(ROW, key="full")}

        async def both_delivered() -> bool:
            events = await all_events(a)
            return sorted((e["to"], e["status"]) for e in events if e["status"] == "DELIVERED") == [
                ("+77011230001", "DELIVERED"), ("+77011230002", "DELIVERED"),
            ]  # fmt: skip

        await until(both_delivered, what="the campaign's DELIVERED events")
        assert {e["campaign"] for e in await all_events(a)} == {"spring"}
        bad = await a.client.post(
            "/v1/campaigns", headers=a.auth(),
            json={**body, "name": "autumn", "callback_url": "http://127.0.0.1/x"},
        )  # fmt: skip
        assert bad.status_code == 422 and "loopback" in bad.text
