"""Provider pushes into ``serve`` over real sockets: the Mobizon and SMSC.ru emulators, a real Runtime behind
uvicorn on a free port, httpx for the pushes a test makes itself (shaped as each provider documents them).

Each provider's status table is checked row by row against values written out here, not read from the
adapter's table; the signatures are computed here from the documented formulas.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from api_helpers import http_server, until

from msgbridge.config import ServeSettings
from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.apikeys import KeyRing, create_key
from msgbridge.service.contract import Event, Submission
from msgbridge.service.events import Subscription
from msgbridge.service.http import create_app
from msgbridge.service.runtime import Runtime
from msgbridge.simulators.http.mobizon import MobizonEmulator
from msgbridge.simulators.http.push import Pusher
from msgbridge.simulators.http.server import HttpServer, serve
from msgbridge.simulators.http.smsc import SmscEmulator

MZ_SECRET = "mz-webhook-secret"
SC_SECRET = "smsc-handler-secret"
PHONE = "+79161234567"
FAST = "retry_base=0.01&max_retry_wait=1"

# Mobizon "SMS statuses" -> ours, written out (the webhook carries final ones; the table has them all).
MOBIZON_ROWS: dict[str, DeliveryStatus] = {
    "NEW": DeliveryStatus.QUEUED,
    "ENQUEUD": DeliveryStatus.QUEUED,
    "ACCEPTD": DeliveryStatus.ACCEPTED,
    "PDLIVRD": DeliveryStatus.PARTIALLY_DELIVERED,
    "DELIVRD": DeliveryStatus.DELIVERED,
    "UNDELIV": DeliveryStatus.UNDELIVERABLE,
    "REJECTD": DeliveryStatus.REJECTED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "DELETED": DeliveryStatus.DELETED,
    "UNKNOWN": DeliveryStatus.UNKNOWN,
}
# SMSC.ru status codes -> ours, written out.
SMSC_ROWS: dict[int, DeliveryStatus] = {
    -3: DeliveryStatus.UNKNOWN,
    -2: DeliveryStatus.CANCELED,
    -1: DeliveryStatus.QUEUED,
    0: DeliveryStatus.SUBMITTED,
    1: DeliveryStatus.DELIVERED,
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.EXPIRED,
    4: DeliveryStatus.DELIVERED,
    20: DeliveryStatus.UNDELIVERABLE,
    22: DeliveryStatus.UNDELIVERABLE,
    23: DeliveryStatus.REJECTED,
    24: DeliveryStatus.REJECTED,
    25: DeliveryStatus.UNDELIVERABLE,
}


@dataclass
class Pushes:
    url: str  # serve's base URL
    client: httpx.AsyncClient
    runtime: Runtime
    mobizon: MobizonEmulator
    smsc: SmscEmulator

    def callback(self, transport: str, query: str = "") -> str:
        return f"{self.url}/v1/providers/{transport}/callback" + (f"?{query}" if query else "")

    async def send(self, transport: str, text: str = "hello") -> str:
        [accepted] = await self.runtime.accept([Submission(to=PHONE, text=text, transport=transport)])

        async def sent() -> bool:
            rec = await self.runtime.message(accepted.id)
            return rec is not None and rec.native_id is not None

        await until(sent, what=f"the send through {transport} to be recorded")
        return accepted.id

    async def native_id(self, message_id: str) -> str:
        rec = await self.runtime.message(message_id)
        assert rec is not None and rec.native_id is not None
        return rec.native_id

    async def status(self, message_id: str) -> DeliveryStatus:
        rec = await self.runtime.message(message_id)
        assert rec is not None
        return rec.status


@asynccontextmanager
async def pushes(
    tmp_path: Path, *, final_after: float = 3600.0, accept_after: float | None = None
) -> AsyncIterator[Pushes]:
    """Emulators whose messages stay queued for ``accept_after`` s and in progress until ``final_after`` s
    (by default an hour: a poll only ever finds them queued, so what a test sees comes from its pushes)."""
    accept = final_after if accept_after is None else accept_after
    mobizon = MobizonEmulator(
        api_keys=["mz-key"], final_after=final_after, accept_after=accept, push_secret=MZ_SECRET
    )
    smsc = SmscEmulator(
        logins={"user": "secret"}, final_after=final_after, accept_after=accept, push_secret=SC_SECRET
    )
    async with AsyncExitStack() as stack:
        mz: HttpServer = await stack.enter_async_context(serve(mobizon))
        sc: HttpServer = await stack.enter_async_context(serve(smsc))
        runtime = Runtime(
            store=str(tmp_path / "pushes.db"),
            transports={
                "mz": f"mobizon://mz-key@api.mobizon.kz?base_url={mz.url}&push_secret={MZ_SECRET}&{FAST}",
                "sc": f"smsc://user:secret@smsc.ru?base_url={sc.url}&push_secret={SC_SECRET}&{FAST}",
                "sc-open": f"smsc://user:secret@smsc.ru?base_url={sc.url}&{FAST}",
                "mem": "memory://?dlr_delay_ms=5",
            },
            idle=0.05,
        )
        create_key(tmp_path / "keys.toml", "full")  # the API has keys; the callbacks are sent without one
        app = create_app(runtime, keys=KeyRing.load(tmp_path / "keys.toml"), settings=ServeSettings())
        await stack.enter_async_context(runtime)
        assert await runtime.wait_ready()
        url = await stack.enter_async_context(http_server(app))
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        for emulator in (mobizon, smsc):
            stack.push_async_callback(lambda e=emulator: e.pusher.aclose() if e.pusher else _nothing())
        yield Pushes(url=url, client=client, runtime=runtime, mobizon=mobizon, smsc=smsc)


async def _nothing() -> None:
    return None


# -- what the providers' documents show ------------------------------------------------------------------


def mobizon_event(
    message_id: str, status: str, *, event_id: str = "ev-1", attempt: int = 1, secret: str = MZ_SECRET
) -> dict[str, object]:
    """An ``sms-delivery-report`` as Mobizon's webhook documentation shows it, signed
    ``sha1(eventId|attempt|eventCreateTs|secretKey)``."""
    created = "2026-12-03 08:00:00"
    event: dict[str, object] = {
        "eventId": event_id,
        "eventType": "sms-delivery-report",
        "eventCreateTs": created,
        "webhookId": 7,
        "attempt": attempt,
        "data": {
            "campaignId": 1,
            "messageId": int(message_id),
            "segNum": 1,
            "statusUpdateTs": created,
            "status": status,
            "to": PHONE.lstrip("+"),
        },
    }
    event["sign"] = hashlib.sha1(f"{event_id}|{attempt}|{created}|{secret}".encode()).hexdigest()
    return event


def smsc_call(
    sms_id: str, phone: str, status: int, err: int = 0, *, secret: str = SC_SECRET, hash_name: str = "md5"
) -> dict[str, str]:
    """A status handler call with SMSC.ru's fields and a hash over ``id:phone:status:<secret>``."""
    fields = {
        "id": sms_id,
        "phone": phone,
        "status": str(status),
        "time": "03.12.2026 08:00:00",
        "ts": "1796284800",
        "err": str(err),
    }
    digest = hashlib.md5 if hash_name == "md5" else hashlib.sha1
    fields[hash_name] = digest(f"{sms_id}:{phone}:{status}:{secret}".encode()).hexdigest()
    return fields


def form(fields: dict[str, str], encoding: str = "utf-8") -> dict[str, object]:
    return {
        "content": urlencode(fields, encoding=encoding).encode("ascii"),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }


async def status_event(events: Subscription, message_id: str, expected: DeliveryStatus) -> Event:
    """The ``message.status`` event of ``message_id`` saying ``expected``; others (the send result, polls that
    find the message still queued) are skipped. Fails after a deadline, not a speed target."""

    async def find() -> Event:
        async for event in events:
            if event.type == "message.status" and event.message_id == message_id and event.status is expected:
                return event
        raise AssertionError("events ended")

    return await asyncio.wait_for(find(), 20.0)


def queued_statuses(events: Subscription, message_ids: set[str]) -> list[DeliveryStatus | None]:
    """The statuses of the events already queued for these messages."""
    out: list[DeliveryStatus | None] = []
    while (event := events.get_nowait()) is not None:
        if event.message_id in message_ids:
            out.append(event.status)
    return out


# -- the whole loop, emulator to store ------------------------------------------------------------------


async def test_mobizon_webhook_reaches_the_store_and_is_acknowledged(tmp_path: Path) -> None:
    async with pushes(tmp_path, final_after=0.2) as p:
        p.mobizon.pusher = Pusher(p.callback("mz"), retries=2, interval=0.05)
        mid = await p.send("mz")

        async def delivered() -> bool:
            return await p.status(mid) is DeliveryStatus.DELIVERED

        await until(delivered, what="the webhook's DELIVRD")
        await p.mobizon.pusher.wait()
        [answer] = p.mobizon.pusher.answers
        assert (answer.status, answer.attempt) == (200, 1)
        assert answer.body == "OK"
        assert json.loads(answer.request.content)["data"]["messageId"] == int(await p.native_id(mid))


@pytest.mark.parametrize("handler_query", ["md5=1&charset=utf-8", "sha1=1&fmt=3", f"secret={SC_SECRET}"])
async def test_smsc_status_calls_reach_the_store_and_are_answered_ok(
    tmp_path: Path, handler_query: str
) -> None:
    async with pushes(tmp_path, final_after=0.3, accept_after=0.05) as p:
        p.smsc.pusher = Pusher(p.callback("sc", handler_query), retries=2, interval=0.05)
        mid = await p.send("sc")

        async def delivered() -> bool:
            return await p.status(mid) is DeliveryStatus.DELIVERED

        await until(delivered, what="the handler call with status 1")
        await p.smsc.pusher.wait()
        assert [(a.status, a.body) for a in p.smsc.pusher.answers] == [(200, "OK"), (200, "OK")]
        statuses = [json.loads(a.request.content)["status"] if "fmt=3" in handler_query else
                    dict(x.split("=") for x in a.request.content.decode().split("&"))["status"]
                    for a in p.smsc.pusher.answers]  # fmt: skip
        assert statuses == ["0", "1"]  # "after each receipt of the delivery status": both changes pushed


# -- refusals ---------------------------------------------------------------------------------------------


async def test_a_bad_signature_is_refused_and_nothing_is_recorded(tmp_path: Path) -> None:
    async with pushes(tmp_path) as p:
        mz_id, sc_id = await p.send("mz"), await p.send("sc")
        mz_native, sc_native = await p.native_id(mz_id), await p.native_id(sc_id)
        sms_id, phone = sc_native.split(":")
        events = p.runtime.events()
        wrong_mz = mobizon_event(mz_native, "DELIVRD", secret="not-the-secret")
        refused = [
            await p.client.post(p.callback("mz"), json=wrong_mz),
            await p.client.post(p.callback("mz"), json={**mobizon_event(mz_native, "DELIVRD"), "attempt": 2}),
            await p.client.post(p.callback("sc"), **form(smsc_call(sms_id, phone, 1, secret="not-the-secret"))),
            await p.client.post(p.callback("sc", "secret=guess"), **form({k: v for k, v in smsc_call(sms_id, phone, 1).items() if k != "md5"})),
            await p.client.post(p.callback("sc", f"secret={SC_SECRET}"), **form({**smsc_call(sms_id, phone, 1), "md5": "0" * 32})),
            await p.client.post(p.callback("sc-open"), **form(smsc_call(sms_id, phone, 1))),  # no push_secret: none taken
        ]  # fmt: skip
        assert [r.status_code for r in refused] == [403] * 6
        assert all(r.json()["error"]["code"] == ErrorCode.AUTH_FAILED.value for r in refused)
        for mid in (mz_id, sc_id):
            rec = await p.runtime.message(mid)
            assert rec is not None and rec.status in (DeliveryStatus.SUBMITTED, DeliveryStatus.QUEUED)
            assert DeliveryStatus.DELIVERED not in {status for _, status, _ in rec.history}
        assert DeliveryStatus.DELIVERED not in queued_statuses(events, {mz_id, sc_id})
        assert all(h.receipts_parked == 0 for h in p.runtime.health())


async def test_unknown_transports_and_schemes_without_pushes_are_404(tmp_path: Path) -> None:
    async with pushes(tmp_path) as p:
        assert (await p.client.post(p.callback("nope"), json={})).status_code == 404
        assert (
            await p.client.post(p.callback("mem"), json={})
        ).status_code == 404  # memory:// pushes nothing
        assert (await p.client.get(p.callback("mz"))).status_code == 404  # Mobizon POSTs only
        unreadable = await p.client.post(
            p.callback("mz"), content=b"not json", headers={"Content-Type": "application/json"}
        )
        assert unreadable.status_code == 400


# -- a push before its send result, and duplicates ---------------------------------------------------------


async def test_a_push_before_the_send_result_is_parked_then_matched(tmp_path: Path) -> None:
    async with pushes(tmp_path) as p:
        # The emulators number their first message 1002 (Mobizon) and 1 (SMSC.ru): the pushes name them
        # before anything was sent, as a provider that reports faster than its send answer is recorded would.
        early_mz = await p.client.post(p.callback("mz"), json=mobizon_event("1002", "DELIVRD"))
        early_sc = await p.client.post(p.callback("sc"), **form(smsc_call("1", PHONE.lstrip("+"), 1)))
        assert (early_mz.status_code, early_sc.status_code, early_sc.text) == (200, 200, "OK")
        by_name = {h.name: h for h in p.runtime.health()}
        assert by_name["mz"].receipts_parked == 1 and by_name["sc"].receipts_parked == 1
        mz_id, sc_id = await p.send("mz"), await p.send("sc")
        assert (await p.native_id(mz_id), await p.native_id(sc_id)) == ("1002", f"1:{PHONE.lstrip('+')}")

        async def matched() -> bool:
            return {await p.status(mz_id), await p.status(sc_id)} == {DeliveryStatus.DELIVERED}

        await until(matched, what="the parked receipts to be matched by the send results")


async def test_a_retried_mobizon_event_is_recorded_once(tmp_path: Path) -> None:
    async with pushes(tmp_path) as p:
        mid = await p.send("mz")
        native = await p.native_id(mid)
        events = p.runtime.events()
        first = await p.client.post(p.callback("mz"), json=mobizon_event(native, "DELIVRD", event_id="ev-9"))
        retry = await p.client.post(
            p.callback("mz"), json=mobizon_event(native, "DELIVRD", event_id="ev-9", attempt=2)
        )
        assert (first.status_code, retry.status_code) == (200, 200)
        await status_event(events, mid, DeliveryStatus.DELIVERED)
        assert DeliveryStatus.DELIVERED not in queued_statuses(events, {mid})  # the retry announced nothing
        rec = await p.runtime.message(mid)
        assert rec is not None and rec.status is DeliveryStatus.DELIVERED
        assert sum(1 for _, status, _ in rec.history if status is DeliveryStatus.DELIVERED) == 1


# -- every row of each provider's status table ---------------------------------------------------------


async def test_every_mobizon_status_maps_as_documented(tmp_path: Path) -> None:
    async with pushes(tmp_path) as p:
        events = p.runtime.events()
        for n, (native_status, expected) in enumerate(MOBIZON_ROWS.items()):
            mid = await p.send("mz", text=f"row {n}")
            event = mobizon_event(await p.native_id(mid), native_status, event_id=f"row-{n}")
            answer = await p.client.post(p.callback("mz"), json=event)
            assert answer.status_code == 200, native_status
            if expected is not DeliveryStatus.QUEUED:  # what a poll finds too: the event says nothing new
                await status_event(events, mid, expected)


async def test_every_smsc_status_maps_as_documented(tmp_path: Path) -> None:
    async with pushes(tmp_path) as p:
        events = p.runtime.events()
        for n, (code, expected) in enumerate(SMSC_ROWS.items()):
            mid = await p.send("sc", text=f"row {n}")
            sms_id, phone = (await p.native_id(mid)).split(":")
            err = 1 if code == 20 else 0
            answer = await p.client.post(p.callback("sc"), **form(smsc_call(sms_id, phone, code, err)))
            assert (answer.status_code, answer.text) == (200, "OK"), code
            if expected in (DeliveryStatus.QUEUED, DeliveryStatus.SUBMITTED):
                continue  # a poll and the send result say these too: the event proves nothing
            seen = await status_event(events, mid, expected)
            if code == 20:  # err 1: "subscriber does not exist"
                assert seen.error is not None and seen.error.code is ErrorCode.INVALID_DESTINATION


async def test_an_smsc_inbound_message_in_windows_1251_is_stored(tmp_path: Path) -> None:
    async with pushes(tmp_path) as p:
        events = p.runtime.events()
        text = "Привет, это ответ"
        fields = {
            "phone": "79161234567",
            "to": "79000000001",
            "mes": text,
            "sms_id": "55",
            "sent": "1796284800",
        }
        answer = await p.client.post(p.callback("sc", f"secret={SC_SECRET}"), **form(fields, "cp1251"))
        assert (answer.status_code, answer.text) == (200, "OK")
        messages, _ = await p.runtime.inbox()
        assert [(m.source, m.destination, m.text) for m in messages] == [("79161234567", "79000000001", text)]
        event = await events.__anext__()
        assert event.type == "message.inbound" and event.inbound is not None and event.inbound.text == text


async def test_smsc_calls_by_get_and_what_is_refused(tmp_path: Path) -> None:
    async with pushes(tmp_path) as p:
        mid = await p.send("sc")
        sms_id, phone = (await p.native_id(mid)).split(":")
        events = p.runtime.events()
        crc_only = {
            **{k: v for k, v in smsc_call(sms_id, phone, 1).items() if k != "md5"},
            "crc32": "12345678",
        }
        no_status = {k: v for k, v in smsc_call(sms_id, phone, 1).items() if k not in ("status", "md5")}
        answers = [
            await p.client.get(
                p.callback("sc", urlencode(crc_only))
            ),  # a CRC proves nothing about the secret
            await p.client.get(p.callback("sc", f"secret={SC_SECRET}&charset=cp866&" + urlencode(no_status))),
            await p.client.get(p.callback("sc", f"secret={SC_SECRET}&" + urlencode(no_status))),
        ]
        assert [a.status_code for a in answers] == [403, 400, 400]
        assert DeliveryStatus.DELIVERED not in queued_statuses(events, {mid})
        by_get = await p.client.get(
            p.callback("sc", urlencode(smsc_call(sms_id, phone, 1, hash_name="sha1")))
        )
        assert (by_get.status_code, by_get.text) == (200, "OK")
        await status_event(events, mid, DeliveryStatus.DELIVERED)


async def test_a_mobizon_event_of_another_type_is_acknowledged_and_ignored(tmp_path: Path) -> None:
    async with pushes(tmp_path) as p:
        mid = await p.send("mz")
        event = {**mobizon_event(await p.native_id(mid), "DELIVRD"), "eventType": "campaign-status"}
        answer = await p.client.post(p.callback("mz"), json=event)
        assert (answer.status_code, answer.text) == (200, "OK")  # a refusal would only be retried ten times
        rec = await p.runtime.message(mid)
        assert rec is not None and rec.status is not DeliveryStatus.DELIVERED
