"""The smpp:// transport against our simulator over real sockets: window, binds, throttling, failures."""

from __future__ import annotations

import asyncio
import time

import pytest
from smpp_helpers import eventually, messages, smpp_url, take_receipts

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.receipts import normalize_id
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.errors import AuthError, ErrorCode, TransportError
from msgbridge.core.status import DeliveryStatus
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.smpp import codec


def opened(url: str) -> SmppTransport:
    t = open_transport(url)
    assert isinstance(t, SmppTransport)
    return t


@pytest.mark.parametrize(("window", "binds"), [(1, 1), (10, 1), (100, 2)])
async def test_send_through_the_window(smsc: SmscSimulator, window: int, binds: int) -> None:
    msgs = messages(60)
    async with opened(smpp_url(smsc, window=window, binds=binds)) as t:
        results = await t.send(msgs)
        assert [r.message_id for r in results] == [m.id for m in msgs]
        assert all(r.status is DeliveryStatus.SUBMITTED and r.error is None for r in results)
        sim_ids = {normalize_id(s.message_id) for s in smsc.submitted}
        assert {r.native_id for r in results} == sim_ids
        assert len(sim_ids) == 60
        assert smsc.stats.binds == binds
        texts = sorted(s.short_message for s in smsc.submitted)
        assert texts == sorted(m.text.encode() for m in msgs)
    assert smsc.stats.unbinds == binds


async def test_concurrent_sends_share_the_binds(smsc: SmscSimulator) -> None:
    async with opened(smpp_url(smsc, window=7, binds=2)) as t:
        batches = await asyncio.gather(*(t.send(messages(25, text=f"b{b} {{i}}")) for b in range(4)))
    assert all(r.ok for batch in batches for r in batch)
    assert smsc.stats.submit_sm_ok == 100


@pytest.mark.parametrize("knob", ["throttle_every", "queue_full_every"])
async def test_throttling_slows_down_and_resends(smsc: SmscSimulator, knob: str) -> None:
    setattr(smsc, knob, 3)
    async with opened(smpp_url(smsc, window=10, throttle_pause=0.01)) as t:
        results = await t.send(messages(30))
        stats = t.stats()
    refused = smsc.stats.throttled if knob == "throttle_every" else smsc.stats.queue_full
    assert refused > 0
    assert all(r.ok for r in results)
    assert smsc.stats.submit_sm == 30 + refused  # resent, not lost, not doubled
    assert smsc.stats.submit_sm_ok == 30
    assert stats["throttled"] == refused and stats["resent"] == refused


async def test_window_shrinks_on_throttling_and_recovers(smsc: SmscSimulator) -> None:
    smsc.throttle_every = 5
    async with opened(smpp_url(smsc, window=16, throttle_pause=0.01)) as t:
        await t.send(messages(40))
        session = t.tx_sessions[0]
        assert session.effective_window < 16
        smsc.throttle_every = 0
        await t.send(messages(400))
        assert session.effective_window == 16


async def test_resend_gives_up_after_max_resend(smsc: SmscSimulator) -> None:
    smsc.throttle_every = 1
    async with opened(smpp_url(smsc, window=2, throttle_pause=0.001, max_resend=3)) as t:
        [r] = await t.send(messages(1))
    assert r.error is not None and r.error.code is ErrorCode.THROTTLED
    assert r.status is DeliveryStatus.FAILED and r.error.retryable
    assert smsc.stats.submit_sm == 4


@pytest.mark.parametrize(("user", "password"), [("u", "wrong"), ("nobody", "p")])
async def test_bad_credentials_raise_auth_failed_and_do_not_reconnect(
    smsc: SmscSimulator, user: str, password: str
) -> None:
    t = opened(smpp_url(smsc, user=user, password=password))
    with pytest.raises(AuthError) as info:
        await t.open()
    assert info.value.code is ErrorCode.AUTH_FAILED
    assert "ESME_RINV" in str(info.value.info)
    assert smsc.stats.binds == 0
    attempts = smsc.stats.bind_failures
    assert attempts == 1
    await t.aclose()


async def test_connection_refused_is_a_transport_error() -> None:
    t = opened("smpp://u:p@127.0.0.1:1?bind_timeout=1")
    with pytest.raises(TransportError):
        await t.open()


async def test_response_timeout_leaves_message_maybe_submitted(smsc: SmscSimulator) -> None:
    smsc.late_every = 4
    # Every 4th answer is held until the client has given up on it; the others have the whole
    # timeout to arrive, so a slow machine cannot turn an on-time answer into a timeout.
    smsc.hold_late = True
    # Alive meanwhile: a link silent for a whole response timeout while answers are overdue is
    # dropped as dead, and whether the receipts came recently enough to prevent that was up to timing.
    smsc.enquire_link_ms = 100
    async with opened(smpp_url(smsc, window=10, timeout=2)) as t:
        results = await t.send(messages(12))
        maybe = [r for r in results if r.status is DeliveryStatus.MAYBE_SUBMITTED]
        assert len(maybe) == 3
        for r in maybe:
            assert r.error is not None and r.error.code is ErrorCode.TIMEOUT and r.error.code.outcome_unknown
        assert all(r.ok for r in results if r not in maybe)
        await eventually(lambda: smsc.stats.late == 3, what="the late submit_sm at the SMSC")
        assert smsc.release_late() > 0
        # the late answers still name the messages: their receipts carry our message ids
        receipts = await take_receipts(t, 12)
        await eventually(lambda: t.stats()["late_responses"] == 3, what="late responses")
        assert t.stats()["connects"] == 1  # on the link they were asked on
    assert {r.message_id for r in receipts} == {r.message_id for r in results}
    assert smsc.stats.submit_sm == 12  # never resent silently


async def test_dropped_link_reconnects_and_nothing_is_lost(smsc: SmscSimulator) -> None:
    smsc.drop_every = 25
    msgs = messages(100)
    async with opened(smpp_url(smsc, window=10)) as t:
        results = await t.send(msgs)
        stats = t.stats()
    assert stats["connects"] > 1
    statuses = {r.status for r in results}
    assert statuses <= {DeliveryStatus.SUBMITTED, DeliveryStatus.MAYBE_SUBMITTED}
    submitted = [r for r in results if r.status is DeliveryStatus.SUBMITTED]
    maybe = [r for r in results if r.status is DeliveryStatus.MAYBE_SUBMITTED]
    assert len(submitted) + len(maybe) == 100
    assert maybe, "the simulator dropped the link with PDUs in flight"
    # every accepted id is one the simulator issued; nothing was silently resent
    assert {r.native_id for r in submitted} <= {normalize_id(s.message_id) for s in smsc.submitted}
    assert smsc.stats.submit_sm_ok <= 100


async def test_enquire_link_when_idle(smsc: SmscSimulator) -> None:
    async with opened(smpp_url(smsc, enquire_link=0.1)) as t:
        await t.open()
        await eventually(lambda: smsc.stats.enquire_link >= 2, what="enquire_link")
        assert t.stats()["enquire_link_sent"] >= 2


async def test_peer_requests_are_answered_and_junk_is_survived(smsc: SmscSimulator) -> None:
    async with opened(smpp_url(smsc, window=5)) as t:
        await t.open()
        smsc.inject(codec.pdu(codec.ENQUIRE_LINK, 0, 77))
        smsc.inject(codec.pdu(0x000000F7, 0, 78, b"junk"))
        smsc.inject(codec.pdu(codec.GENERIC_NACK, 3, 0x7FFFFF00))
        smsc.inject(codec.pdu(codec.SUBMIT_SM_RESP, 0, 0x7FFFFF01, b"NOBODY\x00"))
        await eventually(lambda: smsc.stats.generic_nack_received >= 1, what="nack for unknown command")
        stats = t.stats()
        assert stats["enquire_link_received"] == 1
        assert stats["generic_nack_received"] == 1
        assert stats["unknown_responses"] == 1
        assert all(r.ok for r in await t.send(messages(5)))
        assert t.stats()["connects"] == 1


async def test_oversize_pdu_drops_the_link_then_rebinds(smsc: SmscSimulator) -> None:
    async with opened(smpp_url(smsc, window=5)) as t:
        await t.open()
        smsc.inject(codec.HEADER.pack(0xFFFFFFF0, codec.DELIVER_SM, 0, 5) + b"\x00" * 16)
        await eventually(
            lambda: t.stats()["connects"] == 2 and t.tx_sessions[0].bound.is_set(), what="rebind"
        )
        assert t.stats()["framing_errors"] == 1
        assert all(r.ok for r in await t.send(messages(5)))


async def test_unbind_from_smsc_reconnects(smsc: SmscSimulator) -> None:
    async with opened(smpp_url(smsc)) as t:
        await t.open()
        smsc.inject(codec.pdu(codec.UNBIND, 0, 9))
        await eventually(lambda: t.stats()["unbinds_received"] == 1, what="unbind")
        await eventually(lambda: t.tx_sessions[0].bound.is_set() and smsc.stats.binds == 2, what="rebind")
        assert all(r.ok for r in await t.send(messages(3)))


async def test_tps_cap_spreads_over_binds(smsc: SmscSimulator) -> None:
    async with opened(smpp_url(smsc, window=50, binds=2, tps=100)) as t:
        await t.open()
        started = time.monotonic()
        results = await t.send(messages(40))
        elapsed = time.monotonic() - started
    assert all(r.ok for r in results)
    # a lower bound only: 40 messages at 100/s with a burst of 10 cannot take less than 0.3 s
    assert elapsed >= 0.29


async def test_transmitter_plus_receiver_binds(smsc: SmscSimulator) -> None:
    async with opened(smpp_url(smsc, mode="tx+rx", window=10)) as t:
        results = await t.send(messages(10))
        receipts = await take_receipts(t, 10)
    assert smsc.stats.binds == 2
    assert {r.message_id for r in receipts} == {r.message_id for r in results}


async def test_invalid_messages_are_refused_without_sending(smsc: SmscSimulator) -> None:
    from msgbridge.core.message import Message

    async with opened(smpp_url(smsc)) as t:
        results = await t.send([Message(to="nope", text="x"), *messages(1)])
    assert results[0].error is not None and results[0].error.code is ErrorCode.INVALID_DESTINATION
    assert results[0].status is DeliveryStatus.REJECTED
    assert results[1].ok
    assert smsc.stats.submit_sm == 1


@pytest.mark.parametrize(
    ("mode", "segments"),
    [("udh8", 3), ("udh16", 3), ("sar", 3), ("payload", 1)],
)
async def test_long_messages(smsc: SmscSimulator, mode: str, segments: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(400))
    async with opened(smpp_url(smsc, long=mode)) as t:
        [r] = await t.send(messages(1, text=text))
        receipts = await take_receipts(t, segments)
    assert r.ok and r.segments == segments and len(r.native_ids) == segments
    assert r.native_id == r.native_ids[-1]
    assert len(smsc.submitted) == segments
    assert (
        b"".join(
            codec.split_udh(s.short_message)[1] if s.esm_class & codec.ESM_UDHI else s.short_message
            for s in smsc.submitted
        )
        == text.encode()
    )
    assert sorted(rc.native_id for rc in receipts) == sorted(r.native_ids)
    assert all(rc.message_id == r.message_id for rc in receipts)


async def test_password_changed_while_running_stops_reconnecting(smsc: SmscSimulator) -> None:
    async with opened(smpp_url(smsc, window=5)) as t:
        assert all(r.ok for r in await t.send(messages(3)))
        assert smsc.users is not None
        smsc.users["u"] = "rotated"
        smsc.drop_all()
        await eventually(lambda: t.tx_sessions[0].fatal is not None, what="bind refused for good")
        failures = smsc.stats.bind_failures
        with pytest.raises(AuthError) as info:
            await t.send(messages(2))
        assert info.value.code is ErrorCode.AUTH_FAILED
        assert "RINVPASWD" in str(info.value.info)
        assert smsc.stats.bind_failures == failures  # no further attempts


async def test_send_after_close_is_refused(smsc: SmscSimulator) -> None:
    t = opened(smpp_url(smsc))
    async with t:
        assert all(r.ok for r in await t.send(messages(1)))
    with pytest.raises(TransportError):
        await t.send(messages(1))
    assert smsc.stats.submit_sm == 1


async def test_unanswered_enquire_link_drops_and_rebinds(smsc: SmscSimulator) -> None:
    # The timeout is also the one for the submit_sm at the end: long enough for a loaded machine to
    # answer in time, well under the latency (both timers run on this one event loop, so the client's
    # fires first whatever the load).
    async with opened(smpp_url(smsc, enquire_link=0.1, timeout=0.5)) as t:
        await t.open()
        smsc.latency_ms = 1000  # the SMSC goes quiet: enquire_link_resp comes too late
        await eventually(lambda: t.stats()["connects"] >= 2, what="reconnect after a silent link")
        assert t.stats()["enquire_link_sent"] >= 1
        assert t.tx_sessions[0].last_error == "enquire_link timed out"
        smsc.latency_ms = 0
        await eventually(lambda: t.tx_sessions[0].bound.is_set(), what="bound again")
        assert all(r.ok for r in await t.send(messages(3)))


async def test_work_goes_to_the_binds_that_are_up(smsc: SmscSimulator) -> None:
    async with opened(smpp_url(smsc, binds=2, window=5)) as t:
        await t.open()
        first, second = t.tx_sessions
        smsc.max_binds = 1  # from now on the SMSC refuses a second bind for this account
        second._abort("test: drop the second bind")
        await eventually(lambda: not second.bound.is_set(), what="second bind down")
        results = await t.send(messages(10))
        assert all(r.ok for r in results)
        assert first.stats.submit_sm == 10 and second.stats.submit_sm == 0
        assert second.fatal is None  # RBINDFAIL is not final: it keeps trying, with backoff


async def test_an_smsc_allowing_fewer_binds_than_asked_gets_the_work_on_the_binds_it_allowed(
    smsc: SmscSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    smsc.max_binds = 1  # this account may bind once
    async with opened(smpp_url(smsc, binds=2, window=5)) as t:
        await t.open()
        first, second = t.tx_sessions
        assert first.bound.is_set() != second.bound.is_set()
        up, down = (first, second) if first.bound.is_set() else (second, first)
        assert "ESME_RBINDFAIL" in caplog.text and "retrying this one in the background" in caplog.text
        results = await t.send(messages(10))
        assert all(r.ok for r in results)
        assert up.stats.submit_sm == 10 and down.stats.submit_sm == 0
        smsc.max_binds = 0  # the SMSC allows a second bind again: the one refused keeps trying and joins
        await eventually(lambda: down.bound.is_set(), what="the refused bind retried and bound")
        assert down.fatal is None and smsc.stats.binds == 2


async def test_an_smsc_allowing_no_bind_fails_the_open(smsc: SmscSimulator) -> None:
    smsc.max_binds = 1
    async with opened(smpp_url(smsc)) as holder:
        await holder.open()  # takes the only bind
        t = opened(smpp_url(smsc, binds=2))
        with pytest.raises(TransportError, match="ESME_RBINDFAIL"):
            await t.open()
        await t.aclose()
