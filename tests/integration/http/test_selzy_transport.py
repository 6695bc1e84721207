"""Selzy adapter against the Selzy emulator over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.http.selzy import SelzyTransport
from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.core.message import Campaign, Message, Recipient
from msgbridge.core.status import DeliveryStatus
from msgbridge.simulators.http.selzy import SelzyEmulator, create_emulator

KEY = "selzy-test-key"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def url(server_url: str, **options: str) -> str:
    query = "&".join(
        f"{k}={v}"
        for k, v in {
            "base_url": server_url,
            "platform": "msgbridgeTest",
            "sender": "Shop",
            "retry_base": "0.001",
            "rate": "0",
            **options,
        }.items()
    )
    return f"selzy://{KEY}@api.selzy.com?{query}"


def phones(n: int, prefix: str = "7701") -> list[str]:
    return [f"+{prefix}{i:07d}" for i in range(n)]


@pytest.fixture
async def selzy(serve_emulator):  # type: ignore[no-untyped-def]
    emulator = create_emulator(api_keys=[KEY])
    server = await serve_emulator(emulator)
    return emulator, server


async def test_send_batches_150_per_call_and_groups_by_text(selzy) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    messages = [Message(to=p, text="hello") for p in phones(301)] + [Message(to="+77019999999", text="other")]
    async with open_transport(url(server.url)) as t:
        results = await t.send(messages)
    assert emulator.requests["sendSms"] == 3 + 1  # 150 + 150 + 1, and the other text
    assert [r.message_id for r in results] == [m.id for m in messages]
    assert all(r.status is DeliveryStatus.SUBMITTED and r.native_id for r in results)
    assert {r.cost for r in results} == {(20_000, "USD")}  # what the emulator's sendSms answers say
    assert len({r.native_id for r in results}) == len(messages)
    assert len(emulator.sms) == len(messages)
    assert emulator.key_in_url == 0
    assert emulator.platforms == {"msgbridgeTest"}


async def test_per_number_failures_and_warnings_are_kept(selzy) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    emulator.invalid_numbers = {"77010000001"}
    messages = [Message(to=p, text="hello") for p in [*phones(3), "+78005550000"]]
    async with open_transport(url(server.url)) as t:
        results = await t.send(messages)
    assert results[1].status is DeliveryStatus.REJECTED
    assert results[1].error is not None
    assert results[1].error.code is ErrorCode.INVALID_DESTINATION
    assert results[1].error.native_code == "dest_invalid"
    assert [r.ok for r in results] == [True, False, True, True]
    assert "78005550000: probably not a mobile phone" in results[0].warnings


async def test_status_progresses_to_the_final_mix() -> None:
    clock = Clock()
    emulator = create_emulator(
        api_keys=[KEY],
        accept_after=1,
        final_after=5,
        clock=clock,
        final_mix={"delivered": 0.5, "undeliverable": 0.5},
        seed=7,
    )
    from msgbridge.simulators.http.server import serve

    async with serve(emulator) as server, open_transport(url(server.url)) as t:
        results = await t.send([Message(to=p, text="x") for p in phones(40)])
        ids = [r.native_id for r in results if r.native_id]
        first = await t.status(ids)
        assert {r.status for r in first} == {DeliveryStatus.QUEUED}
        clock.now += 2
        assert {r.status for r in await t.status(ids)} == {DeliveryStatus.SUBMITTED}
        clock.now += 5
        final = await t.status(ids)
    expected = {
        sid: ("DELIVERED" if emulator.outcome(sid) == "delivered" else "UNDELIVERABLE") for sid in ids
    }
    assert {r.native_id: r.status.value for r in final} == expected
    assert set(expected.values()) == {"DELIVERED", "UNDELIVERABLE"}
    assert emulator.requests["checkSms"] == 120


async def test_unknown_sms_id_gives_no_receipt(selzy) -> None:  # type: ignore[no-untyped-def]
    _, server = selzy
    async with open_transport(url(server.url)) as t:
        assert await t.status(["424242"]) == []


async def test_wrong_key_is_auth_failed_for_every_message(selzy) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    async with open_transport(url(server.url).replace(KEY, "wrong")) as t:
        results = await t.send([Message(to=p, text="x") for p in phones(2)])
    assert all(r.error is not None and r.error.code is ErrorCode.AUTH_FAILED for r in results)
    assert all(r.status is DeliveryStatus.REJECTED for r in results)
    assert emulator.requests["sendSms"] == 1
    assert not emulator.sms


async def test_rate_limit_code_is_retried_without_double_sending() -> None:
    clock = Clock()
    emulator = create_emulator(api_keys=[KEY], rate_limit=1.0, rate_burst=1.0, clock=clock)
    from msgbridge.simulators.http.server import serve

    async with serve(emulator) as server, open_transport(url(server.url, attempts="2", concurrency="1")) as t:
        first = await t.send([Message(to="+77011111111", text="a")])
        throttled = await t.send(
            [Message(to="+77012222222", text="b")]
        )  # the clock does not move: 2 refusals
        clock.now += 1
        later = await t.send([Message(to="+77013333333", text="c")])
    assert first[0].ok and later[0].ok
    assert throttled[0].error is not None
    assert throttled[0].error.code is ErrorCode.THROTTLED
    assert throttled[0].error.native_code == "api_call_limit_exceeded_for_api_key"
    assert emulator.throttled == 2
    assert len(emulator.sms) == 2


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        ("html502", "TEMPORARY_FAILURE", "MAYBE_SUBMITTED"),  # a proxy's 502 may follow the send
        ("truncated", "PROTOCOL_ERROR", "MAYBE_SUBMITTED"),
        ("empty", "PROTOCOL_ERROR", "MAYBE_SUBMITTED"),
        ("hang", "TIMEOUT", "MAYBE_SUBMITTED"),
        ("drop", "TIMEOUT", "MAYBE_SUBMITTED"),
    ],
)
async def test_bad_responses_end_as_clear_errors_and_are_not_resent(selzy, fault, code, status) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    emulator.inject(fault)
    # Only the hang needs a short timeout; a loaded machine must not turn a slow 502 into a timeout.
    async with open_transport(url(server.url, timeout="0.5" if fault == "hang" else "10")) as t:
        [result] = await t.send([Message(to="+77011234567", text="x")])
    assert result.error is not None
    assert result.error.code.value == code
    assert result.status.value == status
    assert result.error.native_message
    assert emulator.requests["sendSms"] == 1


async def test_retry_later_is_sent_again_and_sent_once(selzy) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    emulator.refuse(("retry_later", "Temporary failure, retry later"))
    async with open_transport(url(server.url)) as t:
        [result] = await t.send([Message(to="+77011234567", text="x")])
    assert result.ok
    assert emulator.requests["sendSms"] == 2
    assert len(emulator.sms) == 1


@pytest.mark.parametrize(
    ("code", "expected"),
    [("not_enough_money", "INSUFFICIENT_FUNDS"), ("frobnicated", "PERMANENT_FAILURE")],
)
async def test_refusals_and_unknown_codes_are_kept_and_not_retried(selzy, code, expected) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    emulator.refuse((code, f"<b>{code}</b> happened"))
    async with open_transport(url(server.url)) as t:
        [result] = await t.send([Message(to="+77011234567", text="x")])
    assert result.status is DeliveryStatus.REJECTED
    assert result.error is not None
    assert result.error.code.value == expected
    assert result.error.native_code == code
    assert result.error.native_message == f"<b>{code}</b> happened"
    assert emulator.requests["sendSms"] == 1
    assert not emulator.sms


async def test_campaign_flow_uses_the_documented_calls(selzy) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    recipients = tuple(Recipient(phone=p, fields={"name": f"N{i}"}) for i, p in enumerate(phones(1201)))
    campaign = Campaign(name="spring", template="Hi {name}!", recipients=recipients, sender="Shop")
    messages = [Message(to=r.phone, text=f"Hi {r.fields['name']}!") for r in recipients]
    async with open_transport(url(server.url)) as t:
        assert isinstance(t, SelzyTransport)
        run = await t.run_campaign(campaign, messages)
        again = await t.find_or_create_list(next(iter(emulator.lists.values())))
        receipts = await t.status([r.native_id for r in run.results[:5] if r.native_id])
        state = await t.campaign_status(run.campaign_id)
        stats = await t.campaign_stats(run.campaign_id)
    assert dict(emulator.requests) == {
        "getLists": 2,
        "createList": 1,
        "getFields": 1,
        "createField": 1,
        "importContacts": 3,
        "createSmsMessage": 1,
        "createCampaign": 1,
        "getCampaignDeliveryStats": 1,
        "getCampaignStatus": 1,
        "getCampaignCommonStats": 1,
    }
    assert run.requests == 9
    assert emulator.fields["sms_text"] == "text"
    [sms_message] = emulator.messages.values()
    assert sms_message.body == "{{sms_text}}"
    assert again == str(next(iter(emulator.lists)))
    [camp] = emulator.campaigns.values()
    assert len(camp.texts) == 1201
    assert camp.texts["77010000007"] == "Hi N7!"
    assert all(r.status is DeliveryStatus.SUBMITTED for r in run.results)
    assert run.results[3].native_id == f"c{run.campaign_id}:77010000003"
    assert [r.status for r in receipts] == [DeliveryStatus.DELIVERED] * 5
    assert state["status"] == "completed" and state["final"] is True
    assert stats["total"] == 1201 and stats["delivered"] == 1201


async def test_campaign_with_one_text_and_a_refused_contact(selzy) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    emulator.invalid_numbers = {"77010000002"}
    recipients = tuple(Recipient(phone=p) for p in phones(4))
    campaign = Campaign(name="flat", template="Sale today", recipients=recipients, sender="Shop")
    messages = [Message(to=r.phone, text="Sale today") for r in recipients]
    async with open_transport(url(server.url)) as t:
        run = await t.run_campaign(campaign, messages)  # type: ignore[attr-defined]
    assert [r.ok for r in run.results] == [True, True, False, True]
    assert run.results[2].error.code is ErrorCode.INVALID_DESTINATION
    [message] = emulator.messages.values()
    assert message.body == "Sale today"
    assert len(message.contacts) == 3


async def test_scheduled_campaign_can_be_canceled(selzy) -> None:  # type: ignore[no-untyped-def]
    _, server = selzy
    when = datetime.now(UTC) + timedelta(days=2)
    recipients = tuple(Recipient(phone=p) for p in phones(3))
    campaign = Campaign(
        name="later", template="Soon", recipients=recipients, sender="Shop", scheduled_at=when
    )
    messages = [Message(to=r.phone, text="Soon") for r in recipients]
    async with open_transport(url(server.url)) as t:
        run = await t.run_campaign(campaign, messages)  # type: ignore[attr-defined]
        assert run.status == "scheduled"
        assert (await t.campaign_status(run.campaign_id))["status"] == "scheduled"  # type: ignore[attr-defined]
        await t.cancel_campaign(run.campaign_id)  # type: ignore[attr-defined]
        state = await t.campaign_status(run.campaign_id)  # type: ignore[attr-defined]
        receipts = await t.status([r.native_id for r in run.results if r.native_id])
    assert state["status"] == "canceled" and state["final"]
    assert {r.status for r in receipts} == {DeliveryStatus.CANCELED}


async def test_campaign_step_failure_stops_the_flow(selzy) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    campaign = Campaign(name="x", template="y", recipients=(Recipient(phone="+77011234567"),), sender="Shop")
    async with open_transport(url(server.url).replace(KEY, "bad")) as t:
        with pytest.raises(MessagingError) as info:
            await t.run_campaign(campaign, [Message(to="+77011234567", text="y")])  # type: ignore[attr-defined]
    assert info.value.code is ErrorCode.AUTH_FAILED
    assert emulator.requests["createCampaign"] == 0


async def test_emulator_limits_and_platform(selzy) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    import httpx

    async with httpx.AsyncClient(base_url=server.url) as client:
        base = {"format": "json", "api_key": KEY, "platform": "P"}
        r = await client.post(
            "/en/api/sendSms",
            data={**base, "phone": ",".join(["77011234567"] * 151), "sender": "Shop", "text": "x"},
        )
        assert r.json()["code"] == "invalid_arg"
        data = {**base, "field_names[0]": "phone"}
        data.update({f"data[{i}][0]": f"7701{i:07d}" for i in range(501)})
        r = await client.post("/en/api/importContacts", data=data)
        assert r.json()["code"] == "invalid_arg"
        assert "500" in r.json()["error"]
        r = await client.post("/en/api/getLists", data={"format": "json", "api_key": KEY})
        assert r.json()["code"] == "invalid_arg"  # platform required
        r = await client.post("/en/api/getLists?format=json", data=base)
        assert "mixed" in r.json()["error"]
        r = await client.post("/en/api/nope", data=base)
        assert r.json()["code"] == "unknown_method"
    assert isinstance(emulator, SelzyEmulator)


@pytest.mark.parametrize(("ttl", "downloads"), [("5", 1), ("0", 3)])
async def test_campaign_report_is_downloaded_once_per_poll_round(selzy, ttl, downloads) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    recipients = tuple(Recipient(phone=p) for p in phones(400))
    campaign = Campaign(name="big", template="Sale", recipients=recipients, sender="Shop")
    async with open_transport(url(server.url, stats_ttl=ttl)) as t:
        run = await t.run_campaign(campaign, [Message(to=r.phone, text="Sale") for r in recipients])  # type: ignore[attr-defined]
        ids = [r.native_id for r in run.results]
        receipts = []
        for start in range(0, len(ids), 150):  # as the dispatcher asks: status_poll ids at a time
            receipts += await t.status(ids[start : start + 150])
    assert len(receipts) == 400
    assert emulator.requests["getCampaignDeliveryStats"] == downloads


@pytest.mark.parametrize(
    ("fault", "status"),
    [("lost", "MAYBE_SUBMITTED"), ("truncated", "MAYBE_SUBMITTED"), ("html502", "MAYBE_SUBMITTED")],
)
async def test_create_campaign_without_a_readable_answer(selzy, fault, status) -> None:  # type: ignore[no-untyped-def]
    emulator, server = selzy
    emulator.inject_at("createCampaign", fault)
    recipients = tuple(Recipient(phone=p) for p in phones(3))
    campaign = Campaign(name="doubt", template="Sale", recipients=recipients, sender="Shop")
    async with open_transport(url(server.url)) as t:
        run = await t.run_campaign(campaign, [Message(to=r.phone, text="Sale") for r in recipients])  # type: ignore[attr-defined]
    assert run.status == "failed"
    assert {r.status.value for r in run.results} == {status}
    assert emulator.requests["createCampaign"] == 1  # a campaign is never created twice by a retry
    assert len(emulator.campaigns) == (1 if fault == "lost" else 0)
