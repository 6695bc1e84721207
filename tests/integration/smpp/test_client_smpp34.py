"""Interop: our ESME against an independent SMPP server, the smpp34 package's (Rust core)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from smpp_helpers import eventually, messages, take_inbound, take_receipts

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.errors import ErrorCode
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus

smpp34 = pytest.importorskip("smpp34")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Peer:
    """An smpp34 server answering submit_sm by destination: ...0 throttled once, ...9 refused."""

    port: int
    esmes: list[object] = field(default_factory=list)
    accepted: list[object] = field(default_factory=list)
    throttled: int = 0
    unbound: int = 0
    seen: set[str] = field(default_factory=set)


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    port = free_port()
    server = smpp34.Server("127.0.0.1", port, system_id="smpp34")
    await server.start()
    state = Peer(port)

    async def serve() -> None:
        while True:
            ev = await server.next()
            if isinstance(ev, smpp34.Esme):
                state.esmes.append(ev)
            elif isinstance(ev, smpp34.Unbound):
                state.unbound += 1
            elif isinstance(ev, smpp34.SubmitSmEvent):
                text = bytes(ev.short_message).decode()
                if ev.destination_addr.endswith("9"):
                    ev.reject(smpp34.ESME_RINVDSTADR)
                elif ev.destination_addr.endswith("4444"):
                    ev.reject(0x04)  # ESME_RINVBNDSTS: "you are not bound right"
                elif ev.destination_addr.endswith("0") and text not in state.seen:
                    state.seen.add(text)
                    state.throttled += 1
                    ev.reject(smpp34.ESME_RTHROTTLED)
                else:
                    state.accepted.append(ev)
                    ev.accept(f"{len(state.accepted):010d}")

    task = asyncio.create_task(serve())
    try:
        yield state
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()


def transport(peer: Peer, **options: object) -> SmppTransport:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    t = open_transport(f"smpp://u:p@127.0.0.1:{peer.port}?{query}")
    assert isinstance(t, SmppTransport)
    return t


async def test_submit_throttle_and_refusal_against_smpp34(peer: Peer) -> None:
    ok = [Message(to=f"+7701123456{i}", sender="Test", text=f"msg {i}") for i in range(9)]  # ...0 to ...8
    refused = [Message(to="+77011234569", sender="Test", text="nope")]
    async with transport(peer, window=5, binds=2, throttle_pause=0.01) as t:
        results = await t.send(ok + refused)
    assert [r.status for r in results[:9]] == [DeliveryStatus.SUBMITTED] * 9
    assert peer.throttled == 1  # the ...0 destination, resent after the pause
    assert len(peer.accepted) == 9
    assert sorted(r.native_id or "" for r in results[:9]) == sorted(str(i) for i in range(1, 10))
    last = results[9]
    assert last.status is DeliveryStatus.REJECTED
    assert last.error is not None and last.error.code is ErrorCode.INVALID_DESTINATION
    assert [ev.source_addr for ev in peer.accepted][:1] == ["Test"]
    assert {ev.source_addr_ton for ev in peer.accepted} == {5}
    await eventually(lambda: peer.unbound == 2, what="both binds unbound on close")


async def test_receipt_and_mo_from_smpp34(peer: Peer) -> None:
    async with transport(peer, window=5, mo="always") as t:
        [result] = await t.send(messages(1, to="+77011234567"))
        await eventually(lambda: bool(peer.esmes), what="bind seen by the server")
        esme = peer.esmes[0]
        text = b"id:0000000001 sub:001 dlvrd:001 submit date:2501010000 done date:2501010001 stat:DELIVRD err:000 text:x"
        resp = await esme.deliver_sm("Test", text, source_addr="77011234567", esm_class=4)  # type: ignore[attr-defined]
        assert resp.command_status == 0
        resp = await esme.deliver_sm(  # type: ignore[attr-defined]
            "1234", "Привет".encode("utf-16-be"), source_addr="77011234567", source_addr_ton=1, data_coding=8
        )
        assert resp.command_status == 0
        [receipt] = await take_receipts(t, 1)
        [mo] = await take_inbound(t, 1)
    assert (receipt.native_id, receipt.message_id, receipt.status) == (
        result.native_id,
        result.message_id,
        DeliveryStatus.DELIVERED,
    )
    assert (mo.source, mo.text) == ("+77011234567", "Привет")


async def test_bind_state_error_makes_the_session_rebind(peer: Peer) -> None:
    async with transport(peer, window=1) as t:
        [r] = await t.send([Message(to="+77011114444", sender="Test", text="x")])
        assert r.status is DeliveryStatus.FAILED
        assert r.error is not None and r.error.code is ErrorCode.TEMPORARY_FAILURE and r.error.retryable
        assert "RINVBNDSTS" in r.error.native_message
        await eventually(
            lambda: t.stats()["connects"] == 2 and t.tx_sessions[0].bound.is_set(), what="rebind"
        )
        [ok] = await t.send(messages(1))
        assert ok.ok
    assert len(peer.esmes) == 2
