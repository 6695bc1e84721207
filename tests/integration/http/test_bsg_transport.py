"""BSG adapter against the BSG emulator over real HTTP."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.http.bsg import BsgTransport
from msgbridge.core.errors import AuthError, ErrorCode
from msgbridge.core.message import Campaign, Message, Recipient
from msgbridge.core.status import DeliveryStatus
from msgbridge.simulators.http.bsg import BsgEmulator, create_emulator
from msgbridge.simulators.http.server import serve

KEY = "live_test_key"


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def url(server_url: str, **options: str) -> str:
    query = "&".join(
        f"{k}={v}"
        for k, v in {"base_url": server_url, "sender": "Shop", "retry_base": "0.001", **options}.items()
    )
    return f"bsg://{KEY}@one-api.bsg.world?{query}"


def msgs(n: int, text: str = "hello", prefix: str = "7701") -> list[Message]:
    return [Message(to=f"+{prefix}{i:07d}", text=text) for i in range(n)]


@pytest.fixture
async def bsg(serve_emulator):  # type: ignore[no-untyped-def]
    emulator = create_emulator(api_keys=[KEY])
    server = await serve_emulator(emulator)
    return emulator, server


async def test_one_login_one_campaign_per_batch(bsg) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    messages = msgs(20)
    async with open_transport(url(server.url)) as t:
        results = await t.send(messages)
        again = await t.send(msgs(3, prefix="7702"))
    assert emulator.logins == 1
    assert emulator.requests["POST /api/campaigns/sms/send"] == 2
    assert all(r.status is DeliveryStatus.SUBMITTED for r in results + again)
    [first_campaign, _] = emulator.campaigns
    assert {r.native_id.split("/")[0] for r in results if r.native_id} == {str(first_campaign)}
    assert [emulator.messages[i].reference_id for i in emulator.campaigns[first_campaign].messages] == [
        m.id for m in messages
    ]


async def test_more_than_10000_numbers_are_split_and_the_emulator_refuses_10001(bsg) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    messages = msgs(10_001)
    async with open_transport(url(server.url)) as t:
        results = await t.send(messages)
    assert emulator.requests["POST /api/campaigns/sms/send"] == 2
    assert sorted(len(c.messages) for c in emulator.campaigns.values()) == [1, 10_000]
    assert all(r.ok for r in results)
    async with httpx.AsyncClient(base_url=server.url) as client:
        token = (await client.post("/api/auth/login", json={"api_key": KEY})).json()["bearer"]
        r = await client.post(
            "/api/campaigns/sms/send",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "sender": "Shop",
                "text": "x",
                "phones": [{"number": 77010000000 + i} for i in range(10_001)],
            },
        )
    assert r.status_code == 422
    assert "10000" in r.text


async def test_mixed_texts_go_individual_in_one_request(bsg) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    messages = [Message(to=f"+7701000000{i}", text=f"code {i}") for i in range(5)]
    async with open_transport(url(server.url)) as t:
        results = await t.send(messages)
    assert emulator.requests["POST /api/campaigns/sms/send-individual"] == 1
    assert [emulator.messages[i].text for i in next(iter(emulator.campaigns.values())).messages] == [
        f"code {i}" for i in range(5)
    ]
    assert all(r.ok for r in results)


async def test_a_number_bsg_refuses_is_rejected_and_the_rest_sent(bsg) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    emulator.invalid_numbers = {"77010000002"}
    async with open_transport(url(server.url)) as t:
        results = await t.send(msgs(5))
    assert [r.ok for r in results] == [True, True, False, True, True]
    assert results[2].error is not None
    assert results[2].error.code is ErrorCode.INVALID_DESTINATION
    assert "phones.2.number" in results[2].error.native_message
    assert sum(len(c.messages) for c in emulator.campaigns.values()) == 4


async def test_local_validation_spends_no_request(bsg) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    bad = [Message(to="+77011234567", text="x", validity=timedelta(hours=80)), Message(to="+1", text="x")]
    async with open_transport(url(server.url)) as t:
        results = await t.send(bad)
    assert [r.error.native_code for r in results if r.error] == ["validity", "number"]
    assert all(r.status is DeliveryStatus.REJECTED for r in results)
    assert emulator.requests["POST /api/campaigns/sms/send"] == 0


async def test_resending_a_sent_message_is_not_sent_twice(bsg) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    message = Message(to="+77011234567", text="once", reference="order42")
    others = [Message(to="+77017654321", text="once", reference="order43")]
    async with open_transport(url(server.url)) as t:
        [first] = await t.send([message])
        second, other = await t.send([message, *others])
        found = await t.lookup(["order42", "order43", "order44"])
    assert first.ok
    # BSG refuses the taken reference_id; the message is reported under the id it already has.
    assert second.ok and second.status is DeliveryStatus.SUBMITTED
    assert second.native_id == first.native_id
    assert second.warnings and "not sent again" in second.warnings[0]
    assert other.ok and other.native_id != first.native_id
    assert len(emulator.messages) == 2
    assert set(found) == {"order42", "order43"}
    assert found["order42"].native_id == first.native_id


async def test_statuses_progress_and_are_read_by_pages() -> None:
    clock = Clock()
    emulator = create_emulator(
        api_keys=[KEY],
        accept_after=1,
        final_after=4,
        clock=clock,
        seed=2,
        final_mix={"delivered": 0.6, "undeliverable": 0.2, "expired": 0.1, "rejected": 0.1},
    )
    async with serve(emulator) as server, open_transport(url(server.url)) as t:
        results = await t.send(msgs(1200))
        ids = [r.native_id for r in results if r.native_id]
        assert {r.status for r in await t.status(ids)} == {DeliveryStatus.ACCEPTED}
        clock.now += 2
        assert {r.status for r in await t.status(ids)} == {DeliveryStatus.SUBMITTED}
        clock.now += 3
        final = await t.status(ids)
    by_outcome = {
        "delivered": "DELIVERED",
        "undeliverable": "UNDELIVERABLE",
        "expired": "EXPIRED",
        "rejected": "FAILED",
    }
    expected = {
        f"{m.campaign_id}/{m.reference_id}": by_outcome[emulator.outcome(str(m.id))]
        for m in emulator.messages.values()
    }
    assert {r.native_id: r.status.value for r in final} == expected
    assert len(set(expected.values())) == 4
    assert emulator.requests["GET /api/messages"] == 9  # 3 polls x 3 pages of 500


async def test_stop_cancels_what_was_not_sent() -> None:
    clock = Clock()
    emulator = create_emulator(api_keys=[KEY], clock=clock)
    when = datetime.now(UTC) + timedelta(hours=3)
    messages = [m.model_copy(update={"scheduled_at": when}) for m in msgs(4)]
    async with serve(emulator) as server, open_transport(url(server.url)) as t:
        assert isinstance(t, BsgTransport)
        results = await t.send(messages)
        campaign_id = results[0].native_id.split("/")[0]  # type: ignore[union-attr]
        assert (await t.campaign_status(campaign_id))["status"] == "scheduled"
        stopped = await t.cancel_campaign(campaign_id)
        receipts = await t.status([r.native_id for r in results if r.native_id])
        with pytest.raises(Exception) as again:
            await t.cancel_campaign(campaign_id)
    assert stopped["status"] == "stopped"
    assert {r.status for r in receipts} == {DeliveryStatus.CANCELED}
    assert "Invalid campaign status" in str(again.value)
    [campaign] = emulator.campaigns.values()
    assert campaign.start_at == when.strftime("%Y-%m-%d %H:%M:%S")


async def test_token_is_refreshed_before_expiry_and_after_revocation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator = create_emulator(api_keys=[KEY], token_ttl=30)  # exp inside the refresh margin
    async with serve(emulator) as server, open_transport(url(server.url)) as t:
        assert isinstance(t, BsgTransport)
        await t.send(msgs(1))
        await t.send(msgs(1, prefix="7702"))
        assert (emulator.logins, emulator.refreshes) == (1, 2)  # open() logs in; each send refreshes first
        emulator.revoke_tokens()
        [result] = await t.send(msgs(1, prefix="7703"))
        token = t._token
    assert result.ok
    assert emulator.logins == 2  # refresh refused with 401 -> log in again with the key
    assert token is not None and token not in caplog.text
    assert KEY not in caplog.text


async def test_401_mid_session_logs_in_again_once(bsg) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    async with open_transport(url(server.url)) as t:
        await t.send(msgs(1))
        emulator.revoke_tokens()
        [result] = await t.send(msgs(1, prefix="7702"))
    assert result.ok
    assert emulator.logins == 2
    assert emulator.requests["POST /api/campaigns/sms/send"] == 3  # 1 + (401, then resent after login)
    assert len(emulator.messages) == 2


async def test_parallel_calls_after_revocation_share_one_new_login(bsg) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    # Three senders -> three campaigns sent in parallel, each meeting the 401 at once.
    messages = [
        Message(to=f"+770100000{i:02d}", text="x", sender=sender)
        for i, sender in enumerate(["AAA", "BBB", "CCC"] * 4)
    ]
    async with open_transport(url(server.url)) as t:
        emulator.revoke_tokens()
        results = await t.send(messages)
    assert all(r.ok for r in results)
    assert emulator.logins == 2
    assert len(emulator.campaigns) == 3 and len(emulator.messages) == 12


async def test_wrong_key_fails_to_open(bsg) -> None:  # type: ignore[no-untyped-def]
    _, server = bsg
    with pytest.raises(AuthError):
        async with open_transport(url(server.url).replace(KEY, "live_wrong")):
            pass


async def test_429_is_retried_and_nothing_doubled() -> None:
    clock = Clock()
    emulator = create_emulator(api_keys=[KEY], rate_limit=1.0, rate_burst=1.0, clock=clock)
    async with serve(emulator) as server, open_transport(url(server.url, attempts="2")) as t:
        [ok] = await t.send(msgs(1))
        [throttled] = await t.send(msgs(1, prefix="7702"))
    assert ok.ok
    assert throttled.error is not None
    assert throttled.error.code is ErrorCode.THROTTLED
    assert throttled.error.retry_after == 1.0
    assert emulator.throttled == 2
    assert len(emulator.messages) == 1


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        ("html502", "TEMPORARY_FAILURE", "FAILED"),
        ("truncated", "PROTOCOL_ERROR", "MAYBE_SUBMITTED"),
        ("empty", "PROTOCOL_ERROR", "MAYBE_SUBMITTED"),
        ("hang", "TIMEOUT", "MAYBE_SUBMITTED"),
    ],
)
async def test_bad_responses(bsg, fault, code, status) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    # Only the hang needs a short timeout; a loaded machine must not turn a slow 502 into a timeout.
    async with open_transport(url(server.url, timeout="0.5" if fault == "hang" else "10")) as t:
        await t.open()
        emulator.inject(fault)
        [result] = await t.send(msgs(1))
    assert result.error is not None
    assert result.error.code.value == code
    assert result.status.value == status
    assert result.error.native_message
    assert emulator.requests["POST /api/campaigns/sms/send"] == 1


async def test_run_campaign_and_send_groups(bsg) -> None:  # type: ignore[no-untyped-def]
    emulator, server = bsg
    assert isinstance(emulator, BsgEmulator)
    emulator.groups = {7: [("+77015550001", {"12": "Ann"}), ("+77015550002", {"12": "Bo"})]}
    recipients = tuple(Recipient(phone=m.to) for m in msgs(3))
    campaign = Campaign(name="c", template="Sale", recipients=recipients, sender="Brand")
    async with open_transport(url(server.url)) as t:
        assert isinstance(t, BsgTransport)
        run = await t.run_campaign(campaign, [Message(to=r.phone, text="Sale") for r in recipients])
        group = await t.send_groups([7], "Hi {12}")
    assert run.requests == 1 and run.status == "creation"
    assert [r.native_id.split("/")[0] for r in run.results if r.native_id] == [run.campaign_id] * 3
    assert emulator.campaigns[int(run.campaign_id)].sender == "Brand"
    texts = sorted(emulator.messages[i].text for i in emulator.campaigns[int(group["id"])].messages)
    assert texts == ["Hi Ann", "Hi Bo"]


async def test_lookup_that_cannot_ask_raises_instead_of_answering_not_found(bsg) -> None:  # type: ignore[no-untyped-def]
    from msgbridge.core.errors import MessagingError

    emulator, server = bsg
    async with open_transport(url(server.url, attempts="1")) as t:
        await t.send([Message(to="+77011234567", text="x", reference="r1")])
        emulator.inject_at("GET /api/messages", "html502")
        with pytest.raises(MessagingError):
            await t.lookup(["r1"])
        emulator.inject_at("GET /api/messages", "html502")
        assert await t.status(["101/r1"]) == []  # a poll just skips a round
        assert set(await t.lookup(["r1", "r2"])) == {"r1"}
