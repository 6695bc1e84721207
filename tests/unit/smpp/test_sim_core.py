"""SmscCore's public API on its own: binds, stored messages, receipts, redelivery, knobs.

The connections here are small recording links (the :class:`Link` protocol
the core drives), so each rule is checked without a socket in between; the
same rules over TCP are in tests/integration/smpp/test_sim_*.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from msgbridge.simulators.smsc.core import Delivery, SmscCore
from msgbridge.smpp import codec
from msgbridge.smpp.receipt_text import parse_text


class RecordingLink:
    """A connection that keeps what the core asked it to send."""

    def __init__(self, system_id: str = "", mode: str = "") -> None:
        self.system_id = system_id
        self.mode = mode
        self.closed = False
        self.last_enquire = 0.0
        self.unacked: dict[int, Delivery] = {}
        self.sent: list[bytes] = []  # queue / write_now, in order
        self.delivered: list[Delivery] = []
        self.flushes = 0
        self.aborted = False
        self._seq = 0

    def next_sequence(self) -> int:
        self._seq += 1
        return self._seq

    def queue(self, data: bytes) -> None:
        self.sent.append(data)

    def flush(self) -> None:
        self.flushes += 1

    def write_now(self, data: bytes) -> None:
        if not self.closed:
            self.sent.append(data)

    def send_deliver(self, delivery: Delivery) -> None:
        self.unacked[self.next_sequence()] = delivery
        self.delivered.append(delivery)

    def close(self, data: bytes = b"") -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True


def bind(core: SmscCore, system_id: str = "acme", mode: str = "trx") -> RecordingLink:
    link = RecordingLink(system_id, mode)
    core.connected(link)
    core.bound(link)
    return link


def submit_body(destination: str = "77011234567", registered_delivery: int = 1) -> bytes:
    return codec.encode_sm(
        codec.ShortMessage(
            source_addr="Shop",
            destination_addr=destination,
            short_message=b"hello",
            registered_delivery=registered_delivery,
        )
    )


def test_accept_numbers_spells_and_records() -> None:
    core = SmscCore(id_start=0x1A2B3C)
    body = submit_body()
    assert core.accept("acme", body) == "1A2B3C"
    assert core.next_number == 0x1A2B3D
    core.id_format = "dec"
    assert core.accept("acme", body) == str(0x1A2B3D)
    assert [(s.system_id, s.message_id, s.destination) for s in core.submitted] == [
        ("acme", "1A2B3C", "77011234567"),
        ("acme", str(0x1A2B3D), "77011234567"),
    ]
    assert core.accepted[0] == ("acme", "1A2B3C", body)
    assert core.stats.submit_sm_ok == 2


def test_record_off_keeps_nothing_and_record_submitted_adds_one() -> None:
    core = SmscCore(record=False, id_start=1)
    core.accept("acme", submit_body())
    assert core.submitted == [] and core.stats.submit_sm_ok == 1
    core.record_submitted("acme", "X1", submit_body("700"))
    assert [(s.message_id, s.destination) for s in core.submitted] == [("X1", "700")]


def test_refusal_counts_every_nth_submit() -> None:
    core = SmscCore(throttle_every=3, queue_full_every=4)
    answers = [core.refusal() for _ in range(12)]
    assert answers[2] == answers[5] == answers[8] == answers[11] == codec.ESME_RTHROTTLED
    assert answers[3] == answers[7] == codec.ESME_RMSGQFUL
    assert answers.count(codec.ESME_ROK) == 6
    assert (core.stats.throttled, core.stats.queue_full) == (4, 2)


def test_drop_due_counts_every_nth_pdu() -> None:
    core = SmscCore(drop_every=3)
    assert [core.drop_due() for _ in range(6)] == [False, False, True, False, False, True]
    core.drop_every = 0
    assert not any(core.drop_due() for _ in range(6))


def test_bind_status_checks_users_and_max_binds() -> None:
    core = SmscCore({"acme": "secret"}, max_binds=1)
    assert core.bind_status("nobody", "secret") == codec.ESME_RINVSYSID
    assert core.bind_status("acme", "wrong") == codec.ESME_RINVPASWD
    assert core.bind_status("acme", "secret") == codec.ESME_ROK
    bind(core, "acme")
    assert core.bound_count("acme") == 1
    assert core.bind_status("acme", "secret") == codec.ESME_RBINDFAIL
    assert SmscCore().bind_status("anyone", "anything") == codec.ESME_ROK


def test_deliver_round_robins_receivers_and_waits_for_one() -> None:
    core = SmscCore()
    core.deliver(Delivery("acme", b"early", None))  # nobody bound yet: kept
    assert core.snapshot()["receipts_pending"] == 1
    transmitter = bind(core, "acme", "tx")
    first = bind(core, "acme", "rx")
    assert [d.body for d in first.delivered] == [b"early"]  # handed over on bind
    second = bind(core, "acme", "trx")
    for n in range(4):
        core.deliver(Delivery("acme", b"%d" % n, None))
    assert [d.body for d in first.delivered] == [b"early", b"0", b"2"]
    assert [d.body for d in second.delivered] == [b"1", b"3"]
    assert transmitter.delivered == []


def test_disconnected_hands_unanswered_deliveries_to_the_next_receiver() -> None:
    core = SmscCore()
    gone = bind(core)
    core.deliver(Delivery("acme", b"receipt", None))
    gone.closed = True
    core.disconnected(gone)
    assert core.links == () and core.stats.redelivered == 1
    again = bind(core)
    assert [d.body for d in again.delivered] == [b"receipt"]


async def test_answered_settles_refuses_or_redelivers() -> None:
    core = SmscCore(redeliver_delay_ms=1)
    core.start()
    link = bind(core)
    loop = asyncio.get_running_loop()
    ok, refused = loop.create_future(), loop.create_future()
    core.answered(Delivery("acme", b"a", ok), codec.ESME_ROK)
    core.answered(Delivery("acme", b"b", refused), codec.ESME_RINVCMDID)
    assert (await ok, await refused) == (codec.ESME_ROK, codec.ESME_RINVCMDID)
    assert (core.stats.deliver_sm_resp, core.stats.deliver_sm_refused) == (1, 1)
    core.answered(Delivery("acme", b"again", None), codec.ESME_RTHROTTLED)
    assert core.stats.redelivered == 1
    for _ in range(200):
        if link.delivered:
            break
        await asyncio.sleep(0.01)
    assert [d.body for d in link.delivered] == [b"again"]
    core.shutdown()


def test_redelivery_while_not_serving_waits_for_a_bind() -> None:
    core = SmscCore()
    core.answered(Delivery("acme", b"later", None), codec.ESME_RX_T_APPN)
    assert bind(core).delivered[0].body == b"later"


def test_housekeep_resends_stale_deliveries_and_sends_enquire_link() -> None:
    core = SmscCore(deliver_timeout_ms=1000, enquire_link_ms=500)
    link = bind(core)
    core.deliver(Delivery("acme", b"r", None))
    link.unacked[1].sent_at = 100.0
    core.housekeep(100.5)  # not stale yet; enquire_link due (last_enquire is 0)
    assert len(link.delivered) == 1 and len(link.sent) == 1
    command_id = codec.HEADER.unpack_from(link.sent[0])[1]
    assert command_id == codec.ENQUIRE_LINK and link.last_enquire == 100.5
    core.housekeep(101.5)
    assert [d.body for d in link.delivered] == [b"r", b"r"]
    assert core.stats.redelivered == 1 and core.stats.enquire_link_sent == 2


def test_send_receipts_decides_outcomes_and_honours_failure_only() -> None:
    core = SmscCore(dlr_by_destination={"700": "undeliverable"}, id_start=0xAB)
    link = bind(core)
    batch = []
    for destination, registered in (("700", 1), ("701", 1), ("702", 2)):
        message_id = core.accept("acme", submit_body(destination, registered))
        batch.append((message_id, core.next_number - 1, core.accepted[-1][2], 1_700_000_000.0))
    core.send_receipts("acme", batch)
    failed = core.message_state("AB")
    assert failed is not None and failed[0] == "undeliverable"
    state = core.message_state("AC")
    assert state is not None
    outcome, done = state
    assert outcome == "delivered" and isinstance(done, datetime)
    assert core.message_state("nope") is None
    # "702" asked for failures only and was delivered: no receipt
    receipts = [codec.decode_sm(d.body) for d in link.delivered]
    assert [r.destination_addr for r in receipts] == ["Shop", "Shop"]
    fields = [parse_text(r.short_message.decode("ascii")) for r in receipts]
    assert [(f["id"], f["stat"]) for f in fields] == [("AB", "UNDELIV"), ("AC", "DELIVRD")]
    assert core.stats.receipts_sent == 2


async def test_schedule_receipts_before_the_answers_flushes_receivers() -> None:
    core = SmscCore(dlr_before_resp=True, id_start=1)
    link = bind(core)
    message_id = core.accept("acme", submit_body())
    core.schedule_receipts("acme", [(message_id, 1, core.accepted[0][2], 1_700_000_000.0)])
    assert len(link.delivered) == 1 and link.flushes == 1


async def test_held_answers_wait_for_release_and_shutdown_cancels_timers() -> None:
    core = SmscCore()
    link = bind(core)
    core.hold(link, b"late answer")
    assert link.sent == []
    assert core.release_late() == 1 and link.sent == [b"late answer"]
    fired: list[int] = []
    core.call_later(0.01, fired.append, 1)
    core.hold(link, b"never")
    core.shutdown()
    await asyncio.sleep(0.05)
    assert fired == [] and core.release_late() == 0


def test_inject_and_drop_all_reach_bound_links() -> None:
    core = SmscCore()
    acme, other = bind(core, "acme"), bind(core, "other")
    unbound = RecordingLink()
    core.connected(unbound)
    assert core.inject(b"raw", "acme") == 1 and acme.sent == [b"raw"] and other.sent == []
    assert core.inject(b"all") == 2 and unbound.sent == []
    assert core.drop_all() == 3 and acme.aborted and unbound.aborted
    assert core.stats.dropped == 3


async def test_send_mo_waits_for_each_parts_answer() -> None:
    core = SmscCore(seed=1)
    link = bind(core)
    sending = asyncio.ensure_future(
        core.send_mo(
            system_id="acme", source="+77011234567", destination="1234", text="hi " * 100, concat="udh8"
        )
    )
    for _ in range(100):
        if link.unacked:
            break
        await asyncio.sleep(0)
    assert len(link.unacked) == 2 and core.stats.mo_sent == 2
    for delivery in list(link.unacked.values()):
        core.answered(delivery, codec.ESME_ROK)
    assert await sending == [codec.ESME_ROK, codec.ESME_ROK]


@pytest.mark.parametrize("knob", [{"receipt_mode": "xml"}, {"dlr_mix": {"delivered": 0.0}}])
def test_core_refuses_bad_knobs(knob: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SmscCore(**knob)  # type: ignore[arg-type]
