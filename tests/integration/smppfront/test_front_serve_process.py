"""``msgbridge serve`` with ``[smpp_front]`` as a process: an OK submit_sm_resp survives a kill -9 before the
upstream send (the restarted server sends each message once, to the SMSC simulator), and the receipts come
back to a receiver bound after the restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import take_receipts

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.message import DeliveryReceipt, Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.apikeys import create_key
from msgbridge.service.smppfront.accounts import create_account
from msgbridge.simulators.smsc.process import SimulatorProcess

ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("MSGBRIDGE_")}, "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """One ``msgbridge serve`` child; the SMPP front's port from its ``smpp listening on`` line."""

    def __init__(self, config: Path) -> None:
        self.err = config.with_name(f"serve-{time.monotonic_ns()}.err").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "msgbridge", "serve", "--config", str(config)],
            stdout=subprocess.PIPE, stderr=self.err, text=True, env=ENV,
        )  # fmt: skip
        assert self.proc.stdout is not None
        http, smpp = self.proc.stdout.readline(), self.proc.stdout.readline()
        if not http.startswith("listening on http://") or not smpp.startswith("smpp listening on smpp://"):
            self.kill()
            raise AssertionError(http + smpp)
        self.smpp_port = int(smpp.rsplit(":", 1)[1])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self.err.close()


def statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db, timeout=30) as conn:
        return dict(conn.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall())


async def submit(port: int, n: int) -> list[str]:
    t = open_transport(f"smpp://acme:secret@127.0.0.1:{port}?mode=tx&window=50")
    await t.open()
    try:
        results = await t.send(
            [Message(to=f"+7701{i:07d}", sender="Shop", text=f"kill {i}") for i in range(n)]
        )
    finally:
        await t.aclose()
    assert all(r.status is DeliveryStatus.SUBMITTED and r.native_id for r in results), results
    return [str(r.native_id).lower() for r in results]


async def receipts(port: int, n: int) -> list[DeliveryReceipt]:
    t = open_transport(f"smpp://acme:secret@127.0.0.1:{port}?mode=trx")
    assert isinstance(t, SmppTransport)
    await t.open()
    try:
        return await take_receipts(t, lambda got: len(got) >= n, 60)
    finally:
        await t.aclose()


def test_kill_9_after_submit_sm_resp_loses_nothing_and_receipts_come_back(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "serve.db"
    config = tmp_path / "msgbridge.toml"
    config.write_text(
        f'[store]\npath = "{db}"\n'
        f'[transports]\nsms = "smpp://u:p@127.0.0.1:{port}?window=20&reconnect_wait=0.2"\n'
        '[serve]\nlisten = "127.0.0.1:0"\n[smpp_front]\nlisten = "127.0.0.1:0"\n',
        encoding="utf-8",
    )
    create_account(tmp_path / "msgbridge-smpp-users.toml", "acme", password="secret")
    create_key(tmp_path / "msgbridge-keys.toml", "app")
    n = 50
    server = Serve(config)  # the SMSC is down: nothing can be sent upstream before the kill
    try:
        ids = asyncio.run(submit(server.smpp_port, n))
        os.kill(server.proc.pid, signal.SIGKILL)
    finally:
        server.kill()
    assert statuses(db) == {"QUEUED": n}  # every OK resp is in the store
    with SimulatorProcess("--users", "u:p", "--dlr-delay-ms", "10", "--port", str(port)) as sim:
        server = Serve(config)
        try:
            got = asyncio.run(receipts(server.smpp_port, n))
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(60) == 0
        finally:
            server.kill()
        counters = sim.counters()
    assert counters["submit_sm_ok"] == counters["destinations"] == n  # each sent exactly once
    assert statuses(db) == {"DELIVERED": n}
    assert sorted(str(r.native_id).lower() for r in got) == sorted(ids)
    assert all(r.status is DeliveryStatus.DELIVERED for r in got)
