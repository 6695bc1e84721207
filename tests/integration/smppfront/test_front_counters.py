"""The front's counters over real sockets: ESMEs bind, submit, get throttled and refused, take receipts;
then ``GET /v1/transports`` (its ``smpp_front`` block) and ``GET /metrics`` (``msgbridge_smpp_front_*``)
show those numbers. An API without a front shows no front at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from conftest import Front
from front_http import http_api
from prometheus_client.parser import text_string_to_metric_families
from raw_esme import raw_esme, submit_sm

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.message import Message
from msgbridge.smpp import codec


async def until(predicate: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def front_block(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/v1/transports")
    assert answer.status_code == 200, answer.text
    block: dict[str, Any] = answer.json()["smpp_front"]
    return block


async def samples(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every ``msgbridge_smpp_front_*`` sample of a scrape, by name and labels."""
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    out = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            if s.name.startswith("msgbridge_smpp_front_"):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_binds_submits_throttles_refusals_and_receipts_show_in_transports_and_metrics(
    front: Front, tmp_path: Path
) -> None:
    trx = open_transport(front.url(mode="trx"))
    assert isinstance(trx, SmppTransport)
    await trx.open()
    slow = await raw_esme(front.front.port, "slow", "secret")  # tps 2: a burst of 10 is mostly throttled
    rx = await raw_esme(front.front.port, "slow", "secret", codec.BIND_RECEIVER)
    async with http_api(front.runtime, tmp_path / "keys.toml", front.front) as client:
        try:
            await trx.send([Message(to="+77011234567", sender="Shop", text=f"c{i}") for i in range(3)])
            slow.send(*(submit_sm(seq) for seq in range(2, 12)))
            statuses = [(await slow.pdu())[1] for _ in range(10)]
            rx.send(submit_sm(2))  # a submit on a receiver: ESME_RINVBNDSTS
            assert (await rx.pdu())[1] == codec.ESME_RINVBNDSTS
            refused = open_transport(front.url(password="wrong", mode="tx", bind_timeout=5, reconnect_wait=0))
            try:
                await refused.open()
            except Exception:
                pass
            finally:
                await refused.aclose()

            async def settled() -> bool:
                block = await front_block(client)
                return bool(block["receipts_acked"] >= 3 and block["sessions"] == 3)

            await until(settled)  # the transceiver's 3 receipts answered; the refused link gone
            block = await front_block(client)
            scrape = await samples(client)
        finally:
            await trx.aclose()
            slow.close()
            rx.close()
    ok = statuses.count(codec.ESME_ROK)
    assert ok >= 1 and statuses.count(codec.ESME_RTHROTTLED) == 10 - ok
    assert block["sessions"] == 3
    assert block["binds"] == {"acme": {"trx": 1}, "slow": {"tx": 1, "rx": 1}}
    assert block["bind_failures"] >= 1
    assert block["submitted"] == {"acme": 3, "slow": ok}
    assert sum(block["throttled"]["slow"].values()) == 10 - ok and block["throttled"]["slow"]["tps"] >= 1
    assert block["refused"] == {"0x00000004": 1}
    assert (block["receipts_sent"], block["receipts_acked"], block["receipts_delivered"]) == (3, 3, 3)
    assert block["slow_readers_dropped"] == 0

    def value(name: str, **labels: str) -> float:
        return scrape[(f"msgbridge_smpp_front_{name}", tuple(sorted(labels.items())))]

    assert value("sessions") == 3
    assert value("binds", account="slow", bind_type="rx") == 1
    assert value("binds", account="acme", bind_type="trx") == 1
    assert value("submits_accepted_total", account="acme") == 3
    assert value("submits_throttled_total", account="slow", reason="tps") == block["throttled"]["slow"]["tps"]
    assert value("submits_refused_total", command_status="0x00000004") == 1
    assert value("receipts_sent_total") == value("receipts_acked_total") == 3
    assert value("bind_failures_total") == block["bind_failures"]
    assert value("slow_readers_dropped_total") == 0


async def test_receipts_held_counts_what_waits_for_an_unbound_receiver(front: Front, tmp_path: Path) -> None:
    """Receipts of ``acme`` with no receiver bound wait in the store; the API counts them as held."""
    tx = await raw_esme(front.front.port, "acme", "secret")
    try:
        tx.send(*(submit_sm(seq, registered_delivery=1) for seq in range(2, 6)))
        assert [(await tx.pdu())[1] for _ in range(4)] == [codec.ESME_ROK] * 4
    finally:
        tx.close()
    async with http_api(front.runtime, tmp_path / "keys.toml", front.front) as client:

        async def held() -> bool:
            block = await front_block(client)
            scrape = await samples(client)
            n: int = block["receipts_held"]
            return n >= 4 and scrape[("msgbridge_smpp_front_receipts_held", ())] == n

        await until(held)  # every message's events (receipts at least) are pending for the front
        assert (await front_block(client))["receipts_sent"] == 0


async def test_an_api_without_a_front_shows_none(front: Front, tmp_path: Path) -> None:
    async with http_api(front.runtime, tmp_path / "keys.toml", None) as client:
        answer = await client.get("/v1/transports")
        assert answer.status_code == 200 and answer.json()["smpp_front"] is None
        assert await samples(client) == {}
