"""SmscTransport against the SMSC.ru emulator over real HTTP on port 0."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.http import smsc
from msgbridge.adapters.http.smsc import SmscTransport
from msgbridge.core.errors import AuthError, ErrorCode
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.http.server import App, HttpServer
from msgbridge.simulators.http.smsc import SmscEmulator, create_emulator
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

ServeFn = Callable[[App], Awaitable[HttpServer]]
FAST = "retry_base=0.01&max_retry_wait=1"


class Clock:
    """The emulator's time, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def phones(n: int, start: int = 0) -> list[str]:
    return [f"+7701{1000000 + start + i:07d}" for i in range(n)]


def transport(server: HttpServer, creds: str = "user:secret", extra: str = "") -> SmscTransport:
    url = f"smsc://{creds}@smsc.ru?base_url={server.url}&{FAST}" + (f"&{extra}" if extra else "")
    t = open_transport(url)
    assert isinstance(t, SmscTransport)
    return t


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_identical_texts_share_requests_and_statuses_progress(serve_emulator: ServeFn) -> None:
    clock = Clock()
    emu = create_emulator(
        clock=clock,
        accept_after=5,
        final_after=10,
        final_mix={"delivered": 0.5, "undeliverable": 0.5},
        seed=3,
        status_limits=False,  # three mass requests a round: past SMSC.ru's limit (test_smsc_polling)
    )
    server = await serve_emulator(emu)
    messages = [Message(to=p, text="Sale today") for p in phones(250)] + [
        Message(to=p, text="VIP") for p in phones(3, 500)
    ]
    async with transport(server) as t:
        results = await t.send(messages)
        assert [r.message_id for r in results] == [m.id for m in messages]
        assert all(r.status is DeliveryStatus.SUBMITTED and r.error is None for r in results)
        assert emu.requests["send"] == 4  # 100 + 100 + 50 phones of one text, 3 of another
        assert len({r.native_id for r in results}) == len(messages)
        ids = [r.native_id for r in results if r.native_id]

        first = await t.status(ids)
        assert {r.status for r in first} == {DeliveryStatus.QUEUED}
        clock.now += 6
        assert {r.status for r in await t.status(ids)} == {DeliveryStatus.SUBMITTED}
        clock.now += 5
        final = await t.status(ids)
    assert len(final) == len(ids)
    assert {r.native_id for r in final} == set(ids)
    outcomes = {r.status for r in final}
    assert outcomes == {DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERABLE}
    assert all(r.error is not None for r in final if r.status is DeliveryStatus.UNDELIVERABLE)
    assert emu.requests["status"] == 9  # 253 ids in calls of 100, three polls


async def test_bad_phone_fails_alone_and_sender_and_validity_reach_the_provider(
    serve_emulator: ServeFn,
) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    from datetime import timedelta

    messages = [
        Message(to=phones(1)[0], text="x", validity=timedelta(hours=2)),
        Message(to="+12", text="x", validity=timedelta(hours=2)),
    ]
    async with transport(server, extra="sender=Shop") as t:
        results = await t.send(messages)
    assert results[0].status is DeliveryStatus.SUBMITTED
    assert results[1].status is DeliveryStatus.FAILED
    assert results[1].error is not None and results[1].error.code is ErrorCode.INVALID_DESTINATION
    assert emu.sends[0]["sender"] == "Shop" and emu.sends[0]["valid"] == "02:00"
    assert "psw" not in emu.sends[0]


async def test_wrong_password_and_api_key(serve_emulator: ServeFn) -> None:
    emu = create_emulator(api_keys=["KEY1"])
    server = await serve_emulator(emu)
    async with transport(server, creds="user:wrong") as t:
        results = await t.send([Message(to=phones(1)[0], text="x")])
        with pytest.raises(AuthError):
            await t.balance()
    assert results[0].error is not None and results[0].error.code is ErrorCode.AUTH_FAILED
    assert results[0].status is DeliveryStatus.FAILED
    async with transport(server, creds="KEY1") as t:
        assert (await t.send([Message(to=phones(1)[0], text="x")]))[0].ok
        assert await t.balance() == "998.50"


async def test_identical_request_within_a_minute_is_a_duplicate(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    message = Message(to=phones(1)[0], text="same")
    async with transport(server) as t:
        first = await t.send([message])
        second = await t.send([message])
    assert first[0].ok
    assert second[0].status is DeliveryStatus.MAYBE_SUBMITTED  # most likely our own earlier try
    assert second[0].error is not None and second[0].error.code is ErrorCode.DUPLICATE
    assert emu.requests["send"] == 2  # not retried


async def test_each_send_says_what_it_cost_in_the_accounts_currency(serve_emulator: ServeFn) -> None:
    emu = create_emulator(price=1.25)
    server = await serve_emulator(emu)
    async with transport(server, extra="currency=kzt") as t:
        results = await t.send(
            [Message(to=p, text="x") for p in phones(2)] + [Message(to=phones(1, 5)[0], text="ы" * 80)]
        )
    # One request per text; the two-part Cyrillic one costs two parts.
    assert [r.cost for r in results] == [(1_250_000, "KZT"), (1_250_000, "KZT"), (2_500_000, "KZT")]
    assert all(s["cost"] == "2" for s in emu.sends)
    async with transport(server) as t:
        [result] = await t.send([Message(to=phones(1, 9)[0], text="y")])
    assert result.cost == (1_250_000, "RUB")  # SMSC.ru's answer names no currency: the default


async def test_insufficient_funds(serve_emulator: ServeFn) -> None:
    emu = create_emulator(balance=1.0)
    server = await serve_emulator(emu)
    async with transport(server) as t:
        results = await t.send([Message(to=p, text="x") for p in phones(2)])
    assert all(r.error is not None and r.error.code is ErrorCode.INSUFFICIENT_FUNDS for r in results)


async def test_contacts_and_groups_flow_with_seed_error_codes(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    async with transport(server) as t:
        empty = await t.list_groups()
        assert (
            empty.error is not None
            and empty.error.code is ErrorCode.NOT_FOUND
            and empty.error.native_code == 3
        )
        group = await t.add_group("vip", 5)
        assert group.id is not None
        added = await t.add_contact(phones(1)[0], name="Ann", group=group.id)
        assert added.id is not None and added.error is None
        listed = await t.list_contacts(group.id)
        assert [(c["phone"], c["name"]) for c in listed.items] == [(phones(1)[0].lstrip("+"), "Ann")]
        groups = await t.list_groups()
        assert [(g["name"], str(g["cnt"])) for g in groups.items] == [("vip", "1")]
        assert (await t.delete_contact(phones(1)[0])).ok
        missing = await t.delete_contact(phones(1)[0])
        assert missing.error is not None and missing.error.code is ErrorCode.NOT_FOUND
        for _ in range(2):
            await t.delete_contact(phones(1)[0])
        throttled = await t.delete_contact(phones(1)[0])
        assert throttled.error is not None and throttled.error.native_code == 9
        assert throttled.error.code is ErrorCode.THROTTLED
        assert (await t.delete_group(group.id)).ok


@pytest.mark.parametrize("fmt", [0, 1, 2, 3])
async def test_parser_reads_what_the_emulator_writes_in_each_format(
    serve_emulator: ServeFn, fmt: int
) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    cfg = smsc.SmscConfig(login="user", secret=smsc.Secret("secret"), base_urls=(server.url,))
    async with httpx.AsyncClient() as client:
        params = {**smsc.send_params(phones(2), "hello"), "fmt": str(fmt)}
        sent = smsc.parse_reply((await client.send(smsc._post(cfg, "send", params))).text, fmt, op="send")
        assert sent.ok and str(sent.first()["cnt"]) == "2"
        assert sent.first()["cost"] == "3.00"  # cost=2 (send_params asks for it): two phones at 1.50
        sms_id = str(sent.first()["id"])
        ids = [smsc.native_id(sms_id, p) for p in phones(2)]
        status_req = smsc.status_request(cfg, ids)
        body = dict(httpx.QueryParams(status_req.content.decode()))
        body["fmt"] = str(fmt)
        reply = smsc.parse_reply((await client.post(str(status_req.url), data=body)).text, fmt, op="status")
        assert [r.status for r in smsc.parse_status(reply, ids)] == [DeliveryStatus.DELIVERED] * 2
        bad = {**smsc.send_params(["+1"], "hello"), "fmt": str(fmt)}
        refused = smsc.parse_reply((await client.send(smsc._post(cfg, "send", bad))).text, fmt, op="send")
        assert refused.error_code == 7


@pytest.mark.parametrize(
    ("fault", "native"), [("html502", "502 Bad Gateway"), ("http500", "Internal Server Error")]
)
async def test_5xx_on_send_is_in_doubt_with_the_page_kept(
    serve_emulator: ServeFn, fault: str, native: str
) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    emu.inject(fault)
    async with transport(server, extra="attempts=1") as t:
        results = await t.send([Message(to=p, text="x") for p in phones(2)])
    # SMSC.ru does not say a 5xx means "not sent", and a proxy's 502 may follow the send: in doubt
    assert all(r.status is DeliveryStatus.MAYBE_SUBMITTED for r in results)
    assert all(r.error is not None and r.error.code is ErrorCode.TEMPORARY_FAILURE for r in results)
    assert results[0].error is not None and native in results[0].error.native_message
    assert not emu.sent


@pytest.mark.parametrize("fault", ["empty", "truncated"])
async def test_unreadable_answer_to_a_send_leaves_it_in_doubt(serve_emulator: ServeFn, fault: str) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    emu.inject(fault)
    async with transport(server) as t:
        results = await t.send([Message(to=p, text="x") for p in phones(2)])
    assert all(r.status is DeliveryStatus.MAYBE_SUBMITTED for r in results)
    assert all(r.error is not None and r.error.code is ErrorCode.PROTOCOL_ERROR for r in results)
    assert emu.requests["send"] == 1  # never resent blindly


async def test_timeout_on_send_is_maybe_submitted_and_not_resent(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    emu.inject("hang")
    async with transport(server, extra="timeout=0.3") as t:
        results = await t.send([Message(to=phones(1)[0], text="x")])
    assert results[0].status is DeliveryStatus.MAYBE_SUBMITTED
    assert results[0].error is not None and results[0].error.code is ErrorCode.TIMEOUT
    assert emu.requests["send"] == 1


class TickingClock(Clock):
    """Each reading moves time on by ``step``: a rate limit refills between two requests, deterministically."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


async def test_http_429_and_rate_limit_code_4_are_retried_once_each(serve_emulator: ServeFn) -> None:
    # rate 1/s, bucket empty, 0.6 s per clock reading: the first try is throttled, the second passes
    clock = TickingClock(0.6)
    emu = create_emulator(clock=clock, rate_limit=1.0, rate_burst=1.0)
    emu._tokens, emu._stamp = 0.0, clock.now
    server = await serve_emulator(emu)
    emu.inject("http429")
    async with transport(server) as t:
        first = await t.send([Message(to=phones(1)[0], text="a")])
        emu._tokens, emu._stamp = 0.0, clock.now
        second = await t.send([Message(to=phones(1)[0], text="b")])
    assert first[0].ok and second[0].ok
    # each message: one code-4 answer then success; the first also met the 429 before that
    assert emu.throttled == 2
    assert emu.requests["send"] == 5
    assert len(emu.sent) == 2


async def test_unreachable_host_falls_back_to_backup_and_stays_there(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    url = f"smsc://user:secret@smsc.ru?base_url=http://127.0.0.1:{dead_port()}&backup_url={server.url}&{FAST}&attempts=1"
    async with open_transport(url) as t:
        results = await t.send([Message(to=phones(1)[0], text="x")])
        assert results[0].ok
        assert await t.balance() == "998.50"
    assert emu.requests["send"] == 1 and emu.requests["balance"] == 1


async def test_reads_fall_back_on_5xx_and_empty_answers(serve_emulator: ServeFn) -> None:
    broken = create_emulator()
    good = create_emulator()
    main = await serve_emulator(broken)
    backup = await serve_emulator(good)
    broken.inject("html502", "empty", "http500")
    url = f"smsc://user:secret@smsc.ru?base_url={main.url}&backup_url={backup.url}&{FAST}&attempts=1"
    async with open_transport(url) as t:
        assert await t.balance() == "1000.00"
        assert isinstance(t, SmscTransport)
        t._active = 0
        assert await t.balance() == "1000.00"
        t._active = 0
        assert await t.balance() == "1000.00"
    assert good.requests["balance"] == 3 and broken.requests["balance"] == 3


async def test_throttling_that_outlasts_the_retries_is_a_retryable_failure(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    emu.inject("http429", "http429")
    async with transport(server, extra="attempts=2") as t:
        [result] = await t.send([Message(to=phones(1)[0], text="x")])
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and result.error.code is ErrorCode.THROTTLED and result.error.retryable
    assert emu.requests["send"] == 2 and not emu.sent


async def test_status_of_unknown_pair_is_unknown(serve_emulator: ServeFn) -> None:
    emu: SmscEmulator = create_emulator()
    server = await serve_emulator(emu)
    async with transport(server) as t:
        receipts = await t.status(["999:77011234567"])
    assert [(r.status, r.native_status) for r in receipts] == [(DeliveryStatus.UNKNOWN, "-3")]


async def test_dispatcher_campaign_through_smsc_reaches_final_statuses(
    serve_emulator: ServeFn, tmp_path: Path
) -> None:
    emu = create_emulator(final_mix={"delivered": 0.8, "undeliverable": 0.2}, seed=5)
    server = await serve_emulator(emu)
    async with SqliteStore(tmp_path / "s.db") as store:
        entries = []
        for i, phone in enumerate(phones(120)):
            ref = f"c:{phone}"
            entries.append(OutboxEntry(Message(to=phone, text="Sale", campaign="c", reference=ref), ref, i))
        await store.enqueue(entries)
        async with transport(server) as t:
            stats = await Dispatcher(store, t, poll_interval=0.05).run("c", wait_receipts=20)
        counts = await store.counts("c")
    assert stats.submitted == 120 and stats.failed == 0
    assert emu.requests["send"] == 2  # 120 identical texts: two requests of at most 100 phones
    assert set(counts) == {DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERABLE}
    assert sum(counts.values()) == 120


async def test_password_never_reaches_logs_or_reprs(
    serve_emulator: ServeFn, caplog: pytest.LogCaptureFixture
) -> None:
    emu = create_emulator(logins={"user": "TOPSECRETPW"})
    server = await serve_emulator(emu)
    caplog.set_level(logging.DEBUG)
    emu.inject("html502", "empty")
    async with transport(server, creds="user:TOPSECRETPW") as t:
        await t.send([Message(to=phones(1)[0], text="x")])
        await t.status(["1:77011234567"])
        await t.send([Message(to=phones(1)[0], text="y")])
        text = f"{t!r} {t} {t.url} {t.config}"
    assert "TOPSECRETPW" not in caplog.text
    assert "TOPSECRETPW" not in text
