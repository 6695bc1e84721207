"""msgbridge.Client and msgbridge.send over memory:// and over the SMSC simulator (real sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from runtime_helpers import USERS, sim_url, until

import msgbridge
from msgbridge.config import Config
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.contract import InvalidSubmission, Submission
from msgbridge.simulators.smsc import SmscSimulator

NO_CONFIG = Config()  # no msgbridge.toml from the working directory


@pytest.fixture
async def sim() -> AsyncIterator[SmscSimulator]:
    simulator = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=7)
    async with simulator.serve("127.0.0.1", 0):
        yield simulator


async def test_send_over_memory_returns_the_submit_result(tmp_path: Path) -> None:
    async with msgbridge.Client(
        "memory://?dlr_delay_ms=1", store=str(tmp_path / "c.db"), config=NO_CONFIG
    ) as client:
        result = await client.send("+77011234567", "hello", sender="Shop")
        assert result.status in (DeliveryStatus.SUBMITTED, DeliveryStatus.DELIVERED)
        assert result.native_id is not None and result.error is None

        async def delivered() -> bool:
            rec = await client.status(result.message_id)
            return rec is not None and rec.status is DeliveryStatus.DELIVERED

        await until(delivered, what="DELIVERED")
        with pytest.raises(InvalidSubmission) as info:
            await client.send("12", "x")
        assert [(e.index, e.field) for e in info.value.errors] == [(0, "to")]


async def test_send_many_and_a_retried_reference(tmp_path: Path) -> None:
    async with msgbridge.Client(
        "memory://", store=str(tmp_path / "c.db"), config=NO_CONFIG, sender="Shop"
    ) as client:
        results = await client.send_many(
            [{"to": f"+7701000000{i}", "text": f"n{i}"} for i in range(5)]
            + [Submission(to="+77010000009", text="ref", reference="r-1")]
        )
        assert len({r.message_id for r in results}) == 6
        assert {r.status for r in results} <= {DeliveryStatus.SUBMITTED, DeliveryStatus.DELIVERED}
        again = await client.send("+77010000009", "ref", reference="r-1")
        assert again.message_id == results[-1].message_id
        rec = await client.status(again.message_id)
        assert rec is not None and rec.message.sender == "Shop"


async def test_send_and_events_over_the_simulator(sim: SmscSimulator, tmp_path: Path) -> None:
    async with msgbridge.Client(sim_url(sim), store=str(tmp_path / "c.db"), config=NO_CONFIG) as client:
        events = client.events()
        first = await client.send("+77011234567", "one")
        second = await client.send("+77011234568", "two")
        assert first.status is DeliveryStatus.SUBMITTED and second.status is DeliveryStatus.SUBMITTED
        delivered: set[str] = set()
        async for event in events:
            if event.status is DeliveryStatus.DELIVERED and event.message_id is not None:
                delivered.add(event.message_id)
            if delivered == {first.message_id, second.message_id}:
                break
        await events.aclose()
    assert sim.bound_count("u") == 0  # closed with the client
    assert sim.stats.binds == 1  # one bind for both messages
    assert len(sim.submitted) == 2


async def test_run_campaign_sends_through_the_open_transport(sim: SmscSimulator, tmp_path: Path) -> None:
    async with msgbridge.Client(sim_url(sim), store=str(tmp_path / "c.db"), config=NO_CONFIG) as client:
        run = await client.run_campaign(
            "promo",
            "Hi {name}",
            [{"phone": f"+7701000000{i}", "name": f"N{i}"} for i in range(5)]
            + [{"phone": "bad", "name": "x"}],
            sender="Shop",
            wait=30,
            wait_receipts=True,
        )
        assert run.report.queued == 5 and run.report.skipped == 1
        assert run.view.counts == {DeliveryStatus.DELIVERED: 5}
        [page] = [await client.runtime.campaign_messages("promo", limit=10)]
        assert sorted(r.phone for r in page) == [f"+7701000000{i}" for i in range(5)]
    assert sorted(s.short_message for s in sim.submitted) == [f"Hi N{i}".encode() for i in range(5)]


def test_the_sync_facade_sends_one_message(sim_port: int, tmp_path: Path) -> None:
    result = msgbridge.send(
        f"smpp://u:p@127.0.0.1:{sim_port}",
        to="+77011234567",
        text="from a script",
        store=str(tmp_path / "s.db"),
        config=NO_CONFIG,
    )
    assert result.status is DeliveryStatus.SUBMITTED and result.native_id


@pytest.fixture
def sim_port() -> Iterator[int]:
    """The simulator in a thread of its own: the sync facade runs its own event loop in the test's thread."""
    import threading

    loop = asyncio.new_event_loop()
    simulator = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=8)
    started = threading.Event()
    stop = asyncio.Event()
    port: list[int] = []

    async def serve() -> None:
        async with simulator.serve("127.0.0.1", 0):
            port.append(simulator.port)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    assert started.wait(10)
    yield port[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


async def test_a_configured_name_is_the_transport_and_its_key(tmp_path: Path) -> None:
    config = Config(store=str(tmp_path / "configured.db"), transports={"alerts": "memory://"})
    async with msgbridge.Client("ALERTS", config=config) as client:
        assert client.runtime.transport_names == ("alerts",)
        result = await client.send("+77011234567", "to the configured store")
        assert result.status is DeliveryStatus.SUBMITTED
    assert (tmp_path / "configured.db").exists()  # store=None: the configured store


async def test_run_campaign_from_a_csv_file(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text(
        "phone,name\n+77010000001,Ann\n+77010000002,Bob\nnot-a-phone,Eve\n+77010000001,Ann again\n"
    )
    async with msgbridge.Client(
        "memory://?dlr_delay_ms=1", store=str(tmp_path / "c.db"), config=NO_CONFIG
    ) as client:
        run = await client.run_campaign("from-file", "Hi {name}", csv=str(csv), wait=30, wait_receipts=True)
        assert (run.report.queued, run.report.skipped, run.report.repeated) == (2, 1, 1)
        assert [p.line for p in run.report.problems] == [4]
        assert run.view.counts == {DeliveryStatus.DELIVERED: 2}
        bad = tmp_path / "bad.csv"
        bad.write_text("number\n+77010000003\n")
        with pytest.raises(msgbridge.MessagingError):
            await client.run_campaign("bad-header", "Hi", csv=str(bad))
        assert await client.runtime.campaign("bad-header") is None
