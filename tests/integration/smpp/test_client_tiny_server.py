"""The ESME against a few lines of asyncio server, for bind answers our simulator does not give."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from smpp_helpers import messages

from msgbridge.adapters.base import open_transport
from msgbridge.core.errors import AuthError, ErrorCode, TransportError
from msgbridge.smpp import codec

Answer = Callable[[int, int, bytes], bytes | None]


@asynccontextmanager
async def tiny_smsc(answer: Answer) -> AsyncIterator[int]:
    """A server that frames PDUs and replies with whatever ``answer(command_id, seq, body)`` returns."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = bytearray()
        try:
            while data := await reader.read(65536):
                buf += data
                pdus, used = codec.frames(buf)
                del buf[:used]
                for command_id, _status, seq, body in pdus:
                    reply = answer(command_id, seq, body)
                    if reply:
                        writer.write(reply)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def bind_then_ok(bind_status: int) -> Answer:
    def answer(command_id: int, seq: int, body: bytes) -> bytes | None:
        if command_id in codec.BIND_COMMANDS:
            return codec.pdu(
                command_id | codec.RESPONSE_BIT, bind_status, seq, codec.encode_bind_resp("tiny")
            )
        if command_id == codec.SUBMIT_SM:
            return codec.pdu(codec.SUBMIT_SM_RESP, 0, seq, codec.encode_message_id(f"{seq:08X}"))
        if command_id == codec.UNBIND:
            return codec.pdu(codec.UNBIND_RESP, 0, seq)
        return None

    return answer


async def test_already_bound_counts_as_bound() -> None:
    async with (
        tiny_smsc(bind_then_ok(codec.ESME_RALYBND)) as port,
        open_transport(f"smpp://u:p@127.0.0.1:{port}") as t,
    ):
        [r] = await t.send(messages(1))
    assert r.ok and r.native_id == "2"  # "00000002", the submit_sm after the bind, normalised


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (codec.ESME_RBINDFAIL, TransportError, ErrorCode.TEMPORARY_FAILURE),
        (0x53, AuthError, ErrorCode.AUTH_FAILED),  # ESME_RINVSYSTYP
    ],
)
async def test_bind_refusals(status: int, error: type[Exception], code: ErrorCode) -> None:
    async with tiny_smsc(bind_then_ok(status)) as port:
        t = open_transport(f"smpp://u:p@127.0.0.1:{port}?system_type=bad")
        with pytest.raises(error) as info:
            await t.open()
        assert info.type is error
        assert info.value.code is code  # type: ignore[attr-defined]


async def test_bind_without_answer_times_out() -> None:
    async with tiny_smsc(lambda command_id, seq, body: None) as port:
        t = open_transport(f"smpp://u:p@127.0.0.1:{port}?bind_timeout=0.2")
        with pytest.raises(TransportError):
            await t.open()


async def test_a_bind_timeout_says_what_timed_out_and_after_how_long() -> None:
    async with tiny_smsc(lambda command_id, seq, body: None) as port:
        t = open_transport(f"smpp://u:p@127.0.0.1:{port}?bind_timeout=0.2")
        with pytest.raises(TransportError) as info:
            await t.open()
    assert str(info.value) == (
        f"cannot bind to 127.0.0.1:{port} as 'u': TimeoutError: no bind_transceiver_resp within bind_timeout=0.2 s"
    )


async def test_a_framing_error_during_the_bind_names_the_bind_and_the_framing_error() -> None:
    def garbage(command_id: int, seq: int, body: bytes) -> bytes | None:
        # a header whose command_length (5) is shorter than the header itself
        return (
            codec.HEADER.pack(5, command_id | codec.RESPONSE_BIT, 0, seq)
            if command_id in codec.BIND_COMMANDS
            else None
        )

    async with tiny_smsc(garbage) as port:
        t = open_transport(f"smpp://u:p@127.0.0.1:{port}?mode=tx")
        with pytest.raises(TransportError) as info:
            await t.open()
    message = str(info.value)
    assert message.startswith(
        f"cannot bind to 127.0.0.1:{port} as 'u': link lost before bind_transmitter_resp"
    )
    assert "framing error: command_length 5 outside [16, " in message
    assert "submit_sm" not in message
