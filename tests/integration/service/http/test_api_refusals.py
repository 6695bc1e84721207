"""Every refusal in one shape: 401/403/429, 400 unknown transport, 413 while reading, 422, 503 draining,
a generic 500; and no key or transport secret in any answer, the OpenAPI document, the metrics or the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_helpers import SIM_PASSWORD, api

from msgbridge.config import ServeSettings
from msgbridge.service.http.errors import GENERIC_500
from msgbridge.simulators.smsc import SmscSimulator

MSG = {"to": "+77011234567", "text": "hello"}


def assert_shape(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"code", "message", "fields"} and error["code"] == code, error
    assert "Traceback" not in r.text
    return dict(error)


async def test_keys_transports_and_rates(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        assert_shape(await a.client.post("/v1/messages", json=MSG), 401, "AUTH_FAILED")
        r = await a.client.post("/v1/messages", json=MSG, headers={"Authorization": "Bearer mbk_made-up"})
        assert_shape(r, 401, "AUTH_FAILED")
        assert r.headers["www-authenticate"] == "Bearer" and "mbk_made-up" not in r.text
        assert_shape(
            await a.client.get("/v1/transports", headers={"Authorization": "Basic dTpw"}), 401, "AUTH_FAILED"
        )
        error = assert_shape(
            await a.client.post("/v1/messages", json=MSG, headers=a.auth("backup-only")), 403, "ACCESS_DENIED"
        )
        assert error["fields"] == [
            {
                "field": "transport",
                "code": "ACCESS_DENIED",
                "message": "this API key may not use transport 'sms'",
            }
        ]
        ok = await a.client.post(
            "/v1/messages", json={**MSG, "transport": "BACKUP"}, headers=a.auth("backup-only")
        )
        assert ok.status_code == 202 and ok.json()["transport"] == "backup"
        error = assert_shape(
            await a.client.post("/v1/messages", json={**MSG, "transport": "nope"}, headers=a.auth()),
            400,
            "INVALID_ARGUMENT",
        )
        assert error["fields"][0]["field"] == "transport"  # type: ignore[index]
        assert (await a.client.post("/v1/messages", json=MSG, headers=a.auth("slow"))).status_code == 202
        limited = await a.client.post("/v1/messages", json=MSG, headers=a.auth("slow"))
        assert_shape(limited, 429, "THROTTLED")
        assert int(limited.headers["retry-after"]) >= 1
        assert (
            await a.client.get("/v1/transports", headers=a.auth("slow"))
        ).status_code == 200  # reads are not rated


async def test_bad_bodies(sim: SmscSimulator, tmp_path: Path) -> None:
    settings = ServeSettings(max_body=4096, max_upload=8192)
    async with api(tmp_path, sim, settings=settings) as a:
        h = a.auth()
        assert_shape(
            await a.client.post("/v1/messages", content=b"{not json", headers=h), 422, "INVALID_ARGUMENT"
        )
        error = assert_shape(
            await a.client.post("/v1/messages", json={"messages": [MSG, {"to": 5}]}, headers=h),
            422,
            "INVALID_ARGUMENT",
        )
        assert {f["field"] for f in error["fields"]} == {"messages[1].to", "messages[1].text"}  # type: ignore[attr-defined]
        error = assert_shape(
            await a.client.post("/v1/messages", json={**MSG, "colour": "red"}, headers=h),
            422,
            "INVALID_ARGUMENT",
        )
        assert error["fields"][0]["field"] == "colour"  # type: ignore[index]
        assert_shape(
            await a.client.post("/v1/messages", json={"messages": []}, headers=h), 422, "INVALID_ARGUMENT"
        )
        big = {"to": "+77011234567", "text": "x" * 5000}
        assert_shape(await a.client.post("/v1/messages", json=big, headers=h), 413, "INVALID_ARGUMENT")

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
            for _ in range(100):
                yield b" " * 1024

        assert_shape(
            await a.client.post("/v1/messages", content=chunks(), headers=h), 413, "INVALID_ARGUMENT"
        )
        upload = {"file": ("r.csv", b"phone\n" + b"+77011234567\n" * 1000)}
        r = await a.client.post("/v1/campaigns", data={"name": "c", "template": "t"}, files=upload, headers=h)
        assert_shape(r, 413, "INVALID_ARGUMENT")
        multipart = {**h, "Content-Type": "multipart/form-data; boundary=x"}
        r = await a.client.post("/v1/messages", content=b"-" * 5000, headers=multipart)  # not an upload path
        assert_shape(r, 413, "INVALID_ARGUMENT")
        r = await a.client.post("/v1/campaigns", content=b"x", headers={**h, "Content-Type": "text/plain"})
        assert_shape(r, 415, "UNSUPPORTED")
        assert_shape(await a.client.get("/v1/nothing", headers=h), 404, "NOT_FOUND")
        assert_shape(await a.client.delete("/v1/messages", headers=h), 405, "UNSUPPORTED")
        assert_shape(await a.client.get("/v1/inbox?limit=0", headers=h), 422, "INVALID_ARGUMENT")
    assert sim.submitted == []


async def test_draining_answers_503_but_health_and_metrics(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        assert (await a.client.get("/readyz")).json() == {
            "ready": True,
            "draining": False,
            "transports": {"sms": True, "backup": True},
        }
        a.gate.close()
        r = await a.client.post("/v1/messages", json=MSG, headers=a.auth())
        assert_shape(r, 503, "TEMPORARY_FAILURE")
        assert r.headers["retry-after"]
        ready = await a.client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["draining"] is True
        assert (await a.client.get("/healthz")).json() == {"status": "ok"}
        assert (await a.client.get("/metrics")).status_code == 200
    assert sim.submitted == []


async def test_nothing_unexpected_reaches_the_client(
    sim: SmscSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise RuntimeError("internal detail /srv/secret-path")

    with caplog.at_level(logging.ERROR, logger="msgbridge.service.http"):
        async with api(tmp_path, sim) as a:
            a.app.add_api_route("/v1/boom", broken)  # a route failing in a way no handler knows
            r = await a.client.get("/v1/boom")
            metrics = (await a.client.get("/metrics")).text
    assert_shape(r, 500, "TEMPORARY_FAILURE")
    assert r.json()["error"]["message"] == GENERIC_500 and "secret-path" not in r.text
    logged = [rec for rec in caplog.records if rec.exc_info and "internal detail" in str(rec.exc_info[1])]
    assert len(logged) == 1  # logged once, for the operator
    assert 'msgbridge_http_requests_total{code="500",route="/v1/boom"} 1.0' in metrics


async def test_no_secret_in_answers_document_metrics_or_logs(
    sim: SmscSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with api(tmp_path, sim) as a:
            seen = [
                await a.client.post("/v1/messages", json=MSG, headers=a.auth()),
                await a.client.post("/v1/messages", json=MSG, headers=a.auth("backup-only")),
                await a.client.post(
                    "/v1/messages", json=MSG, headers={"Authorization": f"Bearer {a.tokens['full']}x"}
                ),
                await a.client.get("/v1/transports", headers=a.auth()),
                await a.client.get("/openapi.json"),
                await a.client.get("/metrics"),
                await a.client.get("/readyz"),
            ]
            tokens = list(a.tokens.values())
    secrets = [*tokens, f"u:{SIM_PASSWORD}@"]
    for r in seen:
        for secret in secrets:
            assert secret not in r.text, (r.url, secret)
    for secret in tokens:
        assert secret not in caplog.text
    document = seen[4].json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "mbk_" not in seen[4].text
