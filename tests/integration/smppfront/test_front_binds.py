"""Binds and links of the SMPP front over real sockets: TLS, ``--allow`` networks, the constant delay of a
refused bind, enquire_link both ways (and the half-open link closed, its receipts kept), unbind and the
PDUs a session's bind state does not allow, and a connection closed for not binding in time.

Each test starts its own front on the runtime of the ``fronts`` fixture, with a refused bind answered
after :data:`DELAY` rather than the second of production and, where the test is about keepalive, an
``enquire_link`` of a fraction of a second.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import take_receipts
from raw_esme import RawEsme, submit_sm
from tls_certs import self_signed

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.runtime import Runtime
from msgbridge.service.smppfront.accounts import AccountBook, create_account
from msgbridge.service.smppfront.server import MISSED_ENQUIRES, SmppFront
from msgbridge.smpp import codec

DELAY = 0.4  # seconds after which the fronts here answer a refused bind
SAME_DELAY = 0.15  # how far apart two refusals for different reasons may be answered


@dataclass
class Fronts:
    """A runtime on ``memory://`` and an account file; :meth:`start` listens with a front on port 0."""

    runtime: Runtime
    accounts: Path
    started: list[SmppFront] = field(default_factory=list)

    async def start(
        self, *, tls: ssl.SSLContext | None = None, enquire_link: float = 30.0, session_init: float = 30.0
    ) -> SmppFront:
        front = SmppFront(
            self.runtime,
            AccountBook(self.accounts),
            events=self.runtime.store,
            enquire_link=enquire_link,
            bind_fail_delay=DELAY,
            session_init=session_init,
        )
        await front.start("127.0.0.1", 0, tls=tls)
        self.started.append(front)
        return front


@pytest.fixture
async def fronts(tmp_path: Path) -> AsyncIterator[Fronts]:
    """acme binds from anywhere; inside only from 127.0.0.0/8; outside only from 10.0.0.0/8."""
    accounts = tmp_path / "smpp-users.toml"
    create_account(accounts, "acme", password="secret")
    create_account(accounts, "inside", password="secret", allow=["127.0.0.0/8"])
    create_account(accounts, "outside", password="secret", allow=["10.0.0.0/8"])
    runtime = Runtime(store=str(tmp_path / "binds.db"), transports={"mem": "memory://"})
    await runtime.start()
    fronts = Fronts(runtime, accounts)
    try:
        yield fronts
    finally:
        for front in fronts.started:
            await front.stop()
        await runtime.drain(2.0)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


async def connect(port: int, tls: ssl.SSLContext | None = None) -> RawEsme:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    return RawEsme(reader, writer)


async def bind(
    esme: RawEsme, system_id: str, password: str = "secret", command: int = codec.BIND_TRANSMITTER
) -> int:
    """The command_status of a bind sent on ``esme``."""
    esme.send(codec.pdu(command, 0, 1, codec.encode_bind(codec.Bind(system_id, password))))
    while True:
        command_id, status, seq, _ = await asyncio.wait_for(esme.pdu(), 5)
        if command_id != codec.ENQUIRE_LINK:  # a front with a short enquire_link may ask while it checks
            break
        esme.send(codec.pdu(codec.ENQUIRE_LINK_RESP, 0, seq))
    assert (command_id, seq) == (command | codec.RESPONSE_BIT, 1)
    return status


async def bound(port: int, system_id: str = "acme", command: int = codec.BIND_TRANSMITTER) -> RawEsme:
    esme = await connect(port)
    assert await bind(esme, system_id, command=command) == codec.ESME_ROK
    return esme


async def timed_bind(port: int, system_id: str, password: str) -> tuple[int, float]:
    """The command_status of a bind on a new connection and the seconds from its write to the answer."""
    esme = await connect(port)
    try:
        started = time.monotonic()
        status = await bind(esme, system_id, password)
        return status, time.monotonic() - started
    finally:
        esme.close()


async def until_closed(esme: RawEsme, seconds: float = 5.0) -> list[int]:
    """The command_ids the front writes until it ends the link (EOF or a reset) within ``seconds``."""
    seen: list[int] = []

    async def drain() -> None:
        while True:
            try:
                command_id, _, _, _ = await esme.pdu()
            except (asyncio.IncompleteReadError, ConnectionResetError):
                return
            seen.append(command_id)

    await asyncio.wait_for(drain(), seconds)
    return seen


async def until(predicate: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll the store: a message's status has no event a test could await."""
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# --- TLS ---------------------------------------------------------------------


async def test_an_esme_binds_and_submits_over_tls_and_plain_tcp_to_the_tls_front_does_not_bind(
    fronts: Fronts, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(str(cert), str(key))
    front = await fronts.start(tls=server_tls)
    assert front.scheme == "smpps"
    client_tls = ssl.create_default_context(cafile=str(cert))  # verifies the chain and 127.0.0.1
    esme = await connect(front.port, client_tls)
    try:
        assert await bind(esme, "acme") == codec.ESME_ROK
        esme.send(submit_sm(2, b"over tls"))
        command_id, status, seq, body = await asyncio.wait_for(esme.pdu(), 5)
        assert (command_id, status, seq) == (codec.SUBMIT_SM_RESP, codec.ESME_ROK, 2)
        record = await fronts.runtime.message(codec.decode_message_id(body).lower())
        assert record is not None and record.message.text == "over tls"
        assert front.health().binds == {"acme": {"tx": 1}}
    finally:
        esme.close()

    plain = await connect(front.port)
    try:
        plain.send(codec.pdu(codec.BIND_TRANSMITTER, 0, 1, codec.encode_bind(codec.Bind("acme", "secret"))))
        answer = await asyncio.wait_for(plain.reader.read(), 5)  # to EOF: the handshake failed
    except ConnectionResetError:
        answer = b""
    finally:
        plain.close()
    assert answer[4:8] != struct.pack(">I", codec.BIND_TRANSMITTER_RESP)  # a TLS alert at most
    assert front.health().binds == {}


# --- --allow -----------------------------------------------------------------


async def test_a_bind_from_outside_the_accounts_allowed_networks_is_refused_whatever_the_password(
    fronts: Fronts,
) -> None:
    front = await fronts.start()
    results = await asyncio.gather(
        timed_bind(front.port, "outside", "secret"),
        timed_bind(front.port, "outside", "wrong"),  # no ESME_RINVPASWD: no password oracle from outside
        timed_bind(front.port, "inside", "secret"),
    )
    (outside, outside_t), (guess, guess_t), (inside, _) = results
    assert (outside, guess, inside) == (codec.ESME_RBINDFAIL, codec.ESME_RBINDFAIL, codec.ESME_ROK)
    assert outside_t >= DELAY and guess_t >= DELAY
    assert front.health().bind_failures == 2


# --- the refused bind's delay -------------------------------------------------


async def test_a_wrong_password_and_an_unknown_system_id_are_answered_after_the_same_delay(
    fronts: Fronts,
) -> None:
    front = await fronts.start()
    (wrong, wrong_t), (unknown, unknown_t) = await asyncio.gather(
        timed_bind(front.port, "acme", "wrong"), timed_bind(front.port, "nobody", "secret")
    )
    assert (wrong, unknown) == (codec.ESME_RINVPASWD, codec.ESME_RINVSYSID)
    assert wrong_t >= DELAY and unknown_t >= DELAY
    assert abs(wrong_t - unknown_t) < SAME_DELAY, (wrong_t, unknown_t)
    right, right_t = await timed_bind(front.port, "acme", "secret")
    assert right == codec.ESME_ROK and right_t < DELAY  # the scrypt check only, no delay


# --- enquire_link ------------------------------------------------------------


async def test_the_esmes_enquire_link_is_answered_with_its_sequence_bound_or_not(fronts: Fronts) -> None:
    front = await fronts.start()
    unbound = await connect(front.port)
    esme = await bound(front.port)
    try:
        for link, seq in ((unbound, 41), (esme, 77)):
            link.send(codec.pdu(codec.ENQUIRE_LINK, 0, seq))
            answer = await asyncio.wait_for(link.pdu(), 5)
            assert answer == (codec.ENQUIRE_LINK_RESP, codec.ESME_ROK, seq, b"")
    finally:
        unbound.close()
        esme.close()


async def test_a_silent_esme_is_asked_and_kept_while_it_answers_and_closed_once_it_does_not(
    fronts: Fronts,
) -> None:
    interval = 0.2
    front = await fronts.start(enquire_link=interval)
    esme = await connect(front.port)
    try:
        last = time.monotonic()  # the front hears the bind from now on
        assert await bind(esme, "acme") == codec.ESME_ROK
        for _ in range(2):  # answered: the link stays and is asked again after the next silence
            command_id, _, seq, _ = await asyncio.wait_for(esme.pdu(), 5)
            assert command_id == codec.ENQUIRE_LINK
            assert time.monotonic() - last >= interval * 0.9
            esme.send(codec.pdu(codec.ENQUIRE_LINK_RESP, 0, seq))
            last = time.monotonic()
        assert front.health().binds == {"acme": {"tx": 1}}
        seen = await until_closed(esme)  # no answers now: a half-open link as the front sees it
    finally:
        esme.close()
    assert seen == [codec.ENQUIRE_LINK] * MISSED_ENQUIRES
    health = front.health()
    assert health.half_open_closed == 1 and health.sessions == 0


async def test_a_half_open_receivers_unanswered_receipts_go_to_the_next_receiver(fronts: Fronts) -> None:
    front = await fronts.start(enquire_link=0.3)
    tx = await bound(front.port)
    ids = []
    for seq in range(2, 5):
        tx.send(submit_sm(seq, b"held %d" % seq, registered_delivery=1))
        command_id, status, _, body = await asyncio.wait_for(tx.pdu(), 5)
        assert (command_id, status) == (codec.SUBMIT_SM_RESP, codec.ESME_ROK)
        ids.append(codec.decode_message_id(body).lower())
    tx.send(codec.pdu(codec.UNBIND, 0, 9))
    assert await until_closed(tx) == [codec.UNBIND_RESP]
    tx.close()

    async def delivered() -> bool:
        records = [await fronts.runtime.message(mid) for mid in ids]
        return all(r is not None and r.status is DeliveryStatus.DELIVERED for r in records)

    await until(delivered)  # the store holds their receipts before any receiver binds
    silent = await bound(front.port, command=codec.BIND_RECEIVER)
    try:
        seen = await until_closed(silent)  # it reads, and never answers a deliver_sm or an enquire_link
    finally:
        silent.close()
    assert seen.count(codec.DELIVER_SM) == 3 and seen.count(codec.ENQUIRE_LINK) == MISSED_ENQUIRES
    assert front.health().half_open_closed == 1 and front.health().receipts_acked == 0
    assert (await fronts.runtime.store.event_backlog()).pending >= 3  # back in the store, not lost

    # receipt_park: ids this client did not submit are emitted after 0.2 s, not the default 10
    url = f"smpp://acme:secret@127.0.0.1:{front.port}?mode=trx&bind_timeout=5&receipt_park=0.2"
    rx = open_transport(url)
    assert isinstance(rx, SmppTransport)
    await rx.open()
    try:
        got = await take_receipts(rx, lambda got: len({str(r.native_id).lower() for r in got}) == 3, 10)
    finally:
        await rx.aclose()
    assert {str(r.native_id).lower() for r in got} == set(ids)


# --- unbind and bind states ---------------------------------------------------


async def test_unbind_is_answered_and_the_front_closes_the_link(fronts: Fronts) -> None:
    front = await fronts.start()
    esme = await bound(front.port, command=codec.BIND_TRANSCEIVER)
    try:
        esme.send(codec.pdu(codec.UNBIND, 0, 5))
        assert await asyncio.wait_for(esme.pdu(), 5) == (codec.UNBIND_RESP, codec.ESME_ROK, 5, b"")
        assert await asyncio.wait_for(esme.reader.read(), 5) == b""
    finally:
        esme.close()
    assert front.health().sessions == 0


async def test_a_submit_before_bind_or_on_a_receiver_is_refused_invalid_bind_status(fronts: Fronts) -> None:
    front = await fronts.start()
    unbound = await connect(front.port)
    receiver = await bound(front.port, command=codec.BIND_RECEIVER)
    try:
        for esme in (unbound, receiver):
            esme.send(submit_sm(3))
            command_id, status, seq, _ = await asyncio.wait_for(esme.pdu(), 5)
            assert (command_id, status, seq) == (codec.SUBMIT_SM_RESP, codec.ESME_RINVBNDSTS, 3)
        receiver.send(
            codec.pdu(codec.BIND_TRANSMITTER, 0, 4, codec.encode_bind(codec.Bind("acme", "secret")))
        )
        command_id, status, seq, _ = await asyncio.wait_for(receiver.pdu(), 5)
        assert (command_id, status, seq) == (codec.BIND_TRANSMITTER_RESP, codec.ESME_RALYBND, 4)
    finally:
        unbound.close()
        receiver.close()
    assert front.health().refused == {codec.ESME_RINVBNDSTS: 2}
    assert sum((await fronts.runtime.queue_depth()).values()) == 0


async def test_a_connection_not_bound_within_session_init_is_closed_however_lively_it_is(fronts: Fronts) -> None:
    """SMPP 3.4 §7.2 session_init_timer: an unbound link is closed ``session_init`` after it connected,
    though it keeps the link busy with enquire_link and a refused bind; a link bound in time stays."""
    session_init = 1.2
    front = await fronts.start(session_init=session_init)
    idle = await connect(front.port)
    lively = await connect(front.port)
    refused = await connect(front.port)
    started = time.monotonic()
    esme = await bound(front.port)
    try:
        assert await bind(refused, "acme", "wrong") == codec.ESME_RINVPASWD

        async def chatter() -> None:
            seq = 1
            while True:
                lively.send(codec.pdu(codec.ENQUIRE_LINK, 0, seq))
                await lively.pdu()
                seq += 1
                await asyncio.sleep(0.1)

        task = asyncio.create_task(chatter())
        for link in (idle, refused):
            assert await until_closed(link, 5) == []
        with pytest.raises((asyncio.IncompleteReadError, ConnectionResetError)):
            await asyncio.wait_for(task, 5)
        closed_after = time.monotonic() - started
        assert session_init * 0.9 <= closed_after <= session_init + 1.5
        esme.send(codec.pdu(codec.ENQUIRE_LINK, 0, 9))
        assert await asyncio.wait_for(esme.pdu(), 5) == (codec.ENQUIRE_LINK_RESP, codec.ESME_ROK, 9, b"")
        health = front.health()
        assert health.unbound_closed == 3 and health.sessions == 1 and health.binds == {"acme": {"tx": 1}}
    finally:
        for link in (idle, lively, refused, esme):
            link.close()
