"""SMSC.ru status polling within the documented limit, against the emulator that enforces it.

status.php answers error 9 to "более пяти запросов на получение статуса одного и того же
сообщения или более одного массового запроса в течение минуты". The emulator keeps that
limit (and counts each refusal); the poller must never hit it, however late receipts come.
Minutes of polling run on a simulated clock shared by the poller and the emulator.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.http.smsc import SmscTransport
from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.dispatch.polling import POLICIES, Poller
from msgbridge.simulators.http.server import App, HttpServer, Request, Response
from msgbridge.simulators.http.smsc import SmscEmulator, create_emulator
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

ServeFn = Callable[[App], Awaitable[HttpServer]]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def phones(n: int) -> list[str]:
    return [f"+7701{2000000 + i:07d}" for i in range(n)]


def transport(server: HttpServer) -> SmscTransport:
    t = open_transport(f"smsc://user:secret@smsc.ru?base_url={server.url}&retry_base=0.01")
    assert isinstance(t, SmscTransport)
    return t


async def enqueue(store: SqliteStore, messages: list[Message]) -> None:
    await store.enqueue([OutboxEntry(m, f"k:{m.to}:{m.text}") for m in messages])


@pytest.mark.parametrize("final_after", [5.0, 120.0, 1200.0], ids=["5s", "2min", "20min"])
async def test_late_receipts_arrive_without_one_refusal(
    serve_emulator: ServeFn, tmp_path: Path, final_after: float
) -> None:
    clock = Clock()
    emu: SmscEmulator = create_emulator(clock=clock, accept_after=final_after / 2, final_after=final_after)
    server = await serve_emulator(emu)
    # one lone text (polled alone) and 150 sharing one (mass requests and single ones)
    messages = [Message(to=p, text="Sale", campaign="c") for p in phones(150)]
    messages.append(Message(to="+77019999999", text="Only you", campaign="c"))
    async with SqliteStore(tmp_path / "s.db") as store:
        await enqueue(store, messages)
        async with transport(server) as t:
            sent = await Dispatcher(store, t).send_pending("c")
            assert sent.submitted == len(messages)
            poller = Poller(store, t, POLICIES["smsc"], clock=clock)
            start = clock.now
            while clock.now - start < final_after + 3600:
                await poller.poll()
                counts = await store.counts("c")
                if counts.get(DeliveryStatus.DELIVERED) == len(messages):
                    break
                nxt = poller.schedule.next_due()
                assert nxt is not None, "a pending message fell out of the schedule"
                clock.now = max(clock.now + 0.05, nxt)
            waited = clock.now - start
        counts = await store.counts("c")
    assert counts == {DeliveryStatus.DELIVERED: len(messages)}
    assert emu.status_refused == 0 and poller.counts.refused == 0
    # found within one capped interval of delivery, with a handful of polls each, not one a second
    assert waited <= final_after + POLICIES["smsc"].max_interval + 60
    assert poller.counts.requests < len(messages) * 25


async def test_emulator_refuses_a_sixth_poll_of_one_message_and_a_second_mass_poll(
    serve_emulator: ServeFn,
) -> None:
    clock = Clock()
    emu = create_emulator(clock=clock, final_after=10_000)
    server = await serve_emulator(emu)
    async with transport(server) as t:
        results = await t.send([Message(to=p, text="x") for p in phones(3)])
        one, *others = [r.native_id for r in results if r.native_id]
        for _ in range(5):
            assert len(await t.status([one])) == 1
        with pytest.raises(MessagingError) as refused:
            await t.status([one])
        assert refused.value.code is ErrorCode.THROTTLED
        assert refused.value.info.native_code == 9 and refused.value.info.retry_after == 60.0
        assert len(await t.status(others)) == 2  # a mass request, the first this minute
        with pytest.raises(MessagingError):
            await t.status(others)
        clock.now += 61
        assert len(await t.status([one])) == 1
        assert len(await t.status(others)) == 2
    assert emu.status_refused == 2
    assert emu.requests["status"] == 10


async def test_send_php_error_9_is_still_a_duplicate(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    async with transport(server) as t:
        await t.send([Message(to=phones(1)[0], text="same")])
        [again] = await t.send([Message(to=phones(1)[0], text="same")])
    assert again.error is not None and again.error.code is ErrorCode.DUPLICATE
    assert again.status is DeliveryStatus.MAYBE_SUBMITTED


async def test_a_refused_poll_backs_off_and_the_receipt_still_arrives(
    serve_emulator: ServeFn, tmp_path: Path
) -> None:
    """Someone else used up the minute (another process on the same login): we wait, never fail."""
    clock = Clock()
    emu = create_emulator(clock=clock, accept_after=1, final_after=2)
    server = await serve_emulator(emu)
    async with SqliteStore(tmp_path / "s.db") as store:
        await enqueue(store, [Message(to=phones(1)[0], text="x", campaign="c")])
        async with transport(server) as t:
            await Dispatcher(store, t).send_pending("c")
            nid = (await store.pending_native_ids(t.link, 10))[0]
            for _ in range(5):
                await t.status([nid])  # the other process
            poller = Poller(store, t, POLICIES["smsc"], clock=clock)
            assert (await poller.poll()).requests == 0  # just seen: first look in a second
            clock.now += 3
            first = await poller.poll()
            assert first.refused == 1
            assert (await store.counts("c")) == {DeliveryStatus.SUBMITTED: 1}
            for _ in range(100):
                if (await store.counts("c")).get(DeliveryStatus.DELIVERED):
                    break
                nxt = poller.schedule.next_due()
                assert nxt is not None
                clock.now = max(clock.now + 0.05, nxt)
                await poller.poll()
        counts = await store.counts("c")
    assert counts == {DeliveryStatus.DELIVERED: 1}
    assert emu.status_refused == 1 and poller.counts.refused == 1


@pytest.mark.slow  # 15 s of real waiting; test_late_receipts_arrive_without_one_refusal covers late receipts on a fake clock
async def test_a_200_recipient_campaign_gets_receipts_that_come_after_five_seconds(
    serve_emulator: ServeFn, tmp_path: Path
) -> None:
    """Real time, as ``campaign run --wait-receipts 40``: polling each message once a second ended 0/200."""
    emu = create_emulator(accept_after=1, final_after=5)
    server = await serve_emulator(emu)
    async with SqliteStore(tmp_path / "s.db") as store:
        await enqueue(store, [Message(to=p, text="late", campaign="c") for p in phones(200)])
        async with transport(server) as t:
            await Dispatcher(store, t).run("c", wait_receipts=40)
        counts = await store.counts("c")
    assert counts == {DeliveryStatus.DELIVERED: 200}
    assert emu.status_refused == 0


async def test_cli_send_wait_ends_delivered(serve_emulator: ServeFn, tmp_path: Path) -> None:
    emu = create_emulator(accept_after=1, final_after=6)
    server = await serve_emulator(emu)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "msgbridge",
        "--store",
        str(tmp_path / "cli.db"),
        "send",
        "--via",
        f"smsc://user:secret@smsc.ru?base_url={server.url}",
        "--to",
        "+77011234567",
        "--text",
        "hello",
        "--wait",
        "30",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()
    assert "status     DELIVERED" in out.decode()
    assert emu.status_refused == 0


async def test_sim_http_smsc_enforces_the_status_limit_and_reports_refusals() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "msgbridge",
        "sim",
        "http",
        "--provider",
        "smsc",
        "--port",
        "0",
        "--final-after",
        "1000",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        await asyncio.wait_for(proc.stdout.readline(), 30)
        url = (
            (await asyncio.wait_for(proc.stdout.readline(), 30))
            .decode()
            .strip()
            .removeprefix("transport URL: ")
        )
        async with open_transport(url) as t:
            [sent] = await t.send([Message(to=phones(1)[0], text="x")])
            assert sent.native_id is not None
            for _ in range(5):
                await t.status([sent.native_id])
            with pytest.raises(MessagingError) as refused:
                await t.status([sent.native_id])
        assert refused.value.code is ErrorCode.THROTTLED
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert "status=6" in out.decode() and "status_refused=1" in out.decode()


class Slow:
    """Wraps an emulator: every answer takes a while, and the most requests in flight at once is kept."""

    def __init__(self, app: SmscEmulator) -> None:
        self.app = app
        self.in_flight = 0
        self.most = 0

    async def handle(self, request: Request) -> Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await self.app.handle(request)
        finally:
            self.in_flight -= 1


async def test_fewer_than_five_requests_at_once_under_one_login(serve_emulator: ServeFn) -> None:
    """'...пяти и более запросов одновременно ... под одним логином': sends and a poll together stay at 4."""
    emu = create_emulator(status_limits=False)
    slow = Slow(emu)
    server = await serve_emulator(slow)
    async with transport(server) as t:
        [first] = await t.send([Message(to=phones(1)[0], text="seed")])
        assert first.native_id is not None
        texts = [Message(to=p, text=f"text {i}") for i, p in enumerate(phones(12))]
        await asyncio.gather(t.send(texts), t.status([first.native_id]), t.status([first.native_id]))
    assert slow.most == 4
