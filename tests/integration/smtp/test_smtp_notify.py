"""Status mails back to the sender of a gateway mail."""

from __future__ import annotations

import asyncio
import email
import ipaddress
import time
from email.policy import default as default_policy
from pathlib import Path

import aiosmtplib
from smtp_helpers import RecordingHandler

from msgbridge.adapters.base import open_transport
from msgbridge.inbound.notify import StatusNotifier
from msgbridge.inbound.pump import DispatchPump
from msgbridge.inbound.smtp_gateway import GatewayConfig, SmtpGateway
from msgbridge.store.sqlite import SqliteStore

DOMAIN = "sms.example.com"
LOCAL = (ipaddress.ip_network("127.0.0.0/8"),)


async def run_gateway(
    tmp_path: Path, upstream_port: int, via: str, notify_after: float, senders: list[str]
) -> StatusNotifier:
    async with SqliteStore(tmp_path / "gw.db") as store:
        transport = open_transport(via)
        mailer = open_transport(f"smtp://127.0.0.1:{upstream_port}?tls=none")
        pump = DispatchPump(store, transport, idle=0.2)
        notifier = StatusNotifier(
            store, mailer, sender="postmaster@sms.example.com", notify_after=notify_after, interval=0.05
        )
        gateway = SmtpGateway(
            GatewayConfig(domains=frozenset({DOMAIN}), port=0, allow=LOCAL), store, pump.wake, notifier.track
        )
        await transport.open()
        await gateway.start()
        pump.start()
        notifier.start()
        try:
            for n, sender in enumerate(senders):
                client = aiosmtplib.SMTP(hostname="127.0.0.1", port=gateway.port, start_tls=False)
                await client.connect()
                await client.mail(sender)  # "" is the null sender <>
                for phone in ("+77011234567", "+77011234568"):
                    await client.rcpt(f"{phone}@{DOMAIN}")
                await client.data(f"Subject: s\r\nMessage-ID: <n{n}@x>\r\n\r\nhello\r\n".encode())
                await client.quit()
            deadline = time.monotonic() + 20
            expected = sum(1 for s in senders if s)
            while notifier.pending or notifier.sent + notifier.failed < expected:
                assert time.monotonic() < deadline, "no status mail"
                await asyncio.sleep(0.02)
        finally:
            await gateway.stop()
            await notifier.stop()
            await pump.stop()
            await transport.aclose()
            await mailer.aclose()
    return notifier


async def test_sender_is_told_what_happened_to_each_sms(upstream_factory, tmp_path: Path) -> None:
    up = await upstream_factory(RecordingHandler())
    notifier = await run_gateway(
        tmp_path, up.port, "memory://?dlr_delay_ms=1&fail=%2B77011234568", 600.0, ["", "alice@example.org"]
    )
    assert (notifier.sent, notifier.failed, notifier.pending) == (
        1,
        0,
        0,
    )  # the null sender <> is not tracked
    [mail] = up.handler.mails
    assert mail.rcpt_tos == ["alice@example.org"]
    parsed = email.message_from_bytes(mail.content, policy=default_policy)
    assert parsed["Subject"] == "SMS status: 1 delivered, 1 rejected"
    body = parsed.get_content()
    assert "+77011234567: DELIVERED" in body
    assert "+77011234568: REJECTED (INVALID_DESTINATION" in body


async def test_without_receipts_the_sender_hears_after_the_wait(upstream_factory, tmp_path: Path) -> None:
    up = await upstream_factory(RecordingHandler())
    await run_gateway(tmp_path, up.port, "memory://?dlr=no", 0.3, ["bob@example.org"])
    [mail] = up.handler.mails
    parsed = email.message_from_bytes(mail.content, policy=default_policy)
    assert parsed["Subject"] == "SMS status: 2 submitted"
