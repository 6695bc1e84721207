"""The emulator server: real HTTP/1.1 with keep-alive, form arrays, JSON, and its deliberate faults."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from msgbridge.simulators.http.server import (
    FAULTS,
    Emulator,
    Request,
    Response,
    json_response,
    parse_mix,
    serve,
)


class Echo(Emulator):
    async def dispatch(self, request: Request) -> Response:
        body = None
        if request.content_type == "application/json":
            body = request.json()
        return json_response(
            {
                "method": request.method,
                "path": request.path,
                "ids": request.array("ids"),
                "name": request.arg("name"),
                "map": request.mapping("filter"),
                "json": body,
                "auth": request.headers.get("authorization"),
            }
        )


async def test_form_query_json_and_bracket_arrays() -> None:
    async with serve(Echo()) as server, httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post("/x/y?name=q", data={"ids[1]": "b", "ids[0]": "a", "ids[]": "c"})
        assert r.json()["ids"] == ["a", "b", "c"]
        assert r.json()["name"] == "q"
        r = await client.get("/x", params={"ids": "1,2,3", "filter[campaign_id]": "9"})
        assert r.json()["ids"] == ["1", "2", "3"]
        assert r.json()["map"] == {"campaign_id": "9"}
        r = await client.patch("/c/1/stop", json={"a": [1, 2]}, headers={"Authorization": "Bearer t"})
        assert r.json()["json"] == {"a": [1, 2]}
        assert r.json()["method"] == "PATCH"
        assert r.json()["auth"] == "Bearer t"


async def test_keep_alive_reuses_one_connection_and_counts_requests() -> None:
    emulator = Echo()
    async with serve(emulator) as server, httpx.AsyncClient(base_url=server.url) as client:
        for _ in range(20):
            assert (await client.get("/ping")).status_code == 200
        assert server.connections_opened == 1
    assert emulator.requests["GET /ping"] == 20
    assert emulator.total_requests == 20


async def test_raw_socket_pipelined_requests_and_close() -> None:
    async with serve(Echo()) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = await asyncio.wait_for(reader.read(), timeout=10)  # until the server closes
        writer.close()
        assert data.count(b"HTTP/1.1 200") == 2
        assert b'"path": "/b"' in data


@pytest.mark.parametrize(
    ("fault", "status"),
    [("html502", 502), ("http500", 500), ("http429", 429), ("truncated", 200), ("empty", 200)],
)
async def test_answering_faults(fault: str, status: int) -> None:
    emulator = Echo()
    emulator.inject(fault)
    async with serve(emulator) as server, httpx.AsyncClient(base_url=server.url) as client:
        r = await client.get("/x")
        assert r.status_code == status
        assert (await client.get("/x")).json()["path"] == "/x"  # one fault per request


async def test_hang_and_drop_faults() -> None:
    emulator = Echo()
    emulator.inject("hang", "drop")
    async with serve(emulator) as server, httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/x", timeout=0.3)  # short only where no answer is the point
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/x")
        assert (await client.get("/x")).status_code == 200


class Counting(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self.done = 0

    async def dispatch(self, request: Request) -> Response:
        self.done += 1
        return json_response({"ok": True})


async def test_lost_fault_carries_out_the_request_then_drops_the_answer() -> None:
    emulator = Counting()
    emulator.inject("lost", "drop")
    async with serve(emulator) as server, httpx.AsyncClient(base_url=server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/x")
        assert emulator.done == 1
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/x")
        assert emulator.done == 1  # "drop" never reaches the emulator


async def test_faults_for_one_endpoint() -> None:
    emulator = Echo()
    emulator.inject_at("GET /b", "http500")
    async with serve(emulator) as server, httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/a")).status_code == 200
        assert (await client.get("/b")).status_code == 500
        assert (await client.get("/b")).status_code == 200


def test_unknown_fault_is_refused() -> None:
    assert set(FAULTS) == {"html502", "http500", "http429", "truncated", "empty", "hang", "drop", "lost"}
    with pytest.raises(ValueError):
        Echo().inject("explode")


def test_final_mix_is_seeded_and_weighted() -> None:
    emulator = Echo(final_mix=parse_mix("delivered=0.7,undeliverable=0.3"), seed=3)
    outcomes = [emulator.outcome(str(i)) for i in range(2000)]
    assert outcomes == [
        Echo(final_mix={"delivered": 0.7, "undeliverable": 0.3}, seed=3).outcome(str(i)) for i in range(2000)
    ]
    share = outcomes.count("delivered") / len(outcomes)
    assert 0.65 < share < 0.75
    with pytest.raises(ValueError):
        Echo(final_mix={"bounced": 1.0})


def test_stage_follows_the_clock() -> None:
    now = [100.0]
    emulator = Echo(accept_after=1.0, final_after=3.0, clock=lambda: now[0])
    assert emulator.stage(100.0) == 0
    now[0] = 101.5
    assert emulator.stage(100.0) == 1
    now[0] = 103.0
    assert emulator.stage(100.0) == 2


def test_rate_limit_bucket() -> None:
    now = [0.0]
    emulator = Echo(rate_limit=2.0, rate_burst=2.0, clock=lambda: now[0])
    assert [emulator.rate_limited() for _ in range(3)] == [False, False, True]
    now[0] = 0.5
    assert emulator.rate_limited() is False
    assert emulator.throttled == 1
