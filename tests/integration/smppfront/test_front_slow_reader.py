"""A receiver that stops reading is dropped once its writes stayed paused for the front's ``slow_reader``
seconds, and what it had not acknowledged comes back, all of it, to its next bind.

The stuck receiver is a raw socket with a tiny SO_RCVBUF that never reads after its bind_resp: the
kernel buffers fill, the front's transport passes ``write_high`` and pauses writing, and the housekeeping
timer drops the link. The front runs with ``slow_reader=1`` and ``write_high=4096`` (defaults: 10 s,
256 KiB) and its end of that link with a small fixed SO_SNDBUF, so the test waits a second, not ten, and
needs hundreds of receipts, not tens of thousands.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from conftest import take_receipts

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.runtime import Runtime
from msgbridge.service.smppfront.accounts import AccountBook, create_account
from msgbridge.service.smppfront.server import SmppFront
from msgbridge.smpp import codec

N = 600  # receipts of ~170 octets: well past 4096 octets plus what the two kernels buffer


@pytest.fixture
async def impatient(tmp_path: Path) -> AsyncIterator[SmppFront]:
    """A front that drops a reader paused for one second, pausing at 4096 unwritten octets."""
    accounts = tmp_path / "smpp-users.toml"
    create_account(accounts, "acme", password="secret", window=50)
    runtime = Runtime(store=str(tmp_path / "slow.db"), transports={"mem": "memory://"})
    await runtime.start()
    front = SmppFront(runtime, AccountBook(accounts), events=runtime.store, slow_reader=1.0, write_high=4096)
    await front.start("127.0.0.1", 0)
    try:
        yield front
    finally:
        await front.stop()
        await runtime.drain(2.0)


async def stuck_receiver(port: int) -> socket.socket:
    """Bound as receiver over a socket with a tiny receive buffer; the caller never reads it again."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # before connect: it sets the TCP window
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(
        sock, codec.pdu(codec.BIND_RECEIVER, 0, 1, codec.encode_bind(codec.Bind("acme", "secret")))
    )
    resp = b""
    while len(resp) < 16 or len(resp) < int.from_bytes(resp[:4], "big"):
        chunk = await loop.sock_recv(sock, 4096)
        assert chunk, "closed before the bind_resp"
        resp += chunk
    assert int.from_bytes(resp[4:8], "big") == codec.BIND_RECEIVER_RESP
    assert int.from_bytes(resp[8:12], "big") == codec.ESME_ROK
    return sock


def pin_send_buffer(front: SmppFront) -> None:
    """The front's end of its one link gets a fixed, small kernel send buffer: on loopback Linux grows it
    up to ``tcp_wmem``'s maximum (4 MiB), which would swallow tens of thousands of receipts first."""
    [session] = front.sessions
    assert session.transport is not None
    session.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


async def until(predicate: Callable[[], bool], seconds: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def closed_by_peer(sock: socket.socket, seconds: float = 10.0) -> bool:
    """Whether the front ended the link: reading it to the end gives EOF or a reset, within ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), deadline - time.monotonic())
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        if not chunk:
            return True
    return False


async def test_a_receiver_that_stops_reading_is_dropped_and_its_next_bind_gets_every_receipt(
    impatient: SmppFront,
) -> None:
    port = impatient.port
    stuck = await stuck_receiver(port)
    pin_send_buffer(impatient)
    try:
        tx = open_transport(f"smpp://acme:secret@127.0.0.1:{port}?mode=tx&window=50&bind_timeout=5")
        await tx.open()
        try:
            results = await tx.send(
                [Message(to="+77011234567", sender="Shop", text=f"s{i}") for i in range(N)]
            )
        finally:
            await tx.aclose()
        ids = {str(r.native_id).lower() for r in results}
        assert len(ids) == N and all(r.status is DeliveryStatus.SUBMITTED for r in results)
        await until(
            lambda: impatient.health().slow_readers_dropped == 1, what="the slow reader to be dropped"
        )
        # the stuck link is gone and the transmitter unbound (its close is seen a loop turn or more later)
        await until(lambda: impatient.health().sessions == 0, what="both links to be closed")
        assert impatient.health().receipts_acked == 0
        assert await closed_by_peer(stuck)
    finally:
        stuck.close()
    rx = open_transport(f"smpp://acme:secret@127.0.0.1:{port}?mode=tx+rx&bind_timeout=5&receipt_park=0.2")
    assert isinstance(rx, SmppTransport)
    await rx.open()
    try:
        got = await take_receipts(rx, lambda got: {str(r.native_id).lower() for r in got} >= ids, 60)
        assert all(r.status is DeliveryStatus.DELIVERED for r in got)
        assert {str(r.native_id).lower() for r in got} == ids
        await until(lambda: impatient.health().receipts_delivered == N, what="every receipt acked")
    finally:
        await rx.aclose()
    assert impatient.health().slow_readers_dropped == 1
