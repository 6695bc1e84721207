"""The front's links over real sockets: TLS, who may bind and how refusals are answered, enquire_link both
ways, a half-open link closed, unbind, and commands on a session not bound for them."""

from __future__ import annotations

import asyncio
import ssl
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import Front, front_over
from raw_esme import RawEsme, submit_sm
from tls_certs import self_signed

from msgbridge.service.smppfront.accounts import create_account
from msgbridge.service.smppfront.server import MISSED_ENQUIRES
from msgbridge.service.smppfront.session import BIND_FAIL_DELAY
from msgbridge.smpp import codec

ENQUIRE = 0.3  # the front's enquire_link interval in these tests


def accounts_in(folder: Path) -> Path:
    accounts = folder / "smpp-users.toml"
    create_account(accounts, "acme", password="secret")
    create_account(accounts, "office", password="secret", allow=["10.0.0.0/8"])
    create_account(accounts, "local", password="secret", allow=["127.0.0.0/8"])
    return accounts


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Front]:
    async with front_over(tmp_path, accounts_in(tmp_path), {"mem": "memory://"}, enquire_link=ENQUIRE) as s:
        yield s


async def bind(
    port: int, system_id: str, password: str, command: int = codec.BIND_TRANSMITTER
) -> tuple[int, float, RawEsme]:
    """(command_status, seconds to the answer, the link) of one bind."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    esme = RawEsme(reader, writer)
    started = time.monotonic()
    esme.send(codec.pdu(command, 0, 1, codec.encode_bind(codec.Bind(system_id, password))))
    while True:
        command_id, status, seq, _ = await asyncio.wait_for(esme.pdu(), 10)
        if command_id != codec.ENQUIRE_LINK:  # the front asks a link silent for ENQUIRE s, bound or not
            break
        esme.send(codec.pdu(codec.ENQUIRE_LINK_RESP, 0, seq))
    assert (command_id, seq) == (command | codec.RESPONSE_BIT, 1)
    return status, time.monotonic() - started, esme


async def bound(port: int, system_id: str, command: int = codec.BIND_TRANSMITTER) -> RawEsme:
    status, _, esme = await bind(port, system_id, "secret", command)
    assert status == codec.ESME_ROK
    return esme


async def test_every_refused_bind_is_answered_after_the_same_delay_whatever_the_reason(served: Front) -> None:
    port = served.front.port
    refused = await asyncio.gather(
        bind(port, "acme", "wrong"),  # wrong password
        bind(port, "nobody", "secret"),  # unknown system_id
        bind(port, "office", "secret"),  # right password, from outside its --allow
    )
    accepted = await bind(port, "local", "secret")  # inside its --allow
    for _, _, esme in [*refused, accepted]:
        esme.close()
    assert [status for status, _, _ in refused] == [
        codec.ESME_RINVPASWD,
        codec.ESME_RINVSYSID,
        codec.ESME_RBINDFAIL,
    ]
    waits = [seconds for _, seconds, _ in refused]
    assert all(w >= BIND_FAIL_DELAY - 0.05 for w in waits), waits
    assert max(waits) - min(waits) < 0.5, waits  # nothing tells the reasons apart by timing
    assert accepted[0] == codec.ESME_ROK and accepted[1] < BIND_FAIL_DELAY / 2
    assert served.front.health().bind_failures == 3


async def test_a_tls_front_binds_over_tls_and_a_plain_connection_gets_no_bind(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(cert), str(key))
    async with front_over(
        tmp_path, accounts_in(tmp_path), {"mem": "memory://"}, tls=server_ctx, enquire_link=ENQUIRE
    ) as served:
        assert served.front.scheme == "smpps"
        client_ctx = ssl.create_default_context(cafile=str(cert))
        reader, writer = await asyncio.open_connection("127.0.0.1", served.front.port, ssl=client_ctx)
        esme = RawEsme(reader, writer)
        esme.send(codec.pdu(codec.BIND_TRANSMITTER, 0, 1, codec.encode_bind(codec.Bind("acme", "secret"))))
        command_id, status, _, _ = await asyncio.wait_for(esme.pdu(), 10)
        assert (command_id, status) == (codec.BIND_TRANSMITTER_RESP, codec.ESME_ROK)
        esme.send(submit_sm(2, b"over tls"))
        command_id, status, seq, body = await asyncio.wait_for(esme.pdu(), 10)
        assert (command_id, status, seq) == (codec.SUBMIT_SM_RESP, codec.ESME_ROK, 2)
        record = await served.runtime.message(codec.decode_message_id(body).lower())
        assert record is not None and record.message.text == "over tls"
        esme.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", served.front.port)
        writer.write(codec.pdu(codec.BIND_TRANSMITTER, 0, 1, codec.encode_bind(codec.Bind("acme", "secret"))))
        try:
            got = await asyncio.wait_for(reader.read(16), 10)
        except ConnectionError:
            got = b""
        writer.close()
        # what comes back, if anything, is a TLS alert, never a bind_resp
        assert len(got) < 16 or struct.unpack(">I", got[4:8])[0] != codec.BIND_TRANSMITTER_RESP


async def test_enquire_link_from_the_esme_is_answered_and_the_front_asks_a_silent_one(served: Front) -> None:
    esme = await bound(served.front.port, "acme")
    try:
        esme.send(codec.pdu(codec.ENQUIRE_LINK, 0, 41))
        assert (await asyncio.wait_for(esme.pdu(), 5))[:3] == (codec.ENQUIRE_LINK_RESP, codec.ESME_ROK, 41)
        for _ in range(2):  # silent: the front asks; answered: the link stays up and it asks again later
            command_id, _, seq, _ = await asyncio.wait_for(esme.pdu(), 5)
            assert command_id == codec.ENQUIRE_LINK
            esme.send(codec.pdu(codec.ENQUIRE_LINK_RESP, 0, seq))
        esme.send(submit_sm(2, b"still up"))
        command_id, status, seq, _ = await asyncio.wait_for(esme.pdu(), 5)
        assert (command_id, status, seq) == (codec.SUBMIT_SM_RESP, codec.ESME_ROK, 2)
    finally:
        esme.close()
    assert served.front.health().half_open_closed == 0


async def test_a_link_that_leaves_the_front_s_enquire_links_unanswered_is_closed(served: Front) -> None:
    esme = await bound(served.front.port, "acme", codec.BIND_RECEIVER)
    asked = 0
    try:
        while True:  # read, never answer, until the front closes the link
            try:
                command_id, _, _, _ = await asyncio.wait_for(esme.pdu(), 10)
            except asyncio.IncompleteReadError:
                break
            assert command_id == codec.ENQUIRE_LINK
            asked += 1
    finally:
        esme.close()
    assert asked == MISSED_ENQUIRES
    assert served.front.health().half_open_closed == 1
    assert served.front.health().sessions == 0


async def test_unbind_is_answered_and_the_link_closed(served: Front) -> None:
    esme = await bound(served.front.port, "acme")
    esme.send(codec.pdu(codec.UNBIND, 0, 9))
    assert (await asyncio.wait_for(esme.pdu(), 5))[:3] == (codec.UNBIND_RESP, codec.ESME_ROK, 9)
    assert await asyncio.wait_for(esme.reader.read(), 5) == b""
    esme.close()


async def test_a_submit_before_bind_or_on_a_receiver_is_refused_with_the_bind_status(served: Front) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.front.port)
    unbound = RawEsme(reader, writer)
    receiver = await bound(served.front.port, "acme", codec.BIND_RECEIVER)
    try:
        for esme in (unbound, receiver):
            esme.send(submit_sm(5, b"not here"))
            command_id, status, seq, _ = await asyncio.wait_for(esme.pdu(), 5)
            assert (command_id, status, seq) == (codec.SUBMIT_SM_RESP, codec.ESME_RINVBNDSTS, 5)
    finally:
        unbound.close()
        receiver.close()
    assert sum((await served.runtime.queue_depth()).values()) == 0
