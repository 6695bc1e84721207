"""A hand-driven ESME for the front's operational tests: PDUs written and read over a plain socket, so a test
decides exactly what the front sees (a burst in one write, a submit on a receiver, a reader that stops)."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from msgbridge.smpp import codec


@dataclass
class RawEsme:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def pdu(self) -> tuple[int, int, int, bytes]:
        """The next PDU: command_id, command_status, sequence, body."""
        length, command_id, status, seq = struct.unpack(">IIII", await self.reader.readexactly(16))
        return command_id, status, seq, await self.reader.readexactly(length - 16)

    def send(self, *pdus: bytes) -> None:
        self.writer.write(b"".join(pdus))

    def close(self) -> None:
        self.writer.close()


async def raw_esme(
    port: int, system_id: str, password: str, command: int = codec.BIND_TRANSMITTER
) -> RawEsme:
    """Connected and bound (the bind must succeed: a refused one is answered only a second later)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    esme = RawEsme(reader, writer)
    esme.send(codec.pdu(command, 0, 1, codec.encode_bind(codec.Bind(system_id, password))))
    command_id, status, _, _ = await esme.pdu()
    assert (command_id, status) == (command | codec.RESPONSE_BIT, codec.ESME_ROK)
    return esme


def submit_sm(seq: int, text: bytes = b"hi", registered_delivery: int = 0) -> bytes:
    body = codec.encode_sm(
        codec.ShortMessage(
            source_addr="Shop",
            destination_addr="77011234567",
            short_message=text,
            registered_delivery=registered_delivery,
        )
    )
    return codec.pdu(codec.SUBMIT_SM, 0, seq, body)
