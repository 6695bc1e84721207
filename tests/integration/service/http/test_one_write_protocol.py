"""The protocol ``serve`` runs: every response whole and in order over real sockets, small or large, streamed,
pipelined, or followed by ``Connection: close``; and a response's writes of one loop turn reach the socket
as one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from api_helpers import http_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from msgbridge.service.http.protocol import FLUSH_BYTES, CoalescingTransport

LARGE = b"x" * (FLUSH_BYTES * 3 + 17)


async def small(request: Request) -> Response:
    return JSONResponse({"n": int(request.query_params.get("n", "0"))}, status_code=202)


async def large(request: Request) -> Response:
    return Response(LARGE, media_type="application/octet-stream")


async def streamed(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(50):
            yield f"chunk {i}\n".encode()
            if i % 10 == 0:
                await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="text/plain")


APP = Starlette(routes=[Route("/small", small), Route("/large", large), Route("/streamed", streamed)])


async def test_responses_arrive_whole() -> None:
    async with http_server(APP) as url, httpx.AsyncClient(base_url=url) as client:
        answers = await asyncio.gather(*(client.get("/small", params={"n": i}) for i in range(40)))
        assert [(a.status_code, a.json()["n"]) for a in answers] == [(202, i) for i in range(40)]
        big = await client.get("/large")
        assert big.content == LARGE
        text = (await client.get("/streamed")).text
        assert text == "".join(f"chunk {i}\n" for i in range(50))
        closing = await client.get("/small", params={"n": 7}, headers={"Connection": "close"})
        assert closing.json() == {"n": 7}


async def test_pipelined_requests_on_one_connection() -> None:
    async with http_server(APP) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(b"".join(f"GET /small?n={i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(5)))
            writer.write(b"GET /small?n=99 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = await reader.read()  # until the server closes, after the last answer
        finally:
            writer.close()
        bodies = [part.split(b"\r\n\r\n", 1)[1][:20] for part in data.split(b"HTTP/1.1 ")[1:]]
        assert [b.split(b"}")[0] + b"}" for b in bodies] == [
            f'{{"n":{i}}}'.encode() for i in (0, 1, 2, 3, 4, 99)
        ]


class Recorded(asyncio.Transport):
    """What reaches a socket's transport: the writes, and whether it was closed or aborted."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0


async def test_writes_of_one_turn_are_one_write() -> None:
    inner = Recorded()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert inner.writes == []
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}"]
    assert transport.get_write_buffer_size() == 0  # everything else is the socket's own


async def test_large_writes_go_at_once_and_close_flushes_first() -> None:
    inner = Recorded()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"h")
    transport.write(LARGE)
    assert inner.writes == [b"h" + LARGE]
    transport.write(b"last")
    transport.close()
    assert inner.writes[-1] == b"last" and inner.closed
    await asyncio.sleep(0)
    assert len(inner.writes) == 2  # the turn's end finds nothing more to write


async def test_abort_drops_what_waits() -> None:
    inner = Recorded()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"never")
    transport.abort()
    await asyncio.sleep(0)
    assert inner.writes == [] and inner.aborted
