"""The smpp:// transport against a misbehaving simulator, over real sockets.

Whatever the simulator does (drops the link, throttles, fills its queue,
answers late, sends garbage), afterwards every message has a known state:

- SUBMITTED: the simulator accepted each of its segments exactly once, under the ids we report;
- MAYBE_SUBMITTED: an outcome-unknown error; the simulator holds it 0 or 1 times
  (more would be a duplicate, and duplicates are counted);
- a failure status with an error: the simulator never accepted it;
- nothing the simulator accepted is unaccounted for, and the client keeps working.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.receipts import normalize_id
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.smpp import codec

TAG = re.compile(rb"<(\d{4})>")


def tagged_messages(n: int, long_every: int = 0) -> list[Message]:
    """Each message's text names it in every segment, so the simulator's records map back to messages."""
    out = []
    for i in range(n):
        repeat = 40 if long_every and i % long_every == 0 else 1  # 40 tags = 240 chars = 2 segments
        out.append(Message(to="+77011234567", sender="Test", text=f"<{i:04d}>" * repeat))
    return out


@dataclass
class Outcome:
    submitted: int
    maybe: int
    failed: int
    duplicates: int


def check(messages: list[Message], results: list[SendResult], *sims: SmscSimulator) -> Outcome:
    """Assert the invariants in the module docstring over what all ``sims`` accepted; return the counts."""
    assert len(results) == len(messages)
    assert [r.message_id for r in results] == [m.id for m in messages]
    # segments the simulator accepted, per message index
    held: Counter[int] = Counter()
    ids_by_message: dict[int, set[str]] = {}
    for record in (r for sim in sims for r in sim.submitted):
        payload = record.short_message
        if record.esm_class & codec.ESM_UDHI:
            payload = codec.split_udh(payload)[1]
        tags = {int(t) for t in TAG.findall(payload)}
        assert len(tags) == 1, f"simulator holds a segment naming no single message: {payload!r}"
        index = tags.pop()
        held[index] += 1
        ids_by_message.setdefault(index, set()).add(normalize_id(record.message_id))
    counts = Counter[str]()
    duplicates = 0
    for i, (message, result) in enumerate(zip(messages, results, strict=True)):
        segments = 2 if len(message.text) > 160 else 1
        if result.status is DeliveryStatus.SUBMITTED:
            counts["submitted"] += 1
            assert result.error is None
            assert held[i] == segments, (
                f"message {i} SUBMITTED but held {held[i]} times for {segments} segments"
            )
            assert set(result.native_ids) == ids_by_message[i]
        elif result.status is DeliveryStatus.MAYBE_SUBMITTED:
            counts["maybe"] += 1
            assert result.error is not None and result.error.code.outcome_unknown, result
            assert held[i] <= 2 * segments
            duplicates += max(0, held[i] - segments)
        else:
            counts["failed"] += 1
            assert result.status.is_final and result.error is not None, result
            # a multi-segment message may fail after some segments were accepted (error code PARTIAL)
            assert held[i] == len(result.native_ids) < segments or held[i] == 0, (i, held[i], result)
    assert set(held) <= set(range(len(messages)))
    return Outcome(counts["submitted"], counts["maybe"], counts["failed"], duplicates)


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, object]]]:
    """Exceptions that escaped into the event loop (a crashed task) fail the test."""
    errors: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(None)


def url(sim: SmscSimulator, **options: object) -> str:
    base = {"window": 10, "throttle_pause": 0.01, "timeout": 0.5, "reconnect_wait": 10, "enquire_link": 5}
    base.update(options)
    return f"smpp://u:p@127.0.0.1:{sim.port}?" + "&".join(f"{k}={v}" for k, v in base.items())


async def run_and_check(sim: SmscSimulator, n: int = 200, long_every: int = 0, **options: object) -> Outcome:
    messages = tagged_messages(n, long_every)
    async with open_transport(url(sim, **options)) as t:
        results = await t.send(messages)
        outcome = check(messages, results, sim)
        # the faults stop; the same transport still sends
        for knob in ("throttle_every", "queue_full_every", "drop_every", "late_every", "malformed_every"):
            setattr(sim, knob, 0)
        sim.max_tps = 0
        before = len(sim.submitted)
        after = await t.send([Message(to="+77011234567", sender="Test", text="after the storm")])
        assert after[0].status is DeliveryStatus.SUBMITTED, after[0]
        assert len(sim.submitted) == before + 1
    return outcome


SCENARIOS = {
    "drop every 37 PDUs": {"drop_every": 37},
    "drop every 11 PDUs, 2 binds": {"drop_every": 11, "binds": 2},
    "throttle every 4th, queue full every 7th": {"throttle_every": 4, "queue_full_every": 7},
    "TPS cap": {"max_tps": 3000},
    "late answers past the timeout": {"late_every": 9, "late_ms": 400, "timeout": 0.1},
    "malformed PDUs (built-in cycle)": {"malformed_every": 13},
    "drop every 23 PDUs, separate tx and rx binds": {"drop_every": 23, "mode": "tx+rx"},
    "everything at once": {
        "drop_every": 53,
        "throttle_every": 5,
        "late_every": 17,
        "late_ms": 300,
        "malformed_every": 29,
        "timeout": 0.1,
    },
}
SIM_KNOBS = {
    "drop_every",
    "throttle_every",
    "queue_full_every",
    "max_tps",
    "late_every",
    "late_ms",
    "malformed_every",
}


@pytest.mark.parametrize("long_every", [0, 5], ids=["single", "some long"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_every_message_ends_in_a_known_state(
    smsc: SmscSimulator, loop_errors: list[dict[str, object]], scenario: str, long_every: int
) -> None:
    knobs = SCENARIOS[scenario]
    for name, value in knobs.items():
        if name in SIM_KNOBS:
            setattr(smsc, name, value)
    options = {k: v for k, v in knobs.items() if k not in SIM_KNOBS}
    outcome = await run_and_check(smsc, 200, long_every, **options)
    assert outcome.submitted > 0
    if "drop_every" in knobs:
        assert smsc.stats.dropped > 0
    if "late_every" in knobs:
        assert outcome.maybe > 0  # late answers leave the outcome unknown; they are not resent
    if "malformed_every" in knobs:
        assert smsc.stats.malformed_sent > 0
    assert not loop_errors, loop_errors


async def test_the_check_itself_catches_lies(smsc: SmscSimulator) -> None:
    """The invariants are not vacuous: a lost message, a hidden duplicate or a wrong id each fail them."""
    messages = tagged_messages(6, long_every=3)
    async with open_transport(url(smsc)) as t:
        results = await t.send(messages)
    check(messages, results, smsc)
    failed = SendResult(
        message_id=results[1].message_id,
        status=DeliveryStatus.FAILED,
        error=ErrorInfo(code=ErrorCode.PERMANENT_FAILURE, native_code=None, native_message="x"),
    )
    wrong_id = replace(results[2], native_ids=("NOT-AN-ID",))
    for forged in (
        [*results[:1], failed, *results[2:]],
        [*results[:2], wrong_id, *results[3:]],
        results[:-1],
    ):
        with pytest.raises(AssertionError):
            check(messages, forged, smsc)
    smsc.record_submitted(*smsc.accepted[0])  # the simulator holds a SUBMITTED message twice
    with pytest.raises(AssertionError):
        check(messages, results, smsc)


async def test_duplicates_are_only_among_maybe_submitted_and_counted(smsc: SmscSimulator) -> None:
    # the simulator accepts the PDU it drops the link on: the client cannot know, and says so
    smsc.drop_every = 7
    outcome = await run_and_check(smsc, 60)
    assert outcome.maybe > 0
    assert outcome.submitted + outcome.maybe + outcome.failed == 60


# --- hypothesis-generated garbage from the SMSC --------------------------------------

# A well-formed answer carrying the sequence number of a request in flight is not garbage but a lying
# SMSC (the client cannot tell), so answers use sequence numbers this short test never reaches.
requests = st.tuples(
    st.sampled_from([codec.DELIVER_SM, codec.ENQUIRE_LINK, codec.UNBIND, codec.DATA_SM, 0x00000F7F]),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=80),
)
answers = st.tuples(
    st.sampled_from(
        [
            codec.SUBMIT_SM_RESP,
            codec.GENERIC_NACK,
            codec.BIND_TRANSCEIVER_RESP,
            codec.ENQUIRE_LINK_RESP,
            0x80000F7F,
        ]
    ),
    st.integers(0, 0xFFFFFFFF),
    st.just(0) | st.integers(0x10000, 0xFFFFFFFF),
    st.binary(max_size=80),
)
garbage = st.one_of(
    st.binary(min_size=1, max_size=64),  # anything at all, framing included
    (requests | answers).map(lambda t: codec.pdu(*t)),  # well framed, random status and body
    st.tuples(
        st.integers(0, 15) | st.integers(codec.MAX_PDU_LENGTH + 1, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF)
    ).map(lambda t: codec.HEADER.pack(t[0], t[1], 0, 1)),  # bad lengths
)


@settings(max_examples=20, deadline=None)
@given(junk=st.lists(garbage, min_size=1, max_size=3))
def test_hypothesis_garbage_never_loses_a_message(junk: list[bytes]) -> None:
    async def scenario() -> None:
        sim = SmscSimulator(users={"u": "p"}, dlr_delay_ms=5, seed=1, malformed_every=4)
        cycle = iter(junk * 1000)
        sim.malformed_factory = lambda seq: next(cycle)
        errors: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
        async with sim.serve("127.0.0.1", 0):
            await run_and_check(sim, 24, long_every=6)
        assert not errors, errors

    asyncio.run(asyncio.wait_for(scenario(), 60))


async def wait_until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("how", ["unbind", "crash"])
async def test_smsc_restart_in_the_middle_of_a_send(loop_errors: list[dict[str, object]], how: str) -> None:
    """The SMSC goes away mid-send (unbinding, or just vanishing) and another one comes up on the same port."""
    messages = tagged_messages(300, long_every=7)
    first = SmscSimulator(users={"u": "p"}, dlr_delay_ms=5, seed=1, latency_ms=2)
    async with first.serve("127.0.0.1", 0) as server:
        port = server.port
        transport = open_transport(url(first))
        await transport.open()
        sending = asyncio.create_task(transport.send(messages))
        await wait_until(lambda: first.stats.submit_sm_ok >= 60)
        if how == "crash":
            first.drop_all()
    assert not sending.done(), "the send finished before the SMSC went away: nothing was tested"
    second = SmscSimulator(users={"u": "p"}, dlr_delay_ms=5, seed=2, id_start=0x50000000)
    async with second.serve("127.0.0.1", port):
        results = await asyncio.wait_for(sending, 30)
        outcome = check(messages, results, first, second)
        await transport.aclose()
    assert second.stats.submit_sm_ok > 0  # the rest went to the new SMSC
    assert outcome.submitted + outcome.maybe + outcome.failed == 300
    assert not loop_errors, loop_errors
