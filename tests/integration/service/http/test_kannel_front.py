"""Kannel's /cgi-bin/sendsms and Jasmin's /send over a real uvicorn and the real runtime, the SMSC simulator
as the SMSC: requests built as the Kannel user guide and the Jasmin documentation show them, every reply
line of the reply tables, and the report URLs the stored events become."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
from api_helpers import Api, api, http_server, make_keys, sim_url, until
from webhook_receiver import receiver

from msgbridge.config import EventSettings, ServeSettings
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.apikeys import KeyRing
from msgbridge.service.events import EventHub
from msgbridge.service.http import create_app
from msgbridge.service.http.gate import Gate
from msgbridge.service.kannel.dlr import JASMIN, KANNEL
from msgbridge.service.kannel.replies import JASMIN_REPLIES, KANNEL_REPLIES
from msgbridge.service.runtime import Runtime
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.smpp.sm import decode_sm
from msgbridge.store.base import Store, StoredEvent
from msgbridge.webhooks.formats import FORMATS
from msgbridge.webhooks.worker import WebhookWorker

DLR_TEMPLATE = (
    "http://93.184.215.14/dlr?myId=123456&type=%d&smsc=%i&user=%n&to=%p&from=%P&fid=%F&mid=%I&T=%T&reply=%A"
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def front(tmp_path: Path, sim: SmscSimulator) -> AsyncIterator[Api]:
    """The API with a third transport ``down`` whose SMSC never answers (for "3: Queued for later")."""
    down = f"smpp://u:p@127.0.0.1:{closed_port()}?bind_timeout=0.2&reconnect_wait=0"
    async with api(tmp_path, sim, extra={"down": down}) as a:
        yield a


def sendsms(a: Api, key: str = "full", **params: str) -> str:
    """A GET URL as the guide builds it: ``username=foo&password=bar&to=0123456&text=Hello+world``."""
    query = urlencode({"username": key, "password": a.tokens[key], **params})
    return f"/cgi-bin/sendsms?{query}"


async def events_of(a: Api, to: str) -> list[StoredEvent]:
    page = await a.runtime.store.events_page(None, 1000)
    return [e for e in page if e.to == to and e.type == "message.status"]


async def reports(a: Api, to: str, final: DeliveryStatus) -> list[str]:
    """The URLs the stored events of the message to ``to`` become, once it is ``final``."""

    async def done() -> bool:
        return any(e.status is final for e in await events_of(a, to))

    await until(done, what=f"{final} for {to}")
    out = []
    for e in await events_of(a, to):
        assert e.target is not None and e.message_id is not None
        record = await a.runtime.message(e.message_id)
        request = KANNEL.request(e, record, e.target, None)
        if request is not None:
            out.append(request.url)
    return out


async def test_the_guides_get_example_with_dlr_mask_31(sim: SmscSimulator, tmp_path: Path) -> None:
    async with front(tmp_path, sim) as a:
        r = await a.client.get(
            sendsms(a, to="77011234567", text="Hello world", **{"dlr-mask": "31", "dlr-url": DLR_TEMPLATE})
        )
        assert (r.status_code, r.text) == (202, "0: Accepted for delivery")
        assert r.headers["content-type"].startswith("text/html") and r.headers["cache-control"] == "no-cache"
        urls = await reports(a, "+77011234567", DeliveryStatus.DELIVERED)
        events = await events_of(a, "+77011234567")
        mid = events[0].message_id
        record = await a.runtime.message(mid or "")
        assert record is not None and record.message.text == "Hello world" and record.native_id
        queries = [dict(parse_qsl(urlsplit(u).query, keep_blank_values=True)) for u in urls]
        assert [q["type"] for q in queries] == ["8", "1"]  # smsc submit, then delivered to the phone
        for q in queries:
            assert q["myId"] == "123456" and q["smsc"] == "sms" and q["user"] == "full"
            assert q["to"] == "+77011234567" and q["mid"] == mid and q["fid"] == record.native_id
        assert queries[0]["reply"] == "ACK/"
        assert "stat:DELIVRD" in queries[1]["reply"] and f"id:{record.native_id}" in queries[1]["reply"]
        assert urls[1].startswith(
            "http://93.184.215.14/dlr?myId=123456&type=1&smsc=sms&user=full&to=%2B77011234567&from=&"
        )
    assert [s.destination for s in sim.submitted] == ["77011234567"]


async def test_a_mask_asks_only_for_its_reports(sim: SmscSimulator, tmp_path: Path) -> None:
    async with front(tmp_path, sim) as a:
        template = "http://93.184.215.14/dlr?type=%d"
        r = await a.client.get(
            sendsms(a, to="77011234568", text="x", **{"dlr-mask": "1", "dlr-url": template})
        )
        assert r.status_code == 202
        assert await reports(a, "+77011234568", DeliveryStatus.DELIVERED) == [
            "http://93.184.215.14/dlr?type=1"
        ]
        r = await a.client.get(
            sendsms(a, to="77011234569", text="x", **{"dlr-mask": "8", "dlr-url": template})
        )
        assert await reports(a, "+77011234569", DeliveryStatus.DELIVERED) == [
            "http://93.184.215.14/dlr?type=8"
        ]
        # No mask, or a mask without a report bit (32: intermediate only): no target kept at all.
        await a.client.get(sendsms(a, to="77011234570", text="x", **{"dlr-url": template}))
        await a.client.get(sendsms(a, to="77011234571", text="x", **{"dlr-mask": "32", "dlr-url": template}))
        await until(lambda: _delivered(a, 4), what="all delivered")
        page = await a.runtime.store.events_page(None, 1000)
        assert not [e for e in page if e.to in ("+77011234570", "+77011234571")]


async def _delivered(a: Api, n: int) -> bool:
    counts = await a.runtime.queue_depth()
    return counts.get(DeliveryStatus.DELIVERED, 0) >= n


async def test_several_receivers_post_forms_x_kannel_headers_and_charsets(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with front(tmp_path, sim) as a:
        # "separate each entry with space (' ', '+' url-encoded)"
        r = await a.client.get(
            f"/cgi-bin/sendsms?user=full&pass={quote(a.tokens['full'])}&to=77011230001+77011230002&text=two"
        )
        assert (r.status_code, r.text) == (202, "0: Accepted for delivery")
        # A form body is read as the query is.
        form = {"username": "full", "password": a.tokens["full"], "to": "77011230003", "text": "form"}
        r = await a.client.post("/cgi-bin/sendsms", data=form)
        assert (r.status_code, r.text) == (202, "0: Accepted for delivery")
        # Kannel's POST: the body is the text, everything else in X-Kannel headers; the charset from Content-Type.
        headers = {"X-Kannel-Username": "full", "X-Kannel-Password": a.tokens["full"], "X-Kannel-To": "77011230004",
                   "Content-Type": "text/plain; charset=ISO-8859-1"}  # fmt: skip
        r = await a.client.post("/cgi-bin/sendsms", content="Grüße".encode("latin-1"), headers=headers)
        assert (r.status_code, r.text) == (202, "0: Accepted for delivery")
        # coding=2 without a charset: the text's bytes are UTF-16BE ("Defaults to ... UTF-16BE if coding is UCS-2").
        ucs2 = quote("Привет".encode("utf-16-be"))
        r = await a.client.get(
            f"/cgi-bin/sendsms?username=full&password={quote(a.tokens['full'])}&to=77011230005&coding=2&text={ucs2}"
        )
        assert (r.status_code, r.text) == (202, "0: Accepted for delivery")
        # charset=ISO-8859-1 on a GET
        latin = quote("Café".encode("latin-1"))
        r = await a.client.get(sendsms(a, to="77011230006", charset="ISO-8859-1") + f"&text={latin}")
        assert (r.status_code, r.text) == (202, "0: Accepted for delivery")
        await until(lambda: _delivered(a, 6), what="six delivered")
    texts = {s.destination: s for s in sim.submitted}
    assert set(texts) == {f"7701123000{i}" for i in range(1, 7)}
    assert texts["77011230004"].short_message == b"Gr\x7e\x1ee"  # GSM 03.38: ü is 0x7E, ß 0x1E
    assert texts["77011230005"].short_message == "Привет".encode("utf-16-be")


async def test_deferred_and_validity_reach_the_smsc_and_smsc_picks_the_transport(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with front(tmp_path, sim) as a:
        r = await a.client.get(sendsms(a, to="77011234567", text="later", deferred="10", validity="90"))
        assert (r.status_code, r.text) == (202, "0: Accepted for delivery")
        r = await a.client.get(sendsms(a, to="77011234568", text="to backup", smsc="backup"))
        assert (r.status_code, r.text) == (202, "0: Accepted for delivery")
        await until(lambda: _delivered(a, 2), what="both delivered")
    (body,) = [b for _, _, b in sim.accepted]
    pdu = decode_sm(body)
    assert (
        pdu.schedule_delivery_time.endswith("000+") and pdu.validity_period == "000000013000000R"
    )  # 90 minutes
    assert [s.destination for s in sim.submitted] == ["77011234567"]  # the other went to memory://


@contextmanager
def read_only(a: Api) -> Iterator[None]:
    """SQLite refuses every write meanwhile ("attempt to write a readonly database"): a real store failure."""
    db = a.runtime.store.db  # type: ignore[attr-defined]
    db.execute("PRAGMA query_only = ON")
    try:
        yield
    finally:
        db.execute("PRAGMA query_only = OFF")


def expect(r: httpx.Response, table: dict[str, tuple[int, str]], row: str, **fields: str) -> None:
    status, text = table[row]
    assert (r.status_code, r.text) == (status, text.format(**fields) if fields else text), row


async def test_every_kannel_reply_row(sim: SmscSimulator, tmp_path: Path) -> None:
    table = {name: (reply.status, reply.text) for name, reply in KANNEL_REPLIES.items()}
    seen: set[str] = set()
    async with front(tmp_path, sim) as a:
        token = a.tokens["full"]

        async def check(row: str, r: httpx.Response, **fields: str) -> None:
            expect(r, table, row, **fields)
            seen.add(row)

        get = a.client.get
        ok = {"to": "77011234567", "text": "hi"}
        await check("accepted", await get(sendsms(a, **ok)))
        await check("queued", await get(sendsms(a, **ok, smsc="down")))
        await check("not_routable", await get(sendsms(a, **ok, smsc="nowhere")))
        await check("not_routable", await get(sendsms(a, "backup-only", **ok)))  # the key may not use "sms"
        await check(
            "authorization", await get(f"/cgi-bin/sendsms?username=full&password={token}x&to=1&text=x")
        )
        await check(
            "authorization", await get(f"/cgi-bin/sendsms?username=slow&password={quote(token)}&to=1&text=x")
        )
        await check("missing_to", await get(sendsms(a, text="x")))
        await check("empty_to", await get(sendsms(a, to="", text="x")))
        post = {"X-Kannel-Username": "full", "X-Kannel-Password": token, "Content-Type": "text/plain"}
        await check("missing_to_post", await a.client.post("/cgi-bin/sendsms", content=b"x", headers=post))
        await check(
            "invalid_content_type",
            await a.client.post(
                "/cgi-bin/sendsms", content=b"<x/>", headers={**post, "Content-Type": "text/xml"}
            ),
        )
        await check(
            "denied",
            await get(sendsms(a, to="7701abc", text="x")),
            receivers=" Denied receivers are: 7701abc",
        )
        await check(
            "denied",
            await get(sendsms(a, to="77011234567 123", text="x")),
            receivers=" Denied receivers are: 123",
        )
        await check("charset", await get(sendsms(a, **ok, charset="no-such-charset")))
        await check(
            "charset", await get(sendsms(a, to="77011234567", coding="2") + "&text=%04")
        )  # odd UTF-16BE
        await check("udh_misformed", await get(sendsms(a, **ok) + "&udh=%05%00%03"))
        await check("unsupported", await get(sendsms(a, **ok) + "&udh=%05%00%03%01%02%01"), field="UDH")
        await check("unsupported", await get(sendsms(a, **ok, mclass="0")), field="MClass")
        await check("unsupported", await get(sendsms(a, **ok, coding="1")), field="Coding=1 (8-bit data)")
        await check("unsupported", await get(sendsms(a, **ok, priority="2")), field="Priority above 0")
        await check("unsupported", await get(sendsms(a, **ok, pid="127")), field="PID")
        await check(
            "accepted", await get(sendsms(a, **ok, pid="0", compress="0", priority="0"))
        )  # what is sent anyway
        await check("dlr_url", await get(sendsms(a, **ok, **{"dlr-mask": "1", "dlr-url": "ftp://x/y"})))
        await check(
            "dlr_url", await get(sendsms(a, **ok, **{"dlr-mask": "1", "dlr-url": "http:///dlr?type=%d"}))
        )
        await check("dlr_mask", await get(sendsms(a, **ok, **{"dlr-mask": "64"})))
        await check("mclass", await get(sendsms(a, **ok, mclass="4")))
        await check("coding", await get(sendsms(a, **ok, coding="3")))
        await check("validity", await get(sendsms(a, **ok, validity="-5")))
        await check("validity", await get(sendsms(a, **ok, validity="0")))
        await check("deferred", await get(sendsms(a, **ok, deferred="-2")))
        await check("priority", await get(sendsms(a, **ok, priority="4")))
        await check("account", await get(sendsms(a, **ok, account="a[b]")))
        await check("empty_text", await get(sendsms(a, to="77011234567", text="  ")))
        await check("text_too_long", await get(sendsms(a, to="77011234567", text="x" * 50_000)))
        await check("misformed", await get(sendsms(a, **ok, **{"from": "NameTooLongForSms"})), field="Sender")
        assert (await get(sendsms(a, "slow", **ok))).status_code == 202
        await check("temporary", r := await get(sendsms(a, "slow", **ok)))
        assert int(r.headers["retry-after"]) >= 1
        with read_only(a):  # the outbox cannot be written
            await check("sending_failed", await get(sendsms(a, **ok)))
        await a.runtime.drain(5)  # no longer accepting
        await check("temporary", await get(sendsms(a, **ok)))
    assert seen == set(table)


JASMIN_OK = {"to": "+77011234567", "content": "Hello"}


def send_url(a: Api, key: str = "full", **params: str) -> str:
    return "/send?" + urlencode({"username": key, "password": a.tokens[key], **params})


async def test_jasmin_send_with_a_dlr_at_both_levels(sim: SmscSimulator, tmp_path: Path) -> None:
    async with front(tmp_path, sim) as a:
        r = await a.client.get(
            send_url(
                a,
                **JASMIN_OK,
                **{"dlr-url": "http://93.184.215.14/ack", "dlr-level": "3", "dlr-method": "GET"},
            )
        )
        assert r.status_code == 200 and r.text.startswith('Success "')
        mid = r.text.removeprefix('Success "').removesuffix('"')
        record = await a.runtime.message(mid)
        assert record is not None and record.message.text == "Hello"

        async def delivered() -> bool:
            rec = await a.runtime.message(mid)
            return rec is not None and rec.status is DeliveryStatus.DELIVERED

        await until(delivered, what="DELIVERED")
        await until(lambda: _has_event(a, mid, DeliveryStatus.DELIVERED), what="the DELIVERED event")
        record = await a.runtime.message(mid)
        got = []
        for e in await a.runtime.store.events_page(None, 100, message_id=mid):
            assert e.target is not None
            request = JASMIN.request(e, record, e.target, None)
            if request is not None:
                assert request.method == "GET" and request.url.startswith("http://93.184.215.14/ack?")
                got.append(dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True)))
        assert [(q["level"], q["message_status"]) for q in got] == [("1", "ESME_ROK"), ("2", "DELIVRD")]
        assert all(q["id"] == mid and q["connector"] == "sms" for q in got)
        assert record is not None and got[1]["id_smsc"] == record.native_id and got[1]["text"] == "Hello"
        # POST form and JSON bodies are read too.
        form = {"username": "full", "password": a.tokens["full"], **JASMIN_OK, "to": "+77011234568"}
        r = await a.client.post("/send", data=form)
        assert r.status_code == 200 and r.text.startswith('Success "')
        r = await a.client.post("/send", json={**form, "to": "+77011234569"})
        assert r.status_code == 200 and r.text.startswith('Success "')


async def _has_event(a: Api, mid: str, status: DeliveryStatus) -> bool:
    return any(e.status is status for e in await a.runtime.store.events_page(None, 100, message_id=mid))


async def test_every_jasmin_reply_row(sim: SmscSimulator, tmp_path: Path) -> None:
    table = {name: (reply.status, reply.text) for name, reply in JASMIN_REPLIES.items()}
    seen: set[str] = set()
    async with front(tmp_path, sim) as a:

        async def check(row: str, r: httpx.Response, **fields: str) -> None:
            if row == "success":
                assert r.status_code == 200 and r.text.startswith('Success "') and r.text.endswith('"'), (
                    r.text
                )
            else:
                expect(r, table, row, **fields)
            seen.add(row)

        get = a.client.get
        await check("success", await get(send_url(a, **JASMIN_OK)))
        await check("no_arguments", await get("/send"))
        await check("unknown_argument", await get(send_url(a, **JASMIN_OK, colour="red")), name="colour")
        await check(
            "invalid_value", await get(send_url(a, **JASMIN_OK, priority="7")), name="priority", value="7"
        )
        await check(
            "missing_argument",
            await get("/send?" + urlencode({"username": "full", **JASMIN_OK})),
            name="password",
        )
        await check("no_content", await get(send_url(a, to="+77011234567")))
        await check("both_contents", await get(send_url(a, **JASMIN_OK, **{"hex-content": "48"})))
        wrong = "/send?" + urlencode({"username": "full", "password": a.tokens["full"] + "x", **JASMIN_OK})
        await check("authentication", await get(wrong), username="full")
        await check("no_route", await get(send_url(a, "backup-only", **JASMIN_OK)))
        await check("unsupported", await get(send_url(a, **JASMIN_OK, coding="4")), name="coding", value="4",
                    why="only text codings 0, 1, 3 and 8 are sent")  # fmt: skip
        await check(
            "refused", await get(send_url(a, to="+77011234567", content=" ")), why="the content is empty"
        )
        assert (await get(send_url(a, "slow", **JASMIN_OK))).status_code == 200
        await check("throughput", await get(send_url(a, "slow", **JASMIN_OK)))
        with read_only(a):
            await check(
                "server",
                await get(send_url(a, **JASMIN_OK)),
                why="the message could not be queued, try again later",
            )
        await a.runtime.drain(5)
        await check(
            "unavailable",
            await get(send_url(a, **JASMIN_OK)),
            why="not accepting messages now, try again later",
        )
    assert seen == set(table)


def with_fronts_formats(store: Store, hub: EventHub | None) -> WebhookWorker:
    """The delivery worker with the two formats of the fronts beside msgbridge's own, callbacks to 127.0.0.1."""
    return WebhookWorker(store, allow_private=True, hub=hub, formats=FORMATS)


async def test_the_dlr_url_and_the_jasmin_dlr_are_called(sim: SmscSimulator, tmp_path: Path) -> None:
    """End to end: the reports reach a real receiver through the runtime's durable callback worker."""
    keys_path = tmp_path / "keys.toml"
    tokens = make_keys(keys_path)
    runtime = Runtime(
        store=str(tmp_path / "e2e.db"), transports={"sms": sim_url(sim)}, webhooks=with_fronts_formats,
        events=EventSettings(allow_private_callbacks=True),
    )  # fmt: skip
    app = create_app(runtime, keys=KeyRing.load(keys_path), settings=ServeSettings(), gate=Gate())
    async with receiver() as hook, runtime:
        assert await runtime.wait_ready()
        async with http_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            template = f"{hook.url}/dlr?myId=123456&type=%d&smsc=%i&to=%p&mid=%I&fid=%F&reply=%A"
            query = urlencode({"username": "full", "password": tokens["full"], "to": "77011234567",
                               "text": "Hello world", "dlr-mask": "31", "dlr-url": template})  # fmt: skip
            r = await client.get(f"/cgi-bin/sendsms?{query}")
            assert (r.status_code, r.text) == (202, "0: Accepted for delivery")
            form = {"username": "full", "password": tokens["full"], "to": "+77011234568", "content": "Hi",
                    "dlr-url": f"{hook.url}/jasmin", "dlr-level": "3", "dlr-method": "POST"}  # fmt: skip
            r = await client.post("/send", data=form)
            assert r.status_code == 200 and r.text.startswith('Success "')
            jasmin_id = r.text.removeprefix('Success "').removesuffix('"')

            async def four() -> bool:
                return len(hook.requests) >= 4

            await until(four, what="two Kannel reports and two Jasmin DLRs")
    kannel_calls = [q for q in hook.requests if q.path == "/dlr"]
    assert all(q.method == "GET" for q in kannel_calls)
    assert [q.query["type"] for q in kannel_calls] == [["8"], ["1"]]  # in order: smsc submit, then delivered
    for q in kannel_calls:
        assert (
            q.query["myId"] == ["123456"] and q.query["smsc"] == ["sms"] and q.query["to"] == ["+77011234567"]
        )
    assert kannel_calls[0].query["reply"] == ["ACK/"] and "stat:DELIVRD" in kannel_calls[1].query["reply"][0]
    jasmin_calls = [q for q in hook.requests if q.path == "/jasmin"]
    assert [(q.method, q.form["level"], q.form["message_status"]) for q in jasmin_calls] == [
        ("POST", ["1"], ["ESME_ROK"]),
        ("POST", ["2"], ["DELIVRD"]),
    ]
    assert all(q.form["id"] == [jasmin_id] and q.form["connector"] == ["sms"] for q in jasmin_calls)
