"""Whatever a peer answers, every provider's send() and status() end in a classified result.

Each example is one raw HTTP answer (any status, odd headers, JSON shaped
like the provider's, HTML, garbage, nesting 100,000 deep, a wrong
Content-Length...) served from a real socket on port 0 to the real adapter:
the outcome must be a SendResult/DeliveryReceipt per the contract, or a
MessagingError carrying an ErrorCode, never anything else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from http_peers import PROVIDERS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgbridge.adapters.base import Transport, open_transport
from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus

MESSAGES = [Message(to="+77011234567", text="x"), Message(to="+77017654321", text="x")]
BSG_LOGIN = b'{"bearer":"a.e30.b"}'
ACCEPTED = {DeliveryStatus.SUBMITTED, DeliveryStatus.ACCEPTED, DeliveryStatus.QUEUED}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
# Field names the four adapters read, so generated objects reach past the first "is this a dict" check.
FIELDS = [
    "result", "error", "code", "warnings", "sms_id", "phone", "status", "data", "message", "errors", "id",
    "campaign_id", "reference_id", "error_code", "cnt", "messageId", "items", "bearer", "balance",
]  # fmt: skip
shaped = st.recursive(
    st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=5),
    lambda children: st.dictionaries(
        st.sampled_from(FIELDS), children | json_values | st.lists(children, max_size=3), max_size=5
    ),
    max_leaves=15,
)
json_bodies = st.one_of(shaped, json_values).map(lambda v: json.dumps(v).encode())
bodies = st.one_of(
    json_bodies,
    json_bodies.flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),  # cut short
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"[" * 100_000,
            b'{"a":' * 50_000,
            b"<html><body>502 Bad Gateway</body></html>",
            b"NaN",
            b'{"id": 1e999, "cnt": 1, "error_code": 1e999}',
            b"9" * 5000,
            b"0,-1",
            b"OK - 1 SMS, ID - 5",
            b"<error>x</error>",
        ]
    ),
)
statuses = st.one_of(
    st.sampled_from([200, 201, 204, 400, 401, 403, 404, 405, 408, 409, 422, 429, 500, 502, 503, 504]),
    st.integers(100, 599),
)
header_sets = st.lists(
    st.one_of(
        st.sampled_from(
            [
                ("Content-Type", "application/json"),
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Type", "text/html"),
                ("Content-Type", "text/plain; charset=windows-1251"),
                ("Content-Type", "text/plain; charset=no-such-charset"),
                ("Content-Encoding", "gzip"),
            ]
        ),
        st.sampled_from(
            ["0", "1", "999999", "inf", "nan", "-1", "1e999", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"]
        ).map(lambda v: ("Retry-After", v)),
    ),
    max_size=3,
)
length_errors = st.sampled_from([0, 0, 0, -1, 5])


def raw_response(status: int, headers: list[tuple[str, str]], body: bytes, length_error: int) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever", *(f"{k}: {v}" for k, v in headers)]
    lines += [f"Content-Length: {max(0, len(body) + length_error)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class FuzzPeer:
    """One raw socket server on port 0 answering ``answer`` to every request (a BSG login excepted).

    It runs on its own event loop, shared by all examples with one transport
    per provider, so an example costs a few requests and not a new client.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.answer = b""
        self.transports: dict[str, Transport] = {}
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            fields = (line.partition(b":") for line in head.split(b"\r\n"))
            length = next((int(v) for k, _, v in fields if k.lower() == b"content-length"), 0)
            await reader.readexactly(length)
            login = b"/api/auth/login" in head.split(b"\r\n", 1)[0]
            writer.write(raw_response(200, [], BSG_LOGIN, 0) if login else self.answer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        for name, provider in PROVIDERS.items():
            transport = open_transport(provider.url(base, "attempts=1&timeout=10&rate=0"))
            self.transports[name] = await transport.__aenter__()

    async def stop(self) -> None:
        for transport in self.transports.values():
            await transport.__aexit__(None, None, None)
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def exchange(self, name: str, answer: bytes) -> tuple[Any, Any]:
        """send() and status() of provider ``name`` against ``answer``."""
        self.answer = answer
        t = self.transports[name]
        sent = self.loop.run_until_complete(outcome(t.send(MESSAGES)))
        polled = self.loop.run_until_complete(outcome(t.status([PROVIDERS[name].native_id])))
        return sent, polled


@pytest.fixture(scope="module")
def peer() -> Iterator[FuzzPeer]:
    fuzz_peer = FuzzPeer()
    fuzz_peer.loop.run_until_complete(fuzz_peer.start())
    try:
        yield fuzz_peer
    finally:
        fuzz_peer.loop.run_until_complete(fuzz_peer.stop())
        fuzz_peer.loop.close()


async def outcome(call: Any) -> Any:
    """The call's result, or the MessagingError it raised: both are classified outcomes."""
    try:
        return await call
    except MessagingError as exc:
        return exc


def check_send(result: Any) -> None:
    if isinstance(result, MessagingError):
        assert isinstance(result.code, ErrorCode)
        return
    assert [r.message_id for r in result] == [m.id for m in MESSAGES]
    for r in result:
        assert isinstance(r, SendResult)
        if r.error is None:
            assert r.status in ACCEPTED, r
        else:
            assert isinstance(r.error.code, ErrorCode)
            assert r.status not in ACCEPTED, r


def check_status(result: Any) -> None:
    if isinstance(result, MessagingError):
        assert isinstance(result.code, ErrorCode)
        return
    assert isinstance(result, list) and all(isinstance(r, DeliveryReceipt) for r in result)


def fuzz(name: str) -> Any:
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(status=statuses, headers=header_sets, body=bodies, length_error=length_errors)
    def run(
        peer: FuzzPeer, status: int, headers: list[tuple[str, str]], body: bytes, length_error: int
    ) -> None:
        sent, polled = peer.exchange(name, raw_response(status, headers, body, length_error))
        check_send(sent)
        check_status(polled)

    return run


test_selzy_replies_are_always_classified = fuzz("selzy")
test_bsg_replies_are_always_classified = fuzz("bsg")
test_smsc_replies_are_always_classified = fuzz("smsc")
test_mobizon_replies_are_always_classified = fuzz("mobizon")
