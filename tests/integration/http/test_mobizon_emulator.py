"""MobizonTransport against the Mobizon emulator over real HTTP on port 0."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.http.mobizon import Envelope, MobizonTransport
from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.core.message import Campaign, Message, Recipient
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.simulators.http.mobizon import create_emulator
from msgbridge.simulators.http.server import App, HttpServer, Response, json_response
from msgbridge.store.base import OutboxEntry
from msgbridge.store.sqlite import SqliteStore

ServeFn = Callable[[App], Awaitable[HttpServer]]
FAST = "retry_base=0.01&max_retry_wait=1&task_poll=0.01"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def forget_homes() -> Iterator[None]:
    """Code-13 answers are remembered per key for the process; each test starts afresh."""
    MobizonTransport._homes.clear()
    yield
    MobizonTransport._homes.clear()


def phones(n: int, start: int = 0) -> list[str]:
    return [f"+7701{2000000 + start + i:07d}" for i in range(n)]


def transport(server: HttpServer, key: str = "test-key", extra: str = "") -> MobizonTransport:
    t = open_transport(
        f"mobizon://{key}@api.mobizon.kz?base_url={server.url}&{FAST}" + (f"&{extra}" if extra else "")
    )
    assert isinstance(t, MobizonTransport)
    return t


async def test_send_and_poll_statuses_to_a_final_mix(serve_emulator: ServeFn) -> None:
    clock = Clock()
    emu = create_emulator(
        clock=clock, accept_after=5, final_after=10, final_mix={"delivered": 0.5, "expired": 0.5}, seed=1
    )
    server = await serve_emulator(emu)
    messages = [Message(to=p, text=f"code {i}") for i, p in enumerate(phones(150))]
    async with transport(server) as t:
        results = await t.send(messages)
        assert [r.message_id for r in results] == [m.id for m in messages]
        assert all(r.status is DeliveryStatus.SUBMITTED and r.native_id for r in results)
        ids = [r.native_id for r in results if r.native_id]
        assert {r.status for r in await t.status(ids)} == {DeliveryStatus.QUEUED}
        clock.now += 6
        assert {r.status for r in await t.status(ids)} == {DeliveryStatus.ACCEPTED}
        clock.now += 5
        final = await t.status(ids)
    assert sorted(r.native_id for r in final) == sorted(ids)
    assert {r.status for r in final} == {DeliveryStatus.DELIVERED, DeliveryStatus.EXPIRED}
    assert emu.requests["message/sendsmsmessage"] == 150
    assert emu.requests["message/getsmsstatus"] == 6  # 150 ids in calls of at most 100, three polls


async def test_provider_limits_give_code_12(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    async with transport(server) as t:
        env, _ = await t.api("message", "getSMSStatus", {"ids": [str(i) for i in range(101)]})
        assert isinstance(env, Envelope) and env.code == 12
        env, _ = await t.api("campaign", "create", {"data": {"name": "x", "text": "y"}})
        assert isinstance(env, Envelope) and env.code == 0
        rows = [{"recipient": p.lstrip("+")} for p in phones(501)]
        env, _ = await t.api("campaign", "addRecipients", {"id": env.data, "recipients": rows})
        assert isinstance(env, Envelope) and env.code == 12


async def test_validation_errors_name_the_field(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    async with transport(server) as t:
        results = await t.send([Message(to="+12", text="x"), Message(to=phones(1)[0], text="ok")])
    assert results[0].error is not None and results[0].error.code is ErrorCode.INVALID_DESTINATION
    assert results[0].error.native_code == 1 and "recipient" in results[0].error.native_message
    assert results[1].ok


async def test_wrong_server_is_followed_once_and_remembered(serve_emulator: ServeFn) -> None:
    emu = create_emulator(api_keys=["test-key", "ua-key"], key_domains={"ua-key": "api.mobizon.ua"})
    server = await serve_emulator(emu)
    async with transport(server, key="ua-key") as t:
        first = await t.send([Message(to=phones(1)[0], text="x")])
        assert t.home == "api.mobizon.ua"
    assert first[0].ok
    assert emu.wrong_server_answers == 1
    async with transport(server, key="ua-key") as t:
        again = await t.send([Message(to=p, text="y") for p in phones(3)])
    assert all(r.ok for r in again)
    assert emu.wrong_server_answers == 1  # the new domain was remembered for this key
    assert emu.requests["message/sendsmsmessage"] == 5


async def test_a_stale_remembered_domain_is_corrected_by_the_next_code_13(serve_emulator: ServeFn) -> None:
    emu = create_emulator(api_keys=["k"], key_domains={"k": "api.mobizon.ua"})
    server = await serve_emulator(emu)
    async with transport(server, key="k") as t:
        t._homes[t._key_id] = "api.mobizon.com.br"  # remembered from an earlier, now outdated answer
        results = await t.send([Message(to=phones(1)[0], text="x")])
    assert results[0].ok and t.home == "api.mobizon.ua"
    assert emu.wrong_server_answers == 1


async def test_wrong_server_to_a_foreign_host_is_not_followed(serve_emulator: ServeFn) -> None:
    emu = create_emulator(api_keys=["k"], key_domains={"k": "collector.example.net"})
    server = await serve_emulator(emu)
    async with transport(server, key="k") as t:
        [result] = await t.send([Message(to=phones(1)[0], text="x")])
        assert t.home is None
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and result.error.code is ErrorCode.ACCESS_DENIED
    assert not result.error.retryable and result.error.native_code == 13
    assert "collector.example.net" in result.error.native_message
    assert emu.wrong_server_answers == 1


@pytest.mark.parametrize("domain", ["collector.example.net", ""], ids=["foreign", "no-domain"])
async def test_a_refused_wrong_server_is_decided_on_the_first_answer(
    serve_emulator: ServeFn, tmp_path: Path, domain: str
) -> None:
    """Not after five: the dispatcher retried WRONG_SERVER up to max_attempts, each a code-13 answer."""
    emu = create_emulator(api_keys=["k"], key_domains={"k": domain})
    server = await serve_emulator(emu)
    async with SqliteStore(tmp_path / "w.db") as store:
        await store.enqueue([OutboxEntry(Message(to=p, text="x", campaign="w"), f"w:{p}") for p in phones(6)])
        async with transport(server, key="k") as t:
            stats = await Dispatcher(store, t, max_attempts=5).run("w")
            again = await t.send([Message(to=phones(1)[0], text="later")])
        counts = await store.counts("w")
    assert counts == {DeliveryStatus.FAILED: 6} and stats.retried == 0
    assert again[0].error is not None and again[0].error.code is ErrorCode.ACCESS_DENIED
    assert emu.wrong_server_answers == 1
    assert emu.total_requests == 1


async def test_the_api_key_goes_in_the_query_string_by_default(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    async with transport(server) as t:
        [sent] = await t.send([Message(to=phones(1)[0], text="x")])
        assert sent.native_id is not None
        await t.status([sent.native_id])
    async with transport(server, extra="key_in=body") as t:
        assert (await t.send([Message(to=phones(1, 1)[0], text="y")]))[0].ok
    assert emu.key_locations == {"query": 2, "body": 1}


async def test_the_emulator_answers_the_documents_example(serve_emulator: ServeFn) -> None:
    """The Message module's curl example, byte for byte apart from host and key."""
    emu = create_emulator(api_keys=["KKKK"])
    server = await serve_emulator(emu)
    async with transport(server, key="KKKK") as t:
        [sent] = await t.send([Message(to=phones(1)[0], text="x")])
    async with httpx.AsyncClient() as client:
        reply = await client.post(
            f"{server.url}/service/message/getSMSStatus?output=json&api=v1&apiKey=KKKK",
            headers={"cache-control": "no-cache", "content-type": "application/x-www-form-urlencoded"},
            content=f"ids%5B0%5D={sent.native_id}&ids%5B1%5D=556&ids%5B2%5D=988",
        )
    body = reply.json()
    assert body["code"] == 0 and [row["id"] for row in body["data"]] == [int(str(sent.native_id))]


async def test_rate_limit_code_30_is_retried_without_double_sending(serve_emulator: ServeFn) -> None:
    emu = create_emulator(rate_limit=50.0, rate_burst=2.0)
    server = await serve_emulator(emu)
    messages = [Message(to=p, text="x") for p in phones(20)]
    async with transport(server, extra="attempts=50&concurrency=8") as t:
        results = await t.send(messages)
    assert all(r.ok for r in results)
    assert emu.throttled > 0  # eight at once against a bucket of two
    assert len(emu.messages) == 20
    assert emu.requests["message/sendsmsmessage"] == 20 + emu.throttled


async def test_bulk_campaign_batches_recipients_by_500(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    numbers = phones(1200)
    messages = [Message(to=p, text="Big sale") for p in numbers] + [Message(to="+12", text="Big sale")]
    campaign = Campaign(name="sale", template="Big sale", sender="Shop")
    async with transport(server) as t:
        run = await t.run_campaign(campaign, messages)
        info = await t.campaign_status(str(run.campaign_id))
        receipts = await t.status([r.native_id for r in run.results if r.native_id][:100])
    assert run.campaign_id and run.status == "sent"
    assert run.requests == 5  # create + 3 x addRecipients + send
    assert [r.message_id for r in run.results] == [m.id for m in messages]
    assert all(r.status is DeliveryStatus.SUBMITTED and r.native_id for r in run.results[:-1])
    bad = run.results[-1]
    assert bad.status is DeliveryStatus.FAILED and bad.error is not None
    assert bad.error.code is ErrorCode.INVALID_DESTINATION and bad.error.native_code == 3
    assert emu.requests["campaign/create"] == 1
    assert emu.requests["campaign/addrecipients"] == 3
    assert emu.requests["campaign/send"] == 1
    assert emu.requests["message/sendsmsmessage"] == 0
    camp = emu.campaigns[int(run.campaign_id)]
    assert (camp.type, camp.sender, camp.text) == (2, "Shop", "Big sale")
    assert info["totalMsgNum"] == 1200 and info["commonStatus"] == "DONE"
    assert {r.status for r in receipts} == {DeliveryStatus.DELIVERED}


async def test_template_campaign_sends_fields_and_the_provider_renders_them(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    recipients = tuple(
        Recipient(phone=p, fields={"name": f"N{i}", "code": str(100 + i)}) for i, p in enumerate(phones(7))
    )
    campaign = Campaign(name="otp", template="Hi {name}, code {code}", recipients=recipients)
    messages = [
        Message(to=r.phone, text=f"Hi {r.fields['name']}, code {r.fields['code']}") for r in recipients
    ]
    async with transport(server) as t:
        run = await t.run_campaign(campaign, messages)
    assert all(r.status is DeliveryStatus.SUBMITTED for r in run.results)
    camp = emu.campaigns[int(str(run.campaign_id))]
    assert camp.type == 3 and camp.text == "Hi {name}, code {code}"
    delivered = {emu.messages[int(str(r.native_id))].text for r in run.results}
    assert delivered == {m.text for m in messages}


async def test_texts_that_fit_no_template_fall_back_to_single_sends(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    messages = [Message(to=p, text=f"free text {i}") for i, p in enumerate(phones(3))]
    async with transport(server) as t:
        run = await t.run_campaign(Campaign(name="x", template="whatever"), messages)
    assert run.campaign_id == "" and run.status == "messages" and run.requests == 3
    assert all(r.ok for r in run.results)
    assert emu.requests["message/sendsmsmessage"] == 3 and emu.requests["campaign/create"] == 0


async def test_all_recipients_refused_means_no_campaign_send(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    messages = [Message(to="+12", text="t"), Message(to="+34", text="t")]
    async with transport(server) as t:
        run = await t.run_campaign(Campaign(name="x", template="t"), messages)
    assert run.status == "empty"
    assert all(r.status is DeliveryStatus.FAILED for r in run.results)
    assert emu.requests["campaign/send"] == 0


async def test_background_add_code_100_is_followed_to_the_end(serve_emulator: ServeFn) -> None:
    clock = Clock()
    emu = create_emulator(clock=clock, background_adds=True, task_after=3)
    server = await serve_emulator(emu)

    async def tick() -> None:
        clock.now += 1

    messages = [Message(to=p, text="bg") for p in phones(4)]
    async with transport(server) as t:
        original = t.api

        async def api_with_time(*args: object, **kw: object):  # type: ignore[no-untyped-def]
            if args[:2] == ("taskqueue", "getStatus"):
                await tick()
            return await original(*args, **kw)  # type: ignore[arg-type]

        t.api = api_with_time  # type: ignore[method-assign]
        run = await t.run_campaign(Campaign(name="bg", template="bg"), messages)
    assert emu.requests["taskqueue/getstatus"] == 3
    assert all(r.status is DeliveryStatus.SUBMITTED for r in run.results)
    assert run.warnings and "background" in run.warnings[0]
    assert len(emu.campaigns[int(str(run.campaign_id))].messages) == 4


async def test_bad_key_is_auth_failed(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    async with transport(server, key="nope") as t:
        results = await t.send([Message(to=phones(1)[0], text="x")])
    assert results[0].status is DeliveryStatus.FAILED
    assert results[0].error is not None and results[0].error.code is ErrorCode.AUTH_FAILED


@pytest.mark.parametrize(
    ("fault", "status", "code", "native"),
    [
        # a proxy's 502 may come after Mobizon took the message: in doubt, never resent blindly
        ("html502", DeliveryStatus.MAYBE_SUBMITTED, ErrorCode.TEMPORARY_FAILURE, "502 Bad Gateway"),
        ("truncated", DeliveryStatus.MAYBE_SUBMITTED, ErrorCode.PROTOCOL_ERROR, "message_id"),
        ("empty", DeliveryStatus.MAYBE_SUBMITTED, ErrorCode.PROTOCOL_ERROR, "empty body"),
        ("hang", DeliveryStatus.MAYBE_SUBMITTED, ErrorCode.TIMEOUT, "Timeout"),
    ],
)
async def test_bad_answers_to_a_send(
    serve_emulator: ServeFn, fault: str, status: DeliveryStatus, code: ErrorCode, native: str
) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    emu.inject(fault)
    # Only the hang needs a short timeout; a loaded machine must not turn a slow answer into a timeout.
    async with transport(server, extra=f"timeout={0.3 if fault == 'hang' else 10}&attempts=1") as t:
        [result] = await t.send([Message(to=phones(1)[0], text="x")])
    assert result.status is status
    assert result.error is not None and result.error.code is code
    assert native in result.error.native_message
    assert emu.requests["message/sendsmsmessage"] == 1


async def test_http_errors_with_json_bodies_stay_http_errors(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    answers = [
        json_response({"code": 30, "data": "", "message": "slow down"}, 429, [("Retry-After", "0")]),
        json_response({"code": 0, "data": {"messageId": 1}}, 503),
    ]

    async def failing(request: object) -> Response:
        return answers.pop(0)

    emu.dispatch = failing  # type: ignore[assignment,method-assign]
    async with transport(server, extra="attempts=1") as t:
        [throttled] = await t.send([Message(to=phones(1)[0], text="x")])
        [unavailable] = await t.send([Message(to=phones(1)[0], text="y")])
    assert throttled.status is DeliveryStatus.FAILED
    assert throttled.error is not None and throttled.error.code is ErrorCode.THROTTLED
    assert unavailable.status is DeliveryStatus.MAYBE_SUBMITTED and unavailable.native_id is None
    assert unavailable.error is not None and unavailable.error.code is ErrorCode.TEMPORARY_FAILURE


async def test_unknown_provider_code_is_kept(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)

    async def odd(request: object) -> object:
        from msgbridge.simulators.http.mobizon import envelope

        return envelope(77, "", "something new")

    emu.dispatch = odd  # type: ignore[assignment,method-assign]
    async with transport(server) as t:
        [result] = await t.send([Message(to=phones(1)[0], text="x")])
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and result.error.code is ErrorCode.PERMANENT_FAILURE
    assert (result.error.native_code, result.error.native_message) == (77, "something new")


async def test_key_in_query_is_accepted(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    async with transport(server, extra="key_in=query") as t:
        assert (await t.send([Message(to=phones(1)[0], text="x")]))[0].ok
        assert await t.balance() == "999.0000 KZT"


async def test_dispatcher_sends_through_mobizon_and_polls_to_final(
    serve_emulator: ServeFn, tmp_path: Path
) -> None:
    emu = create_emulator(final_mix={"delivered": 0.7, "rejected": 0.3}, seed=9)
    server = await serve_emulator(emu)
    async with SqliteStore(tmp_path / "m.db") as store:
        entries = []
        for i, phone in enumerate(phones(40)):
            ref = f"m:{phone}"
            entries.append(
                OutboxEntry(Message(to=phone, text=f"code {i}", campaign="m", reference=ref), ref, i)
            )
        await store.enqueue(entries)
        async with transport(server) as t:
            stats = await Dispatcher(store, t, poll_interval=0.05).run("m", wait_receipts=20)
        counts = await store.counts("m")
    assert stats.submitted == 40 and stats.failed == 0
    assert set(counts) == {DeliveryStatus.DELIVERED, DeliveryStatus.REJECTED}
    assert sum(counts.values()) == 40
    assert emu.requests["message/sendsmsmessage"] == 40


async def test_the_api_key_never_reaches_logs_or_reprs(
    serve_emulator: ServeFn, caplog: pytest.LogCaptureFixture
) -> None:
    emu = create_emulator(api_keys=["SUPERSECRETKEY"], key_domains={"SUPERSECRETKEY": "api.mobizon.ua"})
    server = await serve_emulator(emu)
    caplog.set_level(logging.DEBUG)
    emu.inject("html502")
    async with transport(server, key="SUPERSECRETKEY") as t:
        await t.send([Message(to=phones(1)[0], text="x"), Message(to="+12", text="x")])
        text = f"{t!r} {t} {t.url}"
    # Ours: the key now travels in the query string, as documented, and we never log a URL.
    # (httpx's own request log names URLs; keeping it out is the logging setup's job.)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("msgbridge"))
    assert ours and "SUPERSECRETKEY" not in ours
    assert "SUPERSECRETKEY" not in text


async def test_short_links_by_flag_and_by_call(serve_emulator: ServeFn) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    text = "Track it at https://shop.example/orders/12345?from=sms today"
    async with transport(server, extra="shorten_links=yes") as t:
        [sent] = await t.send([Message(to=phones(1)[0], text=text)])
        short = await t.create_short_link("https://shop.example/a")
        with pytest.raises(MessagingError) as refused:
            await t.create_short_link("not a link")
    stored = emu.messages[int(str(sent.native_id))].text
    assert stored == "Track it at https://mzon.kz/1 today"
    assert emu.links == {"1": "https://shop.example/orders/12345?from=sms", "2": "https://shop.example/a"}
    assert short == "https://mzon.kz/2"
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT


async def test_code_30_on_a_status_poll_is_a_refusal_the_poller_backs_off_from(
    serve_emulator: ServeFn,
) -> None:
    emu = create_emulator()
    server = await serve_emulator(emu)
    async with transport(server) as t:
        [sent] = await t.send([Message(to=phones(1)[0], text="x")])
        assert sent.native_id is not None
        emu.rate_limit, emu.rate_burst, emu._tokens = 0.001, 1.0, 0.0  # every request from now on: code 30
        with pytest.raises(MessagingError) as refused:
            await t.status([sent.native_id])
    assert refused.value.code is ErrorCode.THROTTLED and refused.value.info.native_code == 30
