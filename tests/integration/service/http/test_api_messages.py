"""POST/GET /v1/messages over a real uvicorn and the real runtime, the SMSC simulator as the SMSC."""

from __future__ import annotations

from pathlib import Path

from api_helpers import Api, api, until

from msgbridge.simulators.smsc import SmscSimulator


async def status_of(a: Api, mid: str) -> str:
    r = await a.client.get(f"/v1/messages/{mid}", headers=a.auth())
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


async def test_one_message_is_queued_then_delivered(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        r = await a.client.post(
            "/v1/messages", headers=a.auth(), json={"to": "+77011234567", "text": "hello", "sender": "Shop"}
        )
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "QUEUED" and body["transport"] == "sms" and body["duplicate"] is False
        record = await a.runtime.message(body["id"])  # the 202 came after the commit
        assert record is not None and record.message.text == "hello"

        async def delivered() -> bool:
            return await status_of(a, body["id"]) == "DELIVERED"

        await until(delivered, what="DELIVERED over HTTP")
        got = (await a.client.get(f"/v1/messages/{body['id']}", headers=a.auth())).json()
        assert got["native_id"] and got["segments"] == 1 and got["last_error"] is None
        assert got["history"][0]["status"] == "QUEUED" and got["history"][-1]["status"] == "DELIVERED"
    assert [s.destination for s in sim.submitted] == ["77011234567"]


async def test_a_batch_is_one_commit_and_a_bad_item_refuses_all(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        batch = [{"to": f"+7701123{i:04d}", "text": f"n{i}"} for i in range(50)]
        r = await a.client.post("/v1/messages", headers=a.auth(), json={"messages": batch})
        assert r.status_code == 202, r.text
        ids = [m["id"] for m in r.json()["messages"]]
        assert len(set(ids)) == 50 and all(m["status"] == "QUEUED" for m in r.json()["messages"])
        bad = [
            *batch[:3],
            {"to": "not a phone", "text": "x"},
            {"to": "+77011230001", "text": "y", "transport": "backup"},
        ]
        before = sum((await a.runtime.queue_depth()).values())
        r = await a.client.post("/v1/messages", headers=a.auth(), json={"messages": bad})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "INVALID_DESTINATION"
        assert [f["field"] for f in error["fields"]] == ["messages[3].to"]
        assert sum((await a.runtime.queue_depth()).values()) == before  # nothing of it was queued

        async def all_delivered() -> bool:
            return all([await status_of(a, mid) == "DELIVERED" for mid in ids])

        await until(all_delivered, what="the batch delivered")
    assert len(sim.submitted) == 50


async def test_idempotency_key_and_reference_return_the_first_result(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with api(tmp_path, sim) as a:
        msg = {"to": "+77011234567", "text": "once"}
        first = await a.client.post("/v1/messages", headers={**a.auth(), "Idempotency-Key": "k1"}, json=msg)
        again = await a.client.post("/v1/messages", headers={**a.auth(), "Idempotency-Key": "k1"}, json=msg)
        assert first.status_code == again.status_code == 202
        assert again.json()["id"] == first.json()["id"] and again.json()["duplicate"] is True
        by_ref = await a.client.post("/v1/messages", headers=a.auth(), json={**msg, "reference": "k1"})
        assert by_ref.json()["id"] == first.json()["id"]  # the header is the reference
        other_key = await a.client.post("/v1/messages", headers={**a.auth("backup-only"), "Idempotency-Key": "k1"},
                                        json={**msg, "transport": "backup"})  # fmt: skip
        assert other_key.status_code == 202 and other_key.json()["id"] != first.json()["id"]  # scoped per key
        clash = await a.client.post(
            "/v1/messages", headers={**a.auth(), "Idempotency-Key": "k2"}, json={**msg, "reference": "k3"}
        )
        assert clash.status_code == 422 and clash.json()["error"]["fields"][0]["field"] == "reference"
        batch = {"messages": [msg, {**msg, "to": "+77011234568"}]}
        b1 = await a.client.post("/v1/messages", headers={**a.auth(), "Idempotency-Key": "b"}, json=batch)
        b2 = await a.client.post("/v1/messages", headers={**a.auth(), "Idempotency-Key": "b"}, json=batch)
        assert [m["id"] for m in b1.json()["messages"]] == [m["id"] for m in b2.json()["messages"]]
        assert all(m["duplicate"] for m in b2.json()["messages"])

        async def settled() -> bool:
            return len(sim.submitted) >= 3

        await until(settled, what="three sends")
    assert sorted(s.destination for s in sim.submitted) == ["77011234567", "77011234567", "77011234568"]


async def test_unknown_message_and_bad_ids(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        r = await a.client.get("/v1/messages/nope", headers=a.auth())
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
        r = await a.client.get("/v1/messages/" + "x" * 65, headers=a.auth())
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "message_id"


async def test_a_routed_sends_attempts_are_in_its_history(sim: SmscSimulator, tmp_path: Path) -> None:
    from msgbridge.core.errors import ErrorCode, ErrorInfo
    from msgbridge.core.message import Attempt, Message, SendResult
    from msgbridge.core.status import DeliveryStatus
    from msgbridge.store.base import OutboxEntry

    async with api(tmp_path, sim) as a:
        store = a.runtime.store
        [mid] = await store.enqueue([OutboxEntry(Message(to="+77011234567", text="hi"), "routed:1")])
        down = ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_code=None, native_message="refused")
        tries = (Attempt("kz_smsc", "smpp://a:2775", down, 1796590000.0),)
        await store.record_results(
            [SendResult(mid, DeliveryStatus.SUBMITTED, "n1", link="smpp://b:2775", attempts=tries)], link="route:kz"
        )
        got = (await a.client.get(f"/v1/messages/{mid}", headers=a.auth())).json()
        assert [(h["status"], h["note"]) for h in got["history"]] == [
            ("QUEUED", "enqueued"),
            ("QUEUED", "attempt via kz_smsc: NETWORK_ERROR: refused"),
            ("SUBMITTED", "result"),
        ]
        assert got["history"][1]["at"] == 1796590000.0
