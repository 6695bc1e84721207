"""SMPP in, HTTP out: a 3-part UDH message from an ESME reaches the Mobizon emulator as one text, and its
receipt comes back over the bind as one deliver_sm per part id; a submit_multi's destinations all reach it,
each receipt naming the id the resp announced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from http_peers import PROVIDERS
from test_front_forms import bound_esme, decode_multi_resp, submit_multi
from test_front_receipts import take

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.runtime import Runtime
from msgbridge.service.smppfront.accounts import AccountBook, create_account
from msgbridge.service.smppfront.server import SmppFront
from msgbridge.simulators.http import mobizon
from msgbridge.simulators.http.server import serve
from msgbridge.smpp import codec


@asynccontextmanager
async def mobizon_front(tmp_path: Path) -> AsyncIterator[tuple[mobizon.MobizonEmulator, SmppFront]]:
    """A front whose account acme sends through transport kz, the Mobizon emulator; drained on the way out."""
    emulator = mobizon.create_emulator()
    accounts = tmp_path / "users.toml"
    create_account(accounts, "acme", password="secret", transports=["kz"])
    async with serve(emulator) as server:
        runtime = Runtime(
            store=str(tmp_path / "front.db"), transports={"kz": PROVIDERS["mobizon"].url(server.url)}
        )
        await runtime.start()
        front = SmppFront(runtime, AccountBook(accounts), events=runtime.store)
        await front.start("127.0.0.1", 0)
        try:
            yield emulator, front
        finally:
            await front.stop()
            await runtime.drain(2.0)


async def test_three_udh_parts_go_to_mobizon_as_one_text_and_the_receipt_comes_back(tmp_path: Path) -> None:
    text = "".join(f"part of a long text {i:03d} " for i in range(20))[:450]  # three GSM-7 segments of 153
    async with mobizon_front(tmp_path) as (emulator, front):
        t = open_transport(f"smpp://acme:secret@127.0.0.1:{front.port}?mode=trx&long=udh8")
        assert isinstance(t, SmppTransport)
        await t.open()
        try:
            [result] = await t.send([Message(to="+77011234567", sender="Shop", text=text)])
            assert result.status is DeliveryStatus.SUBMITTED and result.segments == 3, result
            receipts = await take(t, 3, seconds=60)
        finally:
            await t.aclose()
    [record] = emulator.messages.values()
    assert record.text == text and record.phone.endswith("77011234567")
    assert len(result.native_ids) == 3
    assert sorted(str(r.native_id) for r in receipts) == sorted(result.native_ids)  # one per part id
    assert all(r.status is DeliveryStatus.DELIVERED for r in receipts)


async def test_a_submit_multi_reaches_mobizon_for_every_destination_its_receipts_naming_one_id(
    tmp_path: Path,
) -> None:
    """The further destinations carry the announced id in their metadata, which is ours alone: an HTTP
    provider that carries no metadata still sends them (it would refuse a message with metadata of its own)."""
    destinations = ["77011234567", "77011234568", "77011234569"]
    async with mobizon_front(tmp_path) as (emulator, front):
        async with bound_esme(front.port) as esme:
            command_id, status, body = await esme.request(
                submit_multi(2, destinations, b"to everyone", registered_delivery=1)
            )
            assert (command_id, status) == (codec.SUBMIT_MULTI | codec.RESPONSE_BIT, codec.ESME_ROK)
            mid, unsuccess = decode_multi_resp(body)
            assert unsuccess == []
            receipts = await esme.take(len(destinations), seconds=60)
    assert sorted(r.phone[-11:] for r in emulator.messages.values()) == destinations
    assert sorted(r.source for r in receipts) == destinations
    assert {(r.message_id, r.stat) for r in receipts} == {(mid, "DELIVRD")}
