"""Fault and policy knobs of the simulator, observed on the wire by a bare-bytes ESME."""

from __future__ import annotations

from smpp_helpers import eventually

from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.smpp import codec


def is_submit_resp(frame: tuple[int, int, int, bytes]) -> bool:
    return frame[0] == codec.SUBMIT_SM_RESP


async def statuses_of(esme, seqs: list[int]) -> list[int]:
    return [(await esme.response(seq))[1] for seq in seqs]


async def test_throttle_every_refuses_every_nth_and_does_not_record_it(smsc: SmscSimulator, raw_esme) -> None:
    smsc.throttle_every = 3
    esme = await raw_esme()
    await esme.bind()
    got = await statuses_of(esme, [esme.submit(registered_delivery=0) for _ in range(9)])
    assert got == [0, 0, 0x58, 0, 0, 0x58, 0, 0, 0x58]
    assert len(smsc.submitted) == 6
    assert smsc.stats.throttled == 3


async def test_queue_full_every_refuses_with_rmsgqful(smsc: SmscSimulator, raw_esme) -> None:
    smsc.queue_full_every = 4
    esme = await raw_esme()
    await esme.bind()
    got = await statuses_of(esme, [esme.submit(registered_delivery=0) for _ in range(8)])
    assert got == [0, 0, 0, 0x14, 0, 0, 0, 0x14]
    assert smsc.stats.queue_full == 2
    assert len(smsc.submitted) == 6


async def test_max_tps_throttles_a_burst_above_the_rate(smsc: SmscSimulator, raw_esme) -> None:
    smsc.max_tps = 5  # burst of one token, five per second
    esme = await raw_esme()
    await esme.bind()
    got = await statuses_of(esme, [esme.submit(registered_delivery=0) for _ in range(50)])
    accepted = got.count(0)
    assert 1 <= accepted < 50
    assert got.count(0x58) == 50 - accepted == smsc.stats.throttled
    assert len(smsc.submitted) == accepted


async def test_knobs_change_at_run_time(smsc: SmscSimulator, raw_esme) -> None:
    esme = await raw_esme()
    await esme.bind()
    assert await statuses_of(esme, [esme.submit(registered_delivery=0) for _ in range(2)]) == [0, 0]
    smsc.throttle_every = 1
    assert await statuses_of(esme, [esme.submit(registered_delivery=0) for _ in range(2)]) == [0x58, 0x58]
    smsc.throttle_every = 0
    assert await statuses_of(esme, [esme.submit(registered_delivery=0)]) == [0]


async def test_drop_every_accepts_the_nth_pdu_then_cuts_the_link(smsc: SmscSimulator, raw_esme) -> None:
    smsc.drop_every = 5
    esme = await raw_esme()
    await esme.bind()
    seqs = [esme.submit(destination=f"7701000000{i}", registered_delivery=0) for i in range(8)]
    assert await esme.eof()
    answered = {f[2]: codec.decode_message_id(f[3]) for f in esme.inbox if is_submit_resp(f)}
    recorded = smsc.submitted
    assert len(recorded) == 5  # the fifth was accepted although its answer never left
    assert set(answered) <= set(seqs[:4])
    assert [answered[s] for s in sorted(answered)] == [r.message_id for r in recorded[: len(answered)]]
    assert smsc.stats.dropped == 1


async def test_late_every_answers_those_after_the_others(smsc: SmscSimulator, raw_esme) -> None:
    smsc.late_every = 2
    smsc.late_ms = 100
    esme = await raw_esme()
    await esme.bind()
    seqs = [esme.submit(registered_delivery=0) for _ in range(4)]
    frames = await esme.wait_for(is_submit_resp, 4)
    assert [f[2] for f in frames] == [seqs[0], seqs[2], seqs[1], seqs[3]]
    assert smsc.stats.late == 2


async def test_hold_late_keeps_those_answers_until_released(smsc: SmscSimulator, raw_esme) -> None:
    smsc.late_every = 2
    smsc.hold_late = True
    esme = await raw_esme()
    await esme.bind()
    seqs = [esme.submit(registered_delivery=0) for _ in range(4)]
    on_time = await esme.wait_for(is_submit_resp, 2)
    assert [f[2] for f in on_time] == [seqs[0], seqs[2]]
    await eventually(lambda: smsc.stats.late == 2, what="both late submit_sm at the SMSC")
    assert smsc.release_late() >= 1
    late = await esme.wait_for(is_submit_resp, 2)
    assert [f[2] for f in late] == [seqs[1], seqs[3]]
    assert smsc.release_late() == 0  # nothing is held twice


async def test_latency_still_answers_everything_in_order(smsc: SmscSimulator, raw_esme) -> None:
    smsc.latency_ms = 30
    esme = await raw_esme()
    await esme.bind()
    seqs = [esme.submit(registered_delivery=0) for _ in range(20)]
    frames = await esme.wait_for(is_submit_resp, 20)
    assert sorted(f[2] for f in frames) == seqs
    assert all(f[1] == 0 for f in frames)


async def test_malformed_every_puts_the_bad_pdu_before_the_answer(smsc: SmscSimulator, raw_esme) -> None:
    smsc.malformed_every = 2
    smsc.malformed_factory = lambda seq: codec.pdu(0xF7, 0, 7777, b"junk")
    esme = await raw_esme()
    await esme.bind()
    seqs = [esme.submit(registered_delivery=0) for _ in range(4)]
    for seq in seqs:
        await esme.response(seq)
    order = [(f[0], f[2]) for f in esme.arrived if f[0] in (0xF7, codec.SUBMIT_SM_RESP)]
    resp = codec.SUBMIT_SM_RESP
    assert order == [
        (resp, seqs[0]),
        (0xF7, 7777),
        (resp, seqs[1]),
        (resp, seqs[2]),
        (0xF7, 7777),
        (resp, seqs[3]),
    ]
    assert smsc.stats.malformed_sent == 2


async def test_malformed_default_cycle_in_table_order(smsc: SmscSimulator, raw_esme) -> None:
    smsc.malformed_every = 1
    esme = await raw_esme()
    await esme.bind()
    # the first three built-in malformed PDUs are well framed, so a framing reader can show them
    expected = [
        0xF7,
        codec.SUBMIT_SM_RESP,
        codec.DELIVER_SM,
        codec.SUBMIT_SM_RESP,
        codec.DELIVER_SM,
        codec.SUBMIT_SM_RESP,
    ]
    for _ in range(3):
        await esme.response(esme.submit(registered_delivery=0))
    assert [f[0] for f in esme.arrived[1:]] == expected
    assert smsc.stats.malformed_sent == 3


async def test_bound_sessions_receive_injected_bytes(smsc: SmscSimulator, raw_esme) -> None:
    esme, _unbound = await raw_esme(), await raw_esme()
    await esme.bind()
    assert smsc.inject(codec.pdu(codec.ENQUIRE_LINK, 0, 99)) == 1
    (frame,) = await esme.wait_for(lambda f: f[0] == codec.ENQUIRE_LINK)
    assert frame[2] == 99


async def test_drop_all_aborts_every_connection(smsc: SmscSimulator, raw_esme) -> None:
    a, b = await raw_esme(), await raw_esme()
    await a.bind()
    await b.bind("u2", "p2")
    assert smsc.drop_all() == 2
    assert await a.eof() and await b.eof()


async def test_drop_also_happens_on_a_pdu_that_would_be_refused(smsc: SmscSimulator, raw_esme) -> None:
    smsc.drop_every = 2
    esme = await raw_esme()
    await esme.bind()
    first = esme.submit(registered_delivery=0)
    esme.send(codec.SUBMIT_SM, b"\x00\x01")  # undecodable: it would get an error answer, but the link drops
    esme.submit(registered_delivery=0)
    assert await esme.eof()
    answered = [f[2] for f in esme.arrived if is_submit_resp(f)]
    assert answered in ([], [first])
    assert len(smsc.submitted) == 1
    assert smsc.stats.dropped == 1
