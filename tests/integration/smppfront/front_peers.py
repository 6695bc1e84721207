"""What the interop tests share: the SMPP server the independent ESMEs bind to, and a dlr-url receiver.

``target`` is that server as a host, a port and an account, plus what it
took; it runs twice: msgbridge's SMPP front (relaying to the SMSC simulator,
whose receipts come back to the ESME) and, as the reference the ESMEs are
known to work with, the SMSC simulator itself. Test modules import the
fixtures (``target_fixture``, ``dlr_receiver_fixture``) to use them.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from msgbridge.service.runtime import Runtime
from msgbridge.service.smppfront.accounts import AccountBook, create_account
from msgbridge.service.smppfront.server import SmppFront
from msgbridge.simulators.smsc import SmscSimulator


@dataclass
class Target:
    host: str
    port: int
    system_id: str
    password: str
    submitted: Callable[[], list[bytes]]  # short_message of every submit_sm that reached the SMSC, in order
    knows: Callable[[list[str]], Awaitable[bool]]  # whether these submit_sm_resp ids are the server's own


class DlrReceiver:
    """An HTTP server on a free loopback port recording the query of every GET (Kannel's dlr-url calls)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                with receiver.arrived:
                    receiver.calls.append(query)
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, predicate: Callable[[list[dict[str, str]]], bool], timeout: float) -> list[dict[str, str]]:
        with self.arrived:
            self.arrived.wait_for(lambda: predicate(self.calls), timeout)
            return list(self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def udh_parts(text: str, ref: int, size: int = 153) -> list[bytes]:
    """``text`` (GSM-7 basic characters only) as concatenated parts, each behind an 8-bit reference UDH.

    Written out here rather than taken from an ESME library so every client sends the same bytes.
    """
    data = text.encode("ascii")
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return [bytes([5, 0, 3, ref, len(chunks), n]) + c for n, c in enumerate(chunks, 1)]


@pytest.fixture(name="target", params=["front", "simulator"])
async def target_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    """The front (account acme, relaying to the simulator), or the simulator alone (account u:p).

    The simulator answers every submit_sm and sends a DELIVRD receipt 20 ms later (intermediate states
    may come first).
    """
    sim = SmscSimulator(users={"u": "p"}, dlr_delay_ms=20, seed=1)
    async with sim.serve("127.0.0.1", 0):

        def submitted() -> list[bytes]:
            return [s.short_message for s in sim.submitted]

        if request.param == "simulator":

            async def sim_knows(ids: list[str]) -> bool:
                return ids == [s.message_id for s in sim.submitted]

            yield Target("127.0.0.1", sim.port, "u", "p", submitted, sim_knows)
            return
        accounts = tmp_path / "smpp-users.toml"
        create_account(accounts, "acme", password="secret", transports=["sim"], window=50)
        runtime = Runtime(
            store=str(tmp_path / "front.db"), transports={"sim": f"smpp://u:p@127.0.0.1:{sim.port}"}
        )
        await runtime.start()
        front = SmppFront(runtime, AccountBook(accounts), events=runtime.store)
        await front.start("127.0.0.1", 0)

        async def front_knows(ids: list[str]) -> bool:
            return all([await runtime.message(i.lower()) is not None for i in ids])

        try:
            yield Target("127.0.0.1", front.port, "acme", "secret", submitted, front_knows)
        finally:
            await front.stop()
            await runtime.drain(2.0)


@pytest.fixture(name="dlr_receiver")
def dlr_receiver_fixture() -> Iterator[DlrReceiver]:
    receiver = DlrReceiver()
    yield receiver
    receiver.close()
