"""``GET /v1/transports`` and ``/metrics`` for an HTTP provider transport, over real sockets: what its
``health()`` says (requests in flight while the provider holds them; down once it refuses the key, up at
its next answer) is what the service shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api_helpers import Api, api, until
from http_peers import PROVIDERS, Held

from msgbridge.simulators.http.selzy import SelzyEmulator
from msgbridge.simulators.http.server import serve
from msgbridge.simulators.smsc import SmscSimulator


async def transport(a: Api, name: str) -> dict[str, Any]:
    r = await a.client.get("/v1/transports", headers=a.auth())
    assert r.status_code == 200, r.text
    found: dict[str, Any] = next(t for t in r.json()["transports"] if t["name"] == name)
    return found


async def post(a: Api, text: str) -> str:
    r = await a.client.post(
        "/v1/messages", json={"to": "+77011234567", "text": text, "transport": "http"}, headers=a.auth()
    )
    assert r.status_code == 202, r.text
    mid: str = r.json()["id"]
    return mid


async def test_an_http_transport_shows_its_requests_in_flight_and_its_link_down_and_up(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    provider = PROVIDERS["selzy"]
    emulator = provider.create()
    assert isinstance(emulator, SelzyEmulator)
    held = Held(emulator, provider.send_endpoint)
    async with serve(held) as peer, api(tmp_path, sim, extra={"http": provider.url(peer.url)}) as a:
        http = await transport(a, "http")
        assert http["scheme"] == "selzy" and http["up"] and http["in_flight"] == 0

        first = await post(a, "held")

        async def holding() -> bool:
            return held.holding == 1

        await until(holding, what="the send held by the provider")
        http = await transport(a, "http")
        assert http["in_flight"] == 1 and http["up"]
        assert 'msgbridge_window_in_flight{transport="http"} 1.0' in (await a.client.get("/metrics")).text
        held.release.set()

        async def submitted() -> bool:
            rec = await a.runtime.message(first)
            return rec is not None and rec.status.value in ("SUBMITTED", "DELIVERED")

        await until(submitted, what="the held message submitted")
        assert (await transport(a, "http"))["in_flight"] == 0

        emulator.api_keys.clear()  # Selzy now answers invalid_api_key
        await post(a, "refused")

        async def down() -> bool:
            return not (await transport(a, "http"))["up"]

        await until(down, what="the transport down after its key was refused")
        ready = (await a.client.get("/readyz")).json()
        assert ready["transports"]["http"] is False and ready["transports"]["sms"] is True

        emulator.api_keys.add("test-key")
        await post(a, "accepted again")

        async def up() -> bool:
            return bool((await transport(a, "http"))["up"])

        await until(up, what="the transport up at the provider's next answer")
