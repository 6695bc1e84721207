"""The submit forms the front claims, over a real socket with hand-built PDUs: data_sm, submit_multi (with
its unsuccess_sme list), long messages by SAR TLVs, 16-bit UDH and message_payload, and registered_delivery
row by row (final, failure only, intermediate), each receipt read as the ESME reads it: a deliver_sm.

The runtime has three ``memory://`` transports, one per outcome, and one account on each: what an account
submits is DELIVERED, UNDELIVERABLE or REJECTED by the receipt its transport pushes."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Front, front_over
from raw_esme import RawEsme, raw_esme

from msgbridge.adapters.memory import MemoryTransport
from msgbridge.core.errors import ErrorCode
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.contract import Accepted, Gateway, Submission
from msgbridge.service.runtime import NotAccepting
from msgbridge.service.smppfront.accounts import create_account
from msgbridge.service.smppfront.status import COMMAND_STATUS
from msgbridge.smpp import codec
from msgbridge.smpp.receipt_text import parse_text
from msgbridge.store.base import PENDING, SKIPPED

SECONDS = 10.0  # what any one awaited answer may take before the test fails
TO = "77011234567"
OUTCOMES = {"acme": "mem", "undeliv": "undeliv", "reject": "reject"}  # account -> its transport
ESME_RINVDSTADR = 0x0B


@pytest.fixture
async def forms(tmp_path: Path) -> AsyncIterator[Front]:
    accounts = tmp_path / "smpp-users.toml"
    for system_id, transport in OUTCOMES.items():
        create_account(accounts, system_id, password="secret", transports=[transport])
    transports = {
        "mem": "memory://",
        "undeliv": "memory://?mix=undeliverable:1",
        "reject": "memory://?mix=rejected:1",
    }
    async with front_over(tmp_path, accounts, transports) as served:
        yield served


@dataclass(frozen=True, slots=True)
class Receipt:
    """One deliver_sm receipt as an ESME reads it."""

    message_id: str  # receipted_message_id
    state: int  # message_state
    stat: str  # the stat: word of the text
    source: str  # the destination of the message it reports on


@dataclass
class Esme:
    """A bound transceiver: one task reads every PDU, answers each deliver_sm OK and queues its receipt, and
    hands each response to whoever waits for its sequence number, so receipts may come at any point."""

    raw: RawEsme
    receipts: asyncio.Queue[Receipt] = field(default_factory=asyncio.Queue)
    waiting: dict[int, asyncio.Future[tuple[int, int, bytes]]] = field(default_factory=dict)

    async def run(self) -> None:
        while True:
            command_id, status, seq, body = await self.raw.pdu()
            if command_id == codec.DELIVER_SM:
                sm = codec.decode_sm(body)
                assert sm.is_receipt, sm
                self.raw.send(codec.pdu(codec.DELIVER_SM_RESP, 0, seq, b"\x00"))
                fields = parse_text(sm.short_message.decode("ascii"))
                mid = codec.read_cstr(sm.tlvs[codec.TLV_RECEIPTED_MESSAGE_ID], 0)[0].decode()
                assert fields["id"] == mid, (fields, mid)
                state = sm.tlvs[codec.TLV_MESSAGE_STATE][0]
                self.receipts.put_nowait(Receipt(mid, state, fields["stat"], sm.source_addr))
            elif command_id == codec.ENQUIRE_LINK:
                self.raw.send(codec.pdu(codec.ENQUIRE_LINK_RESP, 0, seq))
            else:
                future = self.waiting.pop(seq)
                future.set_result((command_id, status, body))

    async def request(self, pdu: bytes) -> tuple[int, int, bytes]:
        """Write ``pdu`` and return its response: command_id, command_status, body."""
        seq = struct.unpack(">I", pdu[12:16])[0]
        future = self.waiting[seq] = asyncio.get_running_loop().create_future()
        self.raw.send(pdu)
        return await asyncio.wait_for(future, SECONDS)

    async def take(self, n: int, seconds: float = SECONDS) -> list[Receipt]:
        return [await asyncio.wait_for(self.receipts.get(), seconds) for _ in range(n)]


@asynccontextmanager
async def bound_esme(port: int, system_id: str = "acme") -> AsyncIterator[Esme]:
    """A transceiver bound to the front on ``port`` with its reader running; closed on the way out, failing
    the test if the reader failed."""
    esme = Esme(await raw_esme(port, system_id, "secret", codec.BIND_TRANSCEIVER))
    reader = asyncio.get_running_loop().create_task(esme.run())
    try:
        yield esme
    finally:
        reader.cancel()
        esme.raw.close()
    if reader.done() and not reader.cancelled() and reader.exception() is not None:
        raise AssertionError("the ESME's reader failed") from reader.exception()


@pytest.fixture
async def esmes(forms: Front) -> AsyncIterator[Callable[[str], Awaitable[Esme]]]:
    """Binds transceivers on demand; every one is closed (its reader stopped) at the end."""
    async with AsyncExitStack() as stack:

        async def bind(system_id: str = "acme") -> Esme:
            return await stack.enter_async_context(bound_esme(forms.front.port, system_id))

        yield bind


def sm(text: bytes, *, registered_delivery: int = 0, esm_class: int = 0, to: str = TO) -> codec.ShortMessage:
    return codec.ShortMessage(
        source_addr="Shop",
        destination_addr=to,
        short_message=text,
        registered_delivery=registered_delivery,
        esm_class=esm_class,
    )


def submit_sm(seq: int, m: codec.ShortMessage, tlvs: bytes = b"") -> bytes:
    return codec.pdu(codec.SUBMIT_SM, 0, seq, codec.encode_sm(m, tlvs))


def data_sm(seq: int, text: bytes, registered_delivery: int = 0) -> bytes:
    """data_sm (SMPP 3.4 §4.7.1): submit_sm's fields up to esm_class, registered_delivery, data_coding and
    the text in message_payload (the codec has no data_sm encoder: an ESME's PDU, not ours)."""
    m = sm(b"", registered_delivery=registered_delivery)
    head = codec.encode_fields("service_type", "esm_class", lambda name: getattr(m, name))
    body = head + bytes((registered_delivery, codec.DC_DEFAULT)) + codec.tlv(codec.TLV_MESSAGE_PAYLOAD, text)
    return codec.pdu(codec.DATA_SM, 0, seq, body)


def submit_multi(seq: int, destinations: list[str], text: bytes, registered_delivery: int = 0) -> bytes:
    """submit_multi (SMPP 3.4 §4.5.1): SME destinations (dest_flag 1, TON international), then submit_sm's
    fields from esm_class on."""
    m = sm(text, registered_delivery=registered_delivery)
    body = codec.cstr("") + bytes((0, 0)) + codec.cstr("Shop") + bytes((len(destinations),))
    for d in destinations:
        body += bytes((1, 1, 1)) + codec.cstr(d)
    body += codec.encode_fields("esm_class", "sm_default_msg_id", lambda name: getattr(m, name))
    body += bytes((len(text),)) + text
    return codec.pdu(codec.SUBMIT_MULTI, 0, seq, body)


def decode_multi_resp(body: bytes) -> tuple[str, list[tuple[int, int, str, int]]]:
    """submit_multi_resp (SMPP 3.4 §4.5.2): message_id, then (ton, npi, address, error_status_code) of
    every destination not queued."""
    raw_id, p = codec.read_cstr(body, 0, 65)
    count, p = body[p], p + 1
    unsuccess = []
    for _ in range(count):
        ton, npi = body[p], body[p + 1]
        addr, p = codec.read_cstr(body, p + 2, 21)
        (error,) = struct.unpack(">I", body[p : p + 4])
        p += 4
        unsuccess.append((ton, npi, addr.decode(), error))
    assert p == len(body), body
    return raw_id.decode(), unsuccess


async def handed_over(front: Front, n: int, transport: str = "mem") -> list[Message]:
    """What the transport was given, once it was given ``n`` messages."""
    memory = front.runtime.lanes[transport].transport
    assert isinstance(memory, MemoryTransport)

    async def enough() -> bool:
        return len(memory.sent) >= n

    await until(enough)
    return list(memory.sent)


async def until(predicate: Callable[[], Awaitable[bool]], seconds: float = SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def final(front: Front, message_id: str) -> DeliveryStatus:
    """The message's status once final (the memory transport's receipt has come in)."""
    status = DeliveryStatus.QUEUED

    async def done() -> bool:
        nonlocal status
        record = await front.runtime.message(message_id)
        status = record.status if record is not None else DeliveryStatus.QUEUED
        return status.is_final

    await until(done)
    return status


async def settled(front: Front, message_id: str) -> int:
    """Waits until none of the message's receipt events is pending (each was answered, or skipped for its
    registered_delivery); returns how many were delivered. The message must be final: no event comes after."""
    store = front.runtime.store

    async def none_pending() -> bool:
        events = await store.events_page(None, 100, message_id=message_id)
        return all(e.state != PENDING for e in events if e.target is not None)

    await until(none_pending)
    events = await store.events_page(None, 100, message_id=message_id)
    return sum(1 for e in events if e.target is not None and e.state != SKIPPED)


# --- data_sm -------------------------------------------------------------------------------------------


async def test_data_sm_is_queued_and_answered_with_data_sm_resp_carrying_our_id(
    forms: Front, esmes: Callable[[str], Awaitable[Esme]]
) -> None:
    esme = await esmes("acme")
    command_id, status, body = await esme.request(data_sm(2, b"hello by data sm", registered_delivery=1))
    assert (command_id, status) == (codec.DATA_SM_RESP, codec.ESME_ROK)
    mid = codec.decode_message_id(body)
    record = await forms.runtime.message(mid)
    assert record is not None, mid
    assert record.message.text == "hello by data sm"
    assert record.message.to == "+" + TO and record.message.sender == "Shop"
    [receipt] = await esme.take(1)
    assert (receipt.message_id, receipt.stat) == (mid, "DELIVRD")


# --- submit_multi --------------------------------------------------------------------------------------


async def test_submit_multi_queues_one_message_per_destination_answered_with_our_id(
    forms: Front, esmes: Callable[[str], Awaitable[Esme]]
) -> None:
    esme = await esmes("acme")
    destinations = ["77011234567", "77011234568", "77011234569"]
    pdu = submit_multi(2, destinations, b"to three", registered_delivery=1)
    command_id, status, body = await esme.request(pdu)
    assert (command_id, status) == (codec.SUBMIT_MULTI | codec.RESPONSE_BIT, codec.ESME_ROK)
    mid, unsuccess = decode_multi_resp(body)
    assert unsuccess == []
    record = await forms.runtime.message(mid)
    assert record is not None and (record.message.to, record.message.text) == (
        "+" + destinations[0],
        "to three",
    )
    assert sum((await forms.runtime.queue_depth()).values()) == 3
    sent = await handed_over(forms, 3)
    assert sorted((m.to, m.text) for m in sent) == [(f"+{d}", "to three") for d in destinations]
    receipts = {r.source: r for r in await esme.take(3)}  # one per destination, told apart by source_addr
    assert sorted(receipts) == destinations
    assert {r.message_id for r in receipts.values()} == {mid}  # each names the id the resp announced
    assert {r.stat for r in receipts.values()} == {"DELIVRD"}


async def test_submit_multi_lists_a_destination_it_could_not_queue_in_unsuccess_sme(
    forms: Front, esmes: Callable[[str], Awaitable[Esme]]
) -> None:
    esme = await esmes("acme")
    announced = []
    for seq, destinations in ((2, ["77011234567", "1", "77011234569"]), (3, ["1", "77011234568", "77011234570"])):
        pdu = submit_multi(seq, destinations, b"some of them", registered_delivery=1)
        command_id, status, body = await esme.request(pdu)
        assert (command_id, status) == (codec.SUBMIT_MULTI | codec.RESPONSE_BIT, codec.ESME_ROK), seq
        mid, unsuccess = decode_multi_resp(body)
        assert unsuccess == [(1, 1, "1", ESME_RINVDSTADR)], seq
        record = await forms.runtime.message(mid)
        assert record is not None and record.message.to == "+" + next(d for d in destinations if d != "1")
        announced.append(mid)
    assert sum((await forms.runtime.queue_depth()).values()) == 4
    # The bad number first: the next destination's id is the one announced, and both receipts name it.
    receipts = {r.source: r.message_id for r in await esme.take(4)}
    assert receipts == {
        "77011234567": announced[0], "77011234569": announced[0],
        "77011234568": announced[1], "77011234570": announced[1],
    }  # fmt: skip


async def test_a_submit_multi_none_of_whose_destinations_is_queued_is_refused(
    forms: Front, esmes: Callable[[str], Awaitable[Esme]]
) -> None:
    esme = await esmes("acme")
    command_id, status, body = await esme.request(submit_multi(2, ["1", "2"], b"to nobody"))
    assert (command_id, status, body) == (codec.SUBMIT_MULTI | codec.RESPONSE_BIT, ESME_RINVDSTADR, b"")
    assert sum((await forms.runtime.queue_depth()).values()) == 0


class RefusingSecondCommit:
    """The runtime, but its second ``accept`` is refused as a draining runtime refuses (NotAccepting)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.commits = 0

    async def accept(self, items: list[Submission], *, scope: str = "") -> list[Accepted]:
        self.commits += 1
        if self.commits == 2:
            raise NotAccepting("not accepting messages: the runtime is draining")
        return await self.gateway.accept(items, scope=scope)

    def __getattr__(self, name: str) -> object:
        return getattr(self.gateway, name)


async def test_a_submit_multi_whose_further_destinations_are_refused_lists_them_and_announces_the_first(
    forms: Front, esmes: Callable[[str], Awaitable[Esme]]
) -> None:
    """The first destination is committed on its own: a refusal of the next commit leaves it queued, the
    resp OK with its id, and each other destination in unsuccess_sme with the refusal's command_status."""
    refusing = RefusingSecondCommit(forms.runtime)
    forms.front.gateway = refusing  # type: ignore[assignment]
    esme = await esmes("acme")
    destinations = ["77011234567", "77011234568", "77011234569"]
    command_id, status, body = await esme.request(submit_multi(2, destinations, b"half a chance"))
    assert (command_id, status) == (codec.SUBMIT_MULTI | codec.RESPONSE_BIT, codec.ESME_ROK)
    mid, unsuccess = decode_multi_resp(body)
    refused = COMMAND_STATUS[ErrorCode.TEMPORARY_FAILURE]
    assert unsuccess == [(1, 1, d, refused) for d in destinations[1:]]
    record = await forms.runtime.message(mid)
    assert record is not None and record.message.to == "+" + destinations[0]
    assert sum((await forms.runtime.store.counts()).values()) == 1 and refusing.commits == 2  # nothing else


# --- long messages -------------------------------------------------------------------------------------

CHUNKS = [b"a" * 153, b"b" * 153, b"c" * 94]  # three GSM-7 segments
LONG = b"".join(CHUNKS).decode()


async def long_message(
    front: Front, esme: Esme, pdus: list[bytes], order: tuple[int, ...] = (0, 1, 2)
) -> str:
    """Writes the parts of one long message (``pdus``, part 1 first) in one write, in ``order``, as an ESME
    with a window does; checks they are answered with ``<id>.1`` .. ``<id>.3`` (part k: ``<id>.k``) of one
    message whose text is the whole, and that each part id gets its DELIVRD receipt. Returns the message id."""
    loop = asyncio.get_running_loop()
    futures = []
    for p in pdus:
        futures.append(esme.waiting.setdefault(struct.unpack(">I", p[12:16])[0], loop.create_future()))
    esme.raw.send(*(pdus[i] for i in order))
    answers = await asyncio.wait_for(asyncio.gather(*futures), SECONDS)
    assert [(c, s) for c, s, _ in answers] == [(codec.SUBMIT_SM_RESP, codec.ESME_ROK)] * len(pdus)
    ids = [codec.decode_message_id(body) for _, _, body in answers]
    mid = ids[0].split(".")[0]
    assert ids == [f"{mid}.{k}" for k in range(1, len(pdus) + 1)]
    record = await front.runtime.message(mid)
    assert record is not None and record.message.text == LONG
    assert sum((await front.runtime.queue_depth()).values()) == 1
    receipts = await esme.take(len(pdus))
    assert sorted(r.message_id for r in receipts) == ids
    assert {r.stat for r in receipts} == {"DELIVRD"}
    assert await settled(front, mid) == 1  # one event, one deliver_sm per part id
    return mid


async def test_a_long_message_by_sar_tlvs_becomes_one_message_with_a_receipt_per_part(
    forms: Front, esmes: Callable[[str], Awaitable[Esme]]
) -> None:
    esme = await esmes("acme")
    pdus = [
        submit_sm(10 + k, sm(chunk, registered_delivery=1), codec.sar_tlvs(0x1234, 3, k))
        for k, chunk in enumerate(CHUNKS, 1)
    ]
    await long_message(forms, esme, pdus)


async def test_a_long_message_by_16_bit_udh_becomes_one_message_with_a_receipt_per_part(
    forms: Front, esmes: Callable[[str], Awaitable[Esme]]
) -> None:
    esme = await esmes("acme")
    pdus = [
        submit_sm(
            20 + k, sm(codec.udh_16bit(0xBEEF, 3, k) + chunk, registered_delivery=1, esm_class=codec.ESM_UDHI)
        )
        for k, chunk in enumerate(CHUNKS, 1)
    ]
    await long_message(forms, esme, pdus)


async def test_parts_arriving_out_of_order_are_joined_in_their_segment_order(
    forms: Front, esmes: Callable[[str], Awaitable[Esme]]
) -> None:
    esme = await esmes("acme")
    pdus = [
        submit_sm(
            30 + k, sm(codec.udh_8bit(7, 3, k) + chunk, registered_delivery=1, esm_class=codec.ESM_UDHI)
        )
        for k, chunk in enumerate(CHUNKS, 1)
    ]
    await long_message(forms, esme, pdus, order=(2, 0, 1))


async def test_a_long_text_in_message_payload_is_one_message_with_one_id(
    forms: Front, esmes: Callable[[str], Awaitable[Esme]]
) -> None:
    esme = await esmes("acme")
    payload = codec.tlv(codec.TLV_MESSAGE_PAYLOAD, LONG.encode())
    command_id, status, body = await esme.request(submit_sm(2, sm(b"", registered_delivery=1), payload))
    assert (command_id, status) == (codec.SUBMIT_SM_RESP, codec.ESME_ROK)
    mid = codec.decode_message_id(body)
    assert "." not in mid
    record = await forms.runtime.message(mid)
    assert record is not None and record.message.text == LONG
    [receipt] = await esme.take(1)
    assert (receipt.message_id, receipt.stat) == (mid, "DELIVRD")


# --- registered_delivery -------------------------------------------------------------------------------

ENROUTE, DELIVRD, UNDELIV, REJECTD = 1, 2, 5, 8

# (account: the outcome its transport gives, registered_delivery, the message_state of each receipt, in order)
ROWS = [
    ("acme", 0x00, []),
    ("undeliv", 0x00, []),
    ("acme", 0x01, [DELIVRD]),
    ("undeliv", 0x01, [UNDELIV]),
    ("reject", 0x01, [REJECTD]),
    ("acme", 0x02, []),
    ("undeliv", 0x02, [UNDELIV]),
    ("reject", 0x02, [REJECTD]),
    ("acme", 0x10, [ENROUTE]),
    ("acme", 0x11, [ENROUTE, DELIVRD]),
    ("reject", 0x11, [ENROUTE, REJECTD]),
    ("acme", 0x12, [ENROUTE]),
    ("undeliv", 0x12, [ENROUTE, UNDELIV]),
]


@pytest.mark.parametrize(("account", "registered_delivery", "states"), ROWS)
async def test_registered_delivery_decides_which_receipts_the_esme_gets(
    forms: Front,
    esmes: Callable[[str], Awaitable[Esme]],
    account: str,
    registered_delivery: int,
    states: list[int],
) -> None:
    esme = await esmes(account)
    command_id, status, body = await esme.request(
        submit_sm(2, sm(b"rd", registered_delivery=registered_delivery))
    )
    assert (command_id, status) == (codec.SUBMIT_SM_RESP, codec.ESME_ROK)
    mid = codec.decode_message_id(body)
    outcome = await final(forms, mid)
    expected = {"acme": DeliveryStatus.DELIVERED, "undeliv": DeliveryStatus.UNDELIVERABLE}
    assert outcome is expected.get(account, DeliveryStatus.REJECTED)
    assert await settled(forms, mid) == len(states)
    got = [esme.receipts.get_nowait() for _ in range(esme.receipts.qsize())]
    assert [r.state for r in got] == states
    assert all(r.message_id == mid and r.source == TO for r in got), got
