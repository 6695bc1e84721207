"""MO to the front's accounts: the SMSC simulator sends an MO to the runtime, the front delivers it as a
deliver_sm (esm_class 0) to a receiver of the account its destination prefix names, over real sockets."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from conftest import INBOUND_URL, MoFront

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.mo import decode_payload
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.cli.serve import front_plan
from msgbridge.config import load_config
from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.message import InboundMessage
from msgbridge.service.runtime import Runtime
from msgbridge.service.smppfront.accounts import create_account
from msgbridge.service.smppfront.mo import front_target
from msgbridge.smpp import codec
from msgbridge.store.base import StoredEvent


class Esme:
    """A bare receiver written on the shared codec: it answers what it is told to, so a test can leave a
    deliver_sm unanswered."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def bind(cls, front: MoFront, system_id: str, command: int = codec.BIND_RECEIVER) -> Esme:
        reader, writer = await asyncio.open_connection("127.0.0.1", front.front.port)
        writer.write(codec.pdu(command, 0, 1, codec.encode_bind(codec.Bind(system_id, "secret"))))
        esme = cls(reader, writer)
        command_id, status, _seq, _body = await esme.read()
        assert (command_id, status) == (command | codec.RESPONSE_BIT, codec.ESME_ROK)
        return esme

    async def read(self) -> tuple[int, int, int, bytes]:
        length, command_id, status, seq = struct.unpack(">IIII", await self.reader.readexactly(16))
        return command_id, status, seq, await self.reader.readexactly(length - 16)

    async def deliver(self, seconds: float = 15.0) -> tuple[int, codec.ShortMessage]:
        """The next deliver_sm (its sequence and body); enquire_link answered on the way."""
        async with asyncio.timeout(seconds):
            while True:
                command_id, _status, seq, body = await self.read()
                if command_id == codec.ENQUIRE_LINK:
                    self.writer.write(codec.pdu(codec.ENQUIRE_LINK_RESP, 0, seq))
                elif command_id == codec.DELIVER_SM:
                    return seq, codec.decode_sm(body)

    def answer(self, seq: int, status: int = codec.ESME_ROK) -> None:
        self.writer.write(codec.pdu(codec.DELIVER_SM_RESP, status, seq, b"\x00"))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def until(predicate: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def mo_event(front: MoFront, text: str) -> StoredEvent:
    """The stored message.inbound event of the MO with ``text``, once the runtime has stored it."""
    found: list[StoredEvent] = []

    async def stored() -> bool:
        found[:] = [
            e
            for e in await front.runtime.events_page(None, 100)
            if e.inbound is not None and e.inbound.text == text
        ]
        return bool(found)

    await until(stored)
    [event] = found
    return event


async def test_gsm_and_cyrillic_mo_reach_the_receiver_of_the_accounts_prefix(mo_front: MoFront) -> None:
    esme = await Esme.bind(mo_front, "acme")
    try:
        for text, coding in (("Balance: 5€ @ 12:00", codec.DC_DEFAULT), ("Привет из Алматы", codec.DC_UCS2)):
            await mo_front.sim.send_mo(
                system_id="u", source="77019998877", destination="77015550001", text=text
            )
            seq, sm = await esme.deliver()
            assert (sm.esm_class, sm.data_coding, sm.registered_delivery) == (0, coding, 0)
            assert (sm.source_addr_ton, sm.source_addr) == (1, "77019998877")
            assert (sm.dest_addr_ton, sm.destination_addr) == (1, "77015550001")
            assert decode_payload(sm.short_message, sm.data_coding) == text
            esme.answer(seq)
            event = await mo_event(mo_front, text)
            assert event.target == front_target("acme")

        async def both_delivered() -> bool:
            events = [e for e in await mo_front.runtime.events_page(None, 100) if e.inbound is not None]
            return len(events) == 2 and {e.state for e in events} == {"delivered"}

        await until(both_delivered)
    finally:
        await esme.close()
    pump = mo_front.front.pump
    assert pump is not None and (pump.mo_sent, pump.mo_delivered, pump.sent) == (2, 2, 0)


async def test_our_client_reads_a_long_mo_from_message_payload(mo_front: MoFront) -> None:
    text = "Your code is 4711. " * 12  # 228 GSM-7 characters: more than one short_message
    trx = open_transport(mo_front.url(user="acme", mode="trx"))
    assert isinstance(trx, SmppTransport)
    await trx.open()
    try:
        await mo_front.sim.send_mo(
            system_id="u", source="+77019998877", destination="+77012223344", text=text, concat="udh8"
        )

        async def first() -> InboundMessage:
            async for m in trx.inbound():
                return m
            raise AssertionError("the transport closed")

        got = await asyncio.wait_for(first(), 15)
    finally:
        await trx.aclose()
    assert (got.source, got.destination, got.text, got.parts) == ("+77019998877", "+77012223344", text, 1)


async def test_an_mo_waits_for_a_receiver_that_binds_later_and_is_resent_until_answered(
    mo_front: MoFront,
) -> None:
    await mo_front.sim.send_mo(system_id="u", source="77019998877", destination="77025550001", text="held")
    event = await mo_event(mo_front, "held")
    assert event.target == front_target("billing") and event.state == "pending"
    tx = await Esme.bind(mo_front, "billing", codec.BIND_TRANSMITTER)  # a transmitter takes no deliver_sm
    await asyncio.sleep(0.6)  # three idle turns of the pump
    pump = mo_front.front.pump
    assert pump is not None and pump.mo_sent == 0
    first = await Esme.bind(mo_front, "billing")
    _seq, sm = await first.deliver()
    assert (sm.esm_class, sm.destination_addr, sm.short_message) == (0, "77025550001", b"held")
    await first.close()  # unanswered: the link dropped, so the MO is pending again at once
    second = await Esme.bind(mo_front, "billing", codec.BIND_TRANSCEIVER)
    try:
        seq, again = await second.deliver()
        assert again.short_message == b"held" and again.source_addr == "77019998877"
        second.answer(seq)

        async def delivered() -> bool:
            return (await mo_event(mo_front, "held")).state == "delivered"

        await until(delivered)
    finally:
        await second.close()
        await tx.close()
    assert (pump.mo_sent, pump.mo_delivered) == (2, 1)


async def test_an_mo_matching_no_prefix_goes_to_the_inbound_url_and_no_account(mo_front: MoFront) -> None:
    acme = await Esme.bind(mo_front, "acme", codec.BIND_TRANSCEIVER)
    billing = await Esme.bind(mo_front, "billing")
    try:
        await mo_front.sim.send_mo(
            system_id="u", source="77019998877", destination="88005550000", text="nobody"
        )
        stray = await mo_event(mo_front, "nobody")
        assert stray.target == CallbackTarget(INBOUND_URL) and stray.state == "pending"
        await mo_front.sim.send_mo(
            system_id="u", source="77019998877", destination="77015550001", text="acme"
        )
        seq, sm = await acme.deliver()
        assert sm.short_message == b"acme"  # the MO after the stray one: the stray one came to nobody
        acme.answer(seq)
        await until(lambda: _state(mo_front, "acme", "delivered"))
        assert await silent(billing, 0.5), "billing was sent something"
    finally:
        await acme.close()
        await billing.close()
    pump = mo_front.front.pump
    assert pump is not None and pump.mo_sent == 1
    assert (await mo_event(mo_front, "nobody")).state == "pending"  # left for the webhooks worker


async def _state(front: MoFront, text: str, state: str) -> bool:
    return (await mo_event(front, text)).state == state


async def silent(esme: Esme, seconds: float) -> bool:
    """Whether nothing at all arrives on ``esme``'s link for ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            await esme.reader.read(1)
    except TimeoutError:
        return True
    return False


async def test_serve_routes_mo_by_its_config_and_account_file(tmp_path: Path) -> None:
    """Building the front from its plan installs the router: ``[smpp_front.routes]`` and the accounts' own prefixes."""
    create_account(tmp_path / "msgbridge-smpp-users.toml", "acme", password="secret", mo=["7701"])
    create_account(tmp_path / "msgbridge-smpp-users.toml", "billing", password="secret")
    path = tmp_path / "msgbridge.toml"
    path.write_text(
        '[transports]\nmem = "memory://"\n[smpp_front]\nlisten = "127.0.0.1:0"\n'
        '[smpp_front.routes]\n"+7702" = "billing"\n',
        encoding="utf-8",
    )
    config = load_config(str(path), env={})
    runtime = Runtime(store=str(tmp_path / "serve.db"), transports={"mem": "memory://"})
    await runtime.start()
    plan = front_plan(config)
    assert plan is not None
    front = plan.build(runtime)
    await plan.listen(front)
    try:
        router = runtime.store.inbound_router
        assert front is not None and router is not None
        routed = {
            to: router(InboundMessage(source="+77019998877", destination=to, text="x"))
            for to in ("+77011234567", "77021234567", "88001234567")
        }
        assert routed == {
            "+77011234567": front_target("acme"),
            "77021234567": front_target("billing"),
            "88001234567": None,
        }
    finally:
        if front is not None:
            await front.stop()
        await runtime.drain(2.0)


async def test_an_mo_smpp_cannot_address_is_given_up_and_the_next_one_goes_through(mo_front: MoFront) -> None:
    esme = await Esme.bind(mo_front, "acme")
    try:
        bad = InboundMessage(source="1" * 30, destination="77015550001", text="too long a sender")
        await mo_front.runtime.store.add_inbound([bad])  # no SMSC sends this: put where the runtime puts MO
        await until(lambda: _state(mo_front, "too long a sender", "failed"))
        await mo_front.sim.send_mo(
            system_id="u", source="77019998877", destination="77015550001", text="next"
        )
        seq, sm = await esme.deliver()
        assert sm.short_message == b"next"
        esme.answer(seq)
    finally:
        await esme.close()
    failed = await mo_event(mo_front, "too long a sender")
    assert failed.last_error is not None and "deliver_sm" in failed.last_error


def smpplib_receive(port: int, count: int) -> list[tuple[int, int, str, str, bytes]]:
    """python-smpplib as the receiver: bind_receiver as acme, read until ``count`` deliver_sm are in (the
    library answers each with deliver_sm_resp itself); (esm_class, data_coding, source, destination, text)."""
    import smpplib.client
    import smpplib.command

    got: list[tuple[int, int, str, str, bytes]] = []
    client = smpplib.client.Client("127.0.0.1", port, timeout=15, allow_unknown_opt_params=True)

    def on_deliver(pdu: smpplib.command.DeliverSM) -> None:
        got.append(
            (
                pdu.esm_class,
                pdu.data_coding,
                pdu.source_addr.decode(),
                pdu.destination_addr.decode(),
                pdu.short_message,
            )
        )

    client.set_message_received_handler(on_deliver)
    client.connect()
    try:
        client.bind_receiver(system_id="acme", password="secret")
        while len(got) < count:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return got


async def test_smpplib_as_the_receiver_gets_mo_and_its_answers_end_the_resends(mo_front: MoFront) -> None:
    receiving = asyncio.create_task(
        asyncio.wait_for(asyncio.to_thread(smpplib_receive, mo_front.front.port, 2), 25)
    )

    async def bound() -> bool:
        return mo_front.front.health().binds.get("acme", {}).get("rx", 0) == 1

    await until(bound)
    texts = (("Balance: 5 EUR", codec.DC_DEFAULT), ("Привет", codec.DC_UCS2))
    for text, _coding in texts:
        await mo_front.sim.send_mo(system_id="u", source="77019998877", destination="77015550001", text=text)
    got = await receiving
    assert [(esm, dc, src, dst) for esm, dc, src, dst, _ in got] == [
        (0, coding, "77019998877", "77015550001") for _, coding in texts
    ]
    assert [decode_payload(body, dc) for _esm, dc, _s, _d, body in got] == [t for t, _ in texts]

    async def both_delivered() -> bool:
        events = [e for e in await mo_front.runtime.events_page(None, 100) if e.inbound is not None]
        return len(events) == 2 and {e.state for e in events} == {"delivered"}

    await until(both_delivered)
    pump = mo_front.front.pump
    assert pump is not None and (pump.mo_sent, pump.mo_delivered) == (2, 2)
