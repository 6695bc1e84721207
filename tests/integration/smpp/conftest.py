"""Shared SMPP fixtures: the SMSC simulator on a free port, and a bare-bytes ESME for simulator tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.smpp import codec

USERS = {"u": "p", "u2": "p2"}

Frame = tuple[int, int, int, bytes]


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    """Our SMSC simulator on 127.0.0.1, a free port, users u:p and u2:p2, receipts after 20 ms, all delivered.

    Knobs are attributes: set them in the test (``smsc.throttle_every = 3``); ``smsc.port`` is the port.
    """
    sim = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=1)
    async with sim.serve("127.0.0.1", 0):
        yield sim


class RawEsme:
    """A minimal client speaking PDUs as bytes, so simulator tests do not depend on the ESME under test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = bytearray()
        self.inbox: list[Frame] = []  # frames not taken yet
        self.arrived: list[Frame] = []  # every frame, in arrival order
        self.seq = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def send(self, command_id: int, body: bytes = b"", seq: int | None = None, status: int = 0) -> int:
        seq = self.next_seq() if seq is None else seq
        self.writer.write(codec.pdu(command_id, status, seq, body))
        return seq

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_frames(self) -> bool:
        """Read once; False at EOF."""
        data = await self.reader.read(65536)
        if not data:
            return False
        self.buffer += data
        got, used = codec.frames(self.buffer)
        del self.buffer[:used]
        self.inbox.extend(got)
        self.arrived.extend(got)
        return True

    async def wait_for(
        self, predicate: Callable[[Frame], bool], count: int = 1, seconds: float = 20.0
    ) -> list[Frame]:
        """Take ``count`` frames matching ``predicate`` from the inbox, reading until they arrive."""

        async def run() -> list[Frame]:
            while True:
                hits = [f for f in self.inbox if predicate(f)]
                if len(hits) >= count:
                    taken = hits[:count]
                    for f in taken:
                        self.inbox.remove(f)
                    return taken
                if not await self.read_frames():
                    raise ConnectionError(f"EOF with {len(hits)} of {count} frames")

        return await asyncio.wait_for(run(), seconds)

    async def response(self, seq: int, seconds: float = 20.0) -> Frame:
        return (await self.wait_for(lambda f: f[2] == seq and bool(f[0] & codec.RESPONSE_BIT), 1, seconds))[0]

    async def bind(
        self, system_id: str = "u", password: str = "p", command_id: int = codec.BIND_TRANSCEIVER
    ) -> int:
        seq = self.send(command_id, codec.encode_bind(codec.Bind(system_id, password)))
        return (await self.response(seq))[1]

    def submit(
        self,
        destination: str = "77011234567",
        text: bytes = b"hello",
        registered_delivery: int = 1,
        **fields: object,
    ) -> int:
        m = codec.ShortMessage(
            source_addr="Test",
            source_addr_ton=5,
            destination_addr=destination,
            short_message=text,
            registered_delivery=registered_delivery,
        )
        for name, value in fields.items():
            setattr(m, name, value)
        return self.send(codec.SUBMIT_SM, codec.encode_sm(m))

    async def eof(self, seconds: float = 20.0) -> bool:
        async def run() -> bool:
            while await self.read_frames():
                pass
            return True

        return await asyncio.wait_for(run(), seconds)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


@pytest.fixture
async def raw_esme(smsc: SmscSimulator) -> AsyncIterator[Callable[[], Awaitable[RawEsme]]]:
    """Factory of unbound RawEsme connections to the ``smsc`` fixture; closed after the test."""
    opened: list[RawEsme] = []

    async def connect() -> RawEsme:
        reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
        esme = RawEsme(reader, writer)
        opened.append(esme)
        return esme

    yield connect
    for esme in opened:
        await esme.close()
