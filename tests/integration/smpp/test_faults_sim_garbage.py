"""The simulator itself survives whatever a client sends (hypothesis-generated), and keeps serving others."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.smpp import codec

COMMANDS = [*sorted(codec.COMMAND_NAMES), 0x00000F7F, codec.SUBMIT_SM_RESP, codec.DELIVER_SM_RESP, 0x80000F7F]

framed = st.tuples(
    st.sampled_from(COMMANDS), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF), st.binary(max_size=120)
).map(lambda t: codec.pdu(*t))
bad_length = st.tuples(st.integers(0, 15) | st.integers(codec.MAX_PDU_LENGTH + 1, 0xFFFFFFFF)).map(
    lambda t: codec.HEADER.pack(t[0], codec.SUBMIT_SM, 0, 1)
)
# well-framed PDUs first (each reaches its handler), then maybe one that breaks the framing for good
garbage = st.tuples(
    st.lists(framed, min_size=1, max_size=8),
    st.none() | bad_length | st.binary(min_size=1, max_size=80),
).map(lambda t: t[0] + ([t[1]] if t[1] is not None else []))


async def read_until(reader: asyncio.StreamReader, predicate: object, seconds: float = 20.0) -> bool:
    """Read frames until one matches (True) or the peer closes (False)."""
    buffer = bytearray()

    async def run() -> bool:
        while True:
            data = await reader.read(65536)
            if not data:
                return False
            buffer.extend(data)
            try:
                frames, used = codec.frames(buffer)
            except codec.CodecError:
                return False
            del buffer[:used]
            if any(predicate(f) for f in frames):  # type: ignore[operator]
                return True

    return await asyncio.wait_for(run(), seconds)


async def bind_and_submit(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(codec.pdu(codec.BIND_TRANSCEIVER, 0, 1, codec.encode_bind(codec.Bind("u", "p"))))
    body = codec.encode_sm(
        codec.ShortMessage(source_addr="Test", destination_addr="77011234567", short_message=b"ok")
    )
    writer.write(codec.pdu(codec.SUBMIT_SM, 0, 2, body))
    statuses: list[int] = []

    def answered(frame: tuple[int, int, int, bytes]) -> bool:
        if frame[0] == codec.SUBMIT_SM_RESP:
            statuses.append(frame[1])
            return True
        return False

    assert await read_until(reader, answered)
    writer.close()
    return statuses[0]


@settings(max_examples=200, deadline=None)
@given(junk=garbage, bind_first=st.booleans())
def test_simulator_survives_client_garbage(junk: list[bytes], bind_first: bool) -> None:
    async def scenario() -> None:
        errors: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
        sim = SmscSimulator(users={"u": "p"}, dlr_delay_ms=1, seed=1)
        async with sim.serve("127.0.0.1", 0):
            reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
            if bind_first:
                writer.write(codec.pdu(codec.BIND_TRANSCEIVER, 0, 1, codec.encode_bind(codec.Bind("u", "p"))))
            for chunk in junk:
                writer.write(chunk)
            # then a probe: either the session is still alive and answers it, or the simulator closed it
            writer.write(codec.pdu(codec.ENQUIRE_LINK, 0, 0x7FFFFFFE))
            try:
                await read_until(reader, lambda f: f[0] == codec.ENQUIRE_LINK_RESP and f[2] == 0x7FFFFFFE)
            except (ConnectionError, OSError):
                pass  # closed on us: allowed after garbage
            writer.close()
            _ = sim.submitted  # every accepted body decodes
            assert await bind_and_submit(sim.port) == 0  # and the next client is served normally
        assert not errors, errors

    asyncio.run(scenario())
