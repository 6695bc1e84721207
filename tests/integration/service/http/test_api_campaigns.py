"""/v1/campaigns (JSON and CSV upload), per-recipient pages, cancel; /v1/inbox; /v1/transports; /metrics."""

from __future__ import annotations

from pathlib import Path

from api_helpers import Api, api, until

from msgbridge.simulators.smsc import SmscSimulator


async def campaign_done(a: Api, name: str, total: int) -> None:
    async def done() -> bool:
        view = (await a.client.get(f"/v1/campaigns/{name}", headers=a.auth())).json()
        return bool(view["total"] == total and view["done"] == total)

    await until(done, what=f"campaign {name} done")


async def test_json_campaign_counts_and_pages(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        recipients = [{"phone": f"+7701123{i:04d}", "fields": {"name": f"N{i}"}} for i in range(25)]
        body = {
            "name": "spring",
            "template": "Hi {name}",
            "recipients": [*recipients, {"phone": "bad"}, recipients[0]],
        }
        r = await a.client.post("/v1/campaigns", json=body, headers=a.auth())
        assert r.status_code == 202, r.text
        started = r.json()
        assert (started["rows"], started["queued"], started["skipped"], started["repeated"]) == (27, 25, 1, 1)
        assert (
            started["problems"][0]["code"] == "INVALID_DESTINATION"
            and started["problems"][0]["phone"] == "bad"
        )
        again = await a.client.post("/v1/campaigns", json=body, headers=a.auth())
        assert again.status_code == 409 and again.json()["error"]["code"] == "DUPLICATE"
        await campaign_done(a, "spring", 25)
        view = (await a.client.get("/v1/campaigns/spring", headers=a.auth())).json()
        assert view["counts"] == {"DELIVERED": 25} and view["progress"] == 1.0 and view["transport"] == "sms"
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "10", **({"cursor": str(cursor)} if cursor is not None else {})}
            page = (
                await a.client.get("/v1/campaigns/spring/messages", params=params, headers=a.auth())
            ).json()
            seen += [m["phone"] for m in page["messages"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [r["phone"] for r in recipients]
        failed = await a.client.get("/v1/campaigns/spring/messages?status=FAILED", headers=a.auth())
        assert failed.json() == {"messages": [], "next_cursor": None}
        assert (await a.client.get("/v1/campaigns/nope", headers=a.auth())).status_code == 404
        assert (await a.client.get("/v1/campaigns/nope/messages", headers=a.auth())).status_code == 404
    texts = sorted(s.short_message for s in sim.submitted)
    assert len(texts) == 25 and b"Hi N0" in texts


async def test_csv_upload_is_read_like_campaign_run(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        csv = "\ufeffPhone;name\n+77011230001;Ann\n+77011230002;Bo\nnot-a-phone;X\n".encode()
        r = await a.client.post(
            "/v1/campaigns", headers=a.auth(), files={"file": ("people.csv", csv, "text/csv")},
            data={"name": "upload", "template": "Dear {name}", "sender": "Shop"},
        )  # fmt: skip
        assert r.status_code == 202, r.text
        assert (r.json()["queued"], r.json()["skipped"]) == (2, 1)
        assert r.json()["problems"][0]["line"] == 4  # the file's own line numbers
        await campaign_done(a, "upload", 2)
        page = (await a.client.get("/v1/campaigns/upload/messages", headers=a.auth())).json()
        assert [m["csv_row"] for m in page["messages"]] == [2, 3]
        strict = {"template": "Dear {name}", "strict": "true"}
        r = await a.client.post("/v1/campaigns", headers=a.auth(), files={"file": ("people.csv", csv)},
                                data={**strict, "name": "strict-bad"})  # fmt: skip
        assert r.status_code == 422 and "line 4" in r.json()["error"]["message"], r.text
        assert (await a.client.get("/v1/campaigns/strict-bad", headers=a.auth())).status_code == 404
        good = b"phone,name\n+77011230003,Cy\n"
        r = await a.client.post("/v1/campaigns", headers=a.auth(), files={"file": ("good.csv", good)},
                                data={**strict, "name": "strict-good"})  # fmt: skip
        assert r.status_code == 202 and r.json()["queued"] == 1, r.text  # read twice: checked, then queued
        await campaign_done(a, "strict-good", 1)
        r = await a.client.post("/v1/campaigns", headers=a.auth(), files={"file": ("x.csv", b"tel\n1\n")},
                                data={"name": "nophone", "template": "t"})  # fmt: skip
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "file"
        assert "x.csv" in r.json()["error"]["message"] and "msgbridge-upload" not in r.text
        r = await a.client.post("/v1/campaigns", headers=a.auth(), data={"name": "nofile", "template": "t"},
                                files={"other": ("a", b"b")})  # fmt: skip
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "file"
        r = await a.client.post("/v1/campaigns", headers=a.auth("backup-only"), files={"file": ("p.csv", csv)},
                                data={"name": "denied", "template": "t"})  # fmt: skip
        assert r.status_code == 403
        assert (await a.client.get("/v1/campaigns/denied", headers=a.auth())).status_code == 404
    assert sorted(s.destination for s in sim.submitted) == ["77011230001", "77011230002", "77011230003"]


async def test_cancel_leaves_the_rest_unsent(sim: SmscSimulator, tmp_path: Path) -> None:
    down = "smpp://u:p@127.0.0.1:1?bind_timeout=0.5"  # nothing listens: its lane never takes a message
    async with api(tmp_path, sim, extra={"down": down}) as a:
        recipients = [{"phone": f"+7701123{i:04d}"} for i in range(20)]
        body = {"name": "stopme", "template": "t", "transport": "down", "recipients": recipients}
        assert (await a.client.post("/v1/campaigns", json=body, headers=a.auth())).status_code == 202
        r = await a.client.post("/v1/campaigns/stopme/cancel", headers=a.auth())
        assert r.status_code == 200, r.text
        assert r.json() == {"name": "stopme", "canceled": 20}
        view = (await a.client.get("/v1/campaigns/stopme", headers=a.auth())).json()
        assert view["counts"] == {"CANCELED": 20} and view["done"] == 20
        again = await a.client.post("/v1/campaigns/stopme/cancel", headers=a.auth())
        assert again.json()["canceled"] == 0
        assert (await a.client.post("/v1/campaigns/nope/cancel", headers=a.auth())).status_code == 404
        denied = await a.client.post("/v1/campaigns/stopme/cancel", headers=a.auth("backup-only"))
        assert denied.status_code == 403


async def test_inbox_pages(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        r = await a.client.get("/v1/inbox", headers=a.auth())
        assert r.status_code == 200 and r.json() == {"messages": [], "next_cursor": None}
        for i in range(3):
            await sim.send_mo(system_id="u", source=f"7701123000{i}", destination="Shop", text=f"reply {i}")

        async def three() -> bool:
            return len((await a.client.get("/v1/inbox", headers=a.auth())).json()["messages"]) == 3

        await until(three, what="three MO messages")
        first = (await a.client.get("/v1/inbox?limit=2", headers=a.auth())).json()
        rest = (
            await a.client.get(f"/v1/inbox?limit=2&cursor={first['next_cursor']}", headers=a.auth())
        ).json()
        assert [m["text"] for m in first["messages"] + rest["messages"]] == ["reply 0", "reply 1", "reply 2"]


async def test_transports_and_metrics(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        r = await a.client.post("/v1/messages", json={"to": "+77011234567", "text": "m"}, headers=a.auth())
        mid = r.json()["id"]

        async def delivered() -> bool:
            rec = await a.runtime.message(mid)
            return rec is not None and rec.status.value == "DELIVERED"

        await until(delivered, what="DELIVERED")
        transports = (await a.client.get("/v1/transports", headers=a.auth())).json()["transports"]
        sms = next(t for t in transports if t["name"] == "sms")
        assert sms["up"] and sms["binds_up"] == 1 and sms["receipts_matched"] == 1
        assert sms["sent"] == {"SUBMITTED": 1} and sms["submit_latency"]["total"] == 1
        for made_up in ("/v1/a", "/v1/b", "/wp-login.php"):
            assert (await a.client.get(made_up)).status_code == 404
        text = (await a.client.get("/metrics")).text
    for line in (
        'msgbridge_messages_total{status="SUBMITTED",transport="sms"} 1.0',
        'msgbridge_receipts_total{result="matched",transport="sms"} 1.0',
        'msgbridge_queue_depth{status="DELIVERED"} 1.0',
        'msgbridge_window_in_flight{transport="sms"} 0.0',
        'msgbridge_throttle_events_total{transport="sms"} 0.0',
        'msgbridge_submit_latency_seconds_count{transport="sms"} 1.0',
        'msgbridge_http_requests_total{code="202",route="/v1/messages"} 1.0',
        'msgbridge_http_requests_total{code="200",route="/v1/transports"} 1.0',
        'msgbridge_http_requests_total{code="404",route="unmatched"} 3.0',  # one series, whatever the paths
    ):
        assert line in text, line
    assert "msgbridge_http_request_duration_seconds_bucket" in text and "wp-login" not in text
    assert "# TYPE msgbridge_submit_latency_seconds histogram" in text


async def test_a_campaign_shows_its_price_and_cost(sim: SmscSimulator, tmp_path: Path) -> None:
    from msgbridge.core.message import Message, SendResult
    from msgbridge.core.status import DeliveryStatus
    from msgbridge.store.base import CampaignRecord, OutboxEntry

    async with api(tmp_path, sim) as a:
        store = a.runtime.store
        await store.save_campaign(CampaignRecord("priced", "Hi", None, "sms", 0.0, {}))
        ids = await store.enqueue(
            [
                OutboxEntry(Message(to=f"+770112300{i:02d}", text="Hi", campaign="priced"), f"priced:{i}", None, p)
                for i, p in enumerate([(18_000, "KZT"), (36_000, "KZT"), None])
            ]
        )
        await store.record_results(
            [SendResult(ids[0], DeliveryStatus.SUBMITTED, "n0", cost=(21_500, "EUR"))], link="https://api.example"
        )
        view = (await a.client.get("/v1/campaigns/priced", headers=a.auth())).json()
        assert view["costs"] == [
            {"currency": "EUR", "price": None, "price_micros": None, "priced": 0, "cost": "0.0215", "cost_micros": 21_500, "costed": 1},
            {"currency": "KZT", "price": "0.054", "price_micros": 54_000, "priced": 2, "cost": None, "cost_micros": None, "costed": 0},
        ]  # fmt: skip
