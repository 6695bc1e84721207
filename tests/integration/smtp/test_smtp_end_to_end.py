"""Both directions together: our SMTP transport into our gateway, and the gateway out through SMPP."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from pathlib import Path

import aiosmtplib

from msgbridge.adapters.base import open_transport
from msgbridge.core.errors import ErrorCode
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.inbound.pump import DispatchPump
from msgbridge.inbound.smtp_gateway import GatewayConfig, SmtpGateway
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.sqlite import SqliteStore

DOMAIN = "sms.example.com"
LOCAL = (ipaddress.ip_network("127.0.0.0/8"),)


async def test_smtp_transport_in_sms_gateway_mode_feeds_our_gateway(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "gw.db") as store:
        gateway = SmtpGateway(GatewayConfig(domains=frozenset({DOMAIN}), port=0, allow=LOCAL), store)
        await gateway.start()
        url = f"smtp://127.0.0.1:{gateway.port}?tls=none&mode=sms-gateway&domain={DOMAIN}&from=app@example.org&group=10"
        try:
            async with open_transport(url) as t:
                results = await t.send(
                    [
                        Message(to="+77011234567", text="Hello over mail"),
                        Message(to="+77011234568", text="Hello over mail"),
                        Message(to="+77011234569", text="Too long " * 200),
                    ]
                )
        finally:
            await gateway.stop()
        ok1, ok2, too_long = results
        assert ok1.ok and ok2.ok
        # The gateway refused the 7-segment text at DATA: a per-message MESSAGE_TOO_LONG, from 550 5.2.3.
        assert too_long.error is not None and too_long.error.code is ErrorCode.MESSAGE_TOO_LONG
        assert too_long.error.native_code == "550 5.2.3"
        counts = await store.counts()
        assert counts == {DeliveryStatus.QUEUED: 2}


async def test_gateway_dispatches_through_smpp_to_the_simulator(tmp_path: Path) -> None:
    sim = SmscSimulator(users={"u": "p"}, dlr_delay_ms=5, seed=1)
    async with sim.serve("127.0.0.1", 0) as server, SqliteStore(tmp_path / "gw.db") as store:
        transport = open_transport(f"smpp://u:p@127.0.0.1:{server.port}")
        await transport.open()
        pump = DispatchPump(store, transport, idle=0.5)
        gateway = SmtpGateway(
            GatewayConfig(domains=frozenset({DOMAIN}), port=0, allow=LOCAL, default_sender="GW"),
            store,
            pump.wake,
        )
        await gateway.start()
        pump.start()
        try:
            errors, _ = await aiosmtplib.send(
                b"Subject: x\r\n\r\nYour code is 777\r\n",
                sender="app@example.org",
                recipients=[f"+77011234567@{DOMAIN}", f"+77011234568@{DOMAIN}"],
                hostname="127.0.0.1",
                port=gateway.port,
            )
            assert errors == {}
            deadline = time.monotonic() + 20
            while (await store.counts()).get(DeliveryStatus.DELIVERED, 0) < 2:
                assert time.monotonic() < deadline, await store.counts()
                await asyncio.sleep(0.02)
        finally:
            await gateway.stop()
            await pump.stop()
            await transport.aclose()
    submitted = sim.submitted
    assert sorted(s.destination for s in submitted) == ["77011234567", "77011234568"]
    assert {s.short_message for s in submitted} == {b"Your code is 777"}
