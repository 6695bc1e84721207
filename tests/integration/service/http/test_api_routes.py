"""Routes in the service over real sockets: two SMSC simulators as two transports, a failover route.

Messages posted to ``auto`` reach the primary; with the primary's simulator stopped the next ones go out
through the secondary, are delivered (their receipts matched on the secondary's link) and each is sent
once; the circuit opens, shows in ``GET /v1/transports`` and ``/metrics``, and closes again once the
primary is back and the cool-down has passed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import USERS, http_server, until

from msgbridge.config import ServeSettings, load_config
from msgbridge.service.apikeys import KeyRing, create_key
from msgbridge.service.http import create_app
from msgbridge.service.http.gate import Gate
from msgbridge.service.runtime import Runtime
from msgbridge.simulators.smsc import SmscSimulator

COOLDOWN = 5  # seconds: long enough to look at the open circuit, short enough to wait for the probe


@dataclass
class Routed:
    client: httpx.AsyncClient
    runtime: Runtime
    tokens: dict[str, str]

    def auth(self, name: str = "full") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    async def transports(self) -> dict[str, Any]:
        r = await self.client.get("/v1/transports", headers=self.auth())
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def transport(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(t for t in (await self.transports())["transports"] if t["name"] == name)
        return found

    async def metric(self, name: str, transport: str) -> float | None:
        text = (await self.client.get("/metrics")).text
        found = re.search(rf'^{name}{{transport="{transport}"}} (\S+)$', text, re.M)
        return float(found.group(1)) if found else None

    async def message(self, message_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/v1/messages/{message_id}", headers=self.auth())
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def post(self, texts: list[str], transport: str | None = None) -> list[str]:
        messages = [
            {"to": "+77011234567", "text": t, **({"transport": transport} if transport else {})}
            for t in texts
        ]
        r = await self.client.post("/v1/messages", json={"messages": messages}, headers=self.auth())
        assert r.status_code == 202, r.text
        accepted = r.json()["messages"]
        assert {a["transport"] for a in accepted} == {"auto"}
        return [a["id"] for a in accepted]

    async def delivered(self, ids: list[str]) -> None:
        async def done() -> bool:
            statuses = [(await self.message(i))["status"] for i in ids]
            return statuses == ["DELIVERED"] * len(ids)

        await until(done, seconds=30, what=f"{len(ids)} messages delivered")


def sim_url(port: int) -> str:
    return f"smpp://u:p@127.0.0.1:{port}?receipt_park=0.2&reconnect_wait=0.5"


@asynccontextmanager
async def routed(tmp_path: Path, primary: int, secondary: int) -> AsyncIterator[Routed]:
    """``serve``'s runtime and API from a msgbridge.toml with a failover route over the two simulators."""
    keys = tmp_path / "keys.toml"
    tokens = {
        "full": create_key(keys, "full")[1],
        "primary-only": create_key(keys, "primary-only", transports=["primary"])[1],
    }
    config_file = tmp_path / "msgbridge.toml"
    config_file.write_text(
        f"""
[store]
path = "{tmp_path / "routes.db"}"

[transports]
primary = "{sim_url(primary)}"
secondary = "{sim_url(secondary)}"

[apikeys]
file = "{keys}"

[[routes]]
name = "solo"
prefixes = ["999"]
transports = ["primary"]

[[routes]]
name = "main"
transports = ["primary", "secondary"]

[breaker]
failures = 1
cooldown = {COOLDOWN}
"""
    )
    config = load_config(str(config_file))
    runtime = Runtime.from_config(config)
    app = create_app(runtime, keys=KeyRing.load(keys), settings=ServeSettings(), gate=Gate())
    async with runtime:
        assert await runtime.wait_ready()
        async with http_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield Routed(client=client, runtime=runtime, tokens=tokens)


def texts_at(sim: SmscSimulator) -> list[str]:
    return [s.short_message.decode("ascii") for s in sim.submitted]


@pytest.fixture
async def secondary() -> AsyncIterator[SmscSimulator]:
    simulator = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=6)
    async with simulator.serve("127.0.0.1", 0):
        yield simulator


async def test_failover_to_the_secondary_and_the_circuit_opens_and_closes(
    sim: SmscSimulator, secondary: SmscSimulator, tmp_path: Path
) -> None:
    port = sim.port
    async with routed(tmp_path, port, secondary.port) as api:
        listed = await api.transports()
        assert listed["routes"] == [
            {"name": "solo", "transport": "route:solo", "strategy": "failover", "transports": ["primary"]},
            {"name": "main", "transport": "route:main", "strategy": "failover",
             "transports": ["primary", "secondary"]},
        ]  # fmt: skip
        assert [t["circuit"]["state"] for t in listed["transports"]] == ["closed", "closed"]

        first = await api.post(["up-0", "up-1"]) + await api.post(["up-2"], transport="auto")
        await api.delivered(first)
        assert sorted(texts_at(sim)) == ["up-0", "up-1", "up-2"] and texts_at(secondary) == []

        await sim.stop()

        async def primary_down() -> bool:
            return not (await api.transport("primary"))["up"]

        await until(primary_down, what="the primary's binds down")
        second = await api.post(["down-0", "down-1", "down-2"])
        await api.delivered(second)
        # Each message once: the stopped primary took none, the secondary each of them.
        assert sorted(texts_at(secondary)) == ["down-0", "down-1", "down-2"]
        assert sorted(texts_at(sim)) == ["up-0", "up-1", "up-2"]
        notes = [[h["note"] for h in (await api.message(i))["history"]] for i in second]
        tried = [n for n in notes if any(line.startswith("attempt via primary: ") for line in n)]
        assert tried, notes  # the send that found the primary down is in the history of what it carried

        circuit = (await api.transport("primary"))["circuit"]
        assert circuit["state"] == "open" and circuit["opened"] == 1 and circuit["probe_in"] > 0
        assert (await api.transport("secondary"))["circuit"]["state"] == "closed"
        assert await api.metric("msgbridge_circuit_state", "primary") == 2
        assert await api.metric("msgbridge_circuit_opened_total", "primary") == 1
        assert await api.metric("msgbridge_circuit_state", "secondary") == 0
        assert (await api.transport("secondary"))["sent"] == {"SUBMITTED": 3}  # counted where they went

        back = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=7)
        async with back.serve("127.0.0.1", port):

            async def probing() -> bool:
                primary = await api.transport("primary")
                return bool(primary["up"]) and primary["circuit"]["state"] == "half_open"

            await until(probing, seconds=COOLDOWN + 30, what="the primary up and its cool-down over")
            third = await api.post(["back-0"])
            await api.delivered(third)
            assert texts_at(back) == ["back-0"]  # the half-open probe went to the primary, and closed it
            circuit = (await api.transport("primary"))["circuit"]
            assert circuit == {"state": "closed", "failures": 0, "opened": 1, "probe_in": None}
            assert await api.metric("msgbridge_circuit_state", "primary") == 0
            assert await api.metric("msgbridge_circuit_opened_total", "primary") == 1
            await api.runtime.drain(2.0)


async def test_a_key_limited_to_one_transport_may_not_use_a_route_over_two(
    sim: SmscSimulator, secondary: SmscSimulator, tmp_path: Path
) -> None:
    async with routed(tmp_path, sim.port, secondary.port) as api:

        async def post(transport: str | None) -> httpx.Response:
            body = {"to": "+77011234567", "text": "hi", **({"transport": transport} if transport else {})}
            return await api.client.post("/v1/messages", json=body, headers=api.auth("primary-only"))

        for refused in ("route:main", "auto", None):  # None: the default, auto
            r = await post(refused)
            assert r.status_code == 403, (refused, r.text)
            [problem] = r.json()["error"]["fields"]
            assert problem["field"] == "transport" and problem["code"] == "ACCESS_DENIED"
            assert "secondary" in problem["message"]
        for allowed in ("route:solo", "primary"):  # a route over its own transports, and the transport
            r = await post(allowed)
            assert r.status_code == 202, (allowed, r.text)
            assert r.json()["transport"] == allowed


async def test_a_campaign_naming_no_transport_goes_by_the_routes(
    sim: SmscSimulator, secondary: SmscSimulator, tmp_path: Path
) -> None:
    async with routed(tmp_path, sim.port, secondary.port) as api:
        recipients = [{"phone": f"+7701123456{i}", "fields": {"n": str(i)}} for i in range(3)]
        body = {"name": "spring", "template": "spring-{n}", "recipients": recipients}
        r = await api.client.post("/v1/campaigns", json=body, headers=api.auth())
        assert r.status_code == 202, r.text
        assert r.json()["queued"] == 3

        async def done() -> bool:
            view = (await api.client.get("/v1/campaigns/spring", headers=api.auth())).json()
            return bool(view["counts"].get("DELIVERED") == 3)

        await until(done, what="the campaign delivered")
        view = (await api.client.get("/v1/campaigns/spring", headers=api.auth())).json()
        assert view["transport"] == "auto"
        assert sorted(texts_at(sim)) == ["spring-0", "spring-1", "spring-2"] and texts_at(secondary) == []
