"""The routed transport over memory:// children and small fakes: failover rules, breaker, receipts, status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from msgbridge.adapters.base import ReceiptPush, StatusPolling, Transport, open_transport
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.core.breaker import CircuitState
from msgbridge.core.errors import ConfigError, ErrorCode, MessagingError, TransportError
from msgbridge.core.message import Message, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.core.url import TransportURL
from msgbridge.routing.config import BreakerSettings, RateUnit, Route, RouteMatch, RoutingConfig, Strategy
from msgbridge.routing.transport import RoutedTransport


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fake(Transport):
    """Raises what it is told for the whole batch, or answers with what ``answer`` makes."""

    scheme = "fake"

    def __init__(self, name: str, *, raises: BaseException | None = None, fail_open: bool = False) -> None:
        super().__init__(TransportURL.parse(f"fake://{name}"))
        self.raises = raises
        self.fail_open = fail_open
        self.calls: list[list[str]] = []

    async def open(self) -> None:
        if self.fail_open:
            raise TransportError("connection refused")

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        self.calls.append([m.id for m in messages])
        if self.raises is not None:
            raise self.raises
        return [SendResult(m.id, S.SUBMITTED, native_id=f"n-{m.id}") for m in messages]


def memory(name: str, options: str = "") -> MemoryTransport:
    t = open_transport(f"memory://{name}?dlr=no&{options}")
    assert isinstance(t, MemoryTransport)
    return t


def routed(
    children: dict[str, Transport],
    *routes: Route,
    breaker: BreakerSettings = BreakerSettings(failures=3, cooldown=30),
    route: str | None = None,
    clock: Clock | None = None,
) -> RoutedTransport:
    cfg = RoutingConfig(routes=routes or (Route("r", tuple(children)),), breaker=breaker)
    return RoutedTransport(children, cfg, route=route, clock=clock or Clock())


def msgs(n: int, to: str = "+77011234567", **kw: Any) -> list[Message]:
    return [Message(to=to, text="hi", **kw) for _ in range(n)]


async def test_network_error_moves_on_and_the_attempt_is_kept() -> None:
    a, b = memory("a", "down_times=1"), memory("b")
    r = routed({"a": a, "b": b})
    batch = msgs(3)
    results = await r.send(batch)
    assert [x.message_id for x in results] == [m.id for m in batch]
    assert all(x.status is S.SUBMITTED and x.link == "memory://b" for x in results)
    for x in results:
        (attempt,) = x.attempts
        assert (attempt.transport, attempt.link) == ("a", "memory://a")
        assert attempt.error is not None and attempt.error.code is ErrorCode.NETWORK_ERROR
    assert a.accepted == [] and [m.id for m in b.accepted] == [m.id for m in batch]


async def test_a_definite_refusal_not_in_failover_on_is_the_answer() -> None:
    a, b = memory("a", "fail=%2B77011234567"), memory("b")
    (result,) = await routed({"a": a, "b": b}).send(msgs(1))
    assert result.status is S.REJECTED and result.error is not None
    assert result.error.code is ErrorCode.INVALID_DESTINATION and result.link == "memory://a"
    assert b.sent == [] and result.attempts == ()


@pytest.mark.parametrize(
    "code", ["auth_failed", "account_blocked", "insufficient_funds", "wrong_server", "unsupported"]
)
async def test_each_default_failover_code_moves_on(code: str) -> None:
    a, b = memory("a", f"fail=%2B77011234567&fail_code={code}"), memory("b")
    (result,) = await routed({"a": a, "b": b}).send(msgs(1))
    assert result.status is S.SUBMITTED and result.link == "memory://b"
    assert result.attempts[0].error is not None and result.attempts[0].error.code.value == code.upper()


async def test_failover_on_is_per_route() -> None:
    a, b = memory("a", "fail=%2B77011234567&fail_code=insufficient_funds"), memory("b")
    route = Route("r", ("a", "b"), failover_on=frozenset({ErrorCode.NETWORK_ERROR}))
    (result,) = await routed({"a": a, "b": b}, route).send(msgs(1))
    assert result.error is not None and result.error.code is ErrorCode.INSUFFICIENT_FUNDS and b.sent == []


async def test_timeout_stays_on_the_transport() -> None:
    a, b = memory("a", "lost_every=1"), memory("b")
    (result,) = await routed({"a": a, "b": b}).send(msgs(1))
    assert result.status is S.MAYBE_SUBMITTED and result.link == "memory://a" and b.sent == []


async def test_failover_on_timeout_moves_it_when_the_route_says_so() -> None:
    a, b = memory("a", "lost_every=1"), memory("b")
    route = Route("r", ("a", "b"), failover_on_timeout=True)
    (result,) = await routed({"a": a, "b": b}, route).send(msgs(1))
    assert result.status is S.SUBMITTED and result.link == "memory://b"
    assert result.attempts[0].error is not None and result.attempts[0].error.code is ErrorCode.TIMEOUT


@pytest.mark.parametrize("code", [ErrorCode.TIMEOUT, ErrorCode.PROTOCOL_ERROR])
async def test_a_batch_raised_with_an_unknown_outcome_is_in_doubt_and_not_moved(code: ErrorCode) -> None:
    a, b = Fake("a", raises=MessagingError("lost", code=code)), memory("b")
    results = await routed({"a": a, "b": b}).send(msgs(2))
    assert all(x.status is S.MAYBE_SUBMITTED and x.link == "fake://a:" for x in results) and b.sent == []


async def test_an_exception_from_a_child_is_in_doubt_and_counts_against_its_circuit() -> None:
    a, b = Fake("a", raises=RuntimeError("bug")), memory("b")
    r = routed({"a": a, "b": b}, breaker=BreakerSettings(failures=1))
    results = await r.send(msgs(2))
    assert all(x.status is S.MAYBE_SUBMITTED and x.error is not None for x in results) and b.sent == []
    assert r.circuits()[0].state is CircuitState.OPEN


async def test_a_batch_raised_as_a_non_send_moves_on() -> None:
    a, b = Fake("a", raises=TransportError("refused")), memory("b")
    results = await routed({"a": a, "b": b}).send(msgs(2))
    assert all(x.status is S.SUBMITTED and x.link == "memory://b" for x in results)


async def test_nothing_left_to_try_gives_the_last_failure_with_the_attempts_before_it() -> None:
    a, b = memory("a", "down_times=5"), memory("b", "down_times=5")
    (result,) = await routed({"a": a, "b": b}).send(msgs(1))
    assert result.status is S.FAILED and result.error is not None
    assert result.error.code is ErrorCode.NETWORK_ERROR and result.link == "memory://b"
    assert [x.transport for x in result.attempts] == ["a"]


async def test_temporary_failure_goes_back_then_moves_on_and_stays_moved() -> None:
    a, b = memory("a", "fail_every=1"), memory("b")
    r = routed({"a": a, "b": b}, Route("r", ("a", "b"), temporary_retries=2))
    (m,) = msgs(1)
    for _ in range(2):  # back to the dispatcher (which requeues it) twice
        (result,) = await r.send([m])
        assert result.error is not None and result.error.code is ErrorCode.TEMPORARY_FAILURE
        assert result.link == "memory://a" and b.sent == []
    (result,) = await r.send([m])  # the third moves on
    assert result.status is S.SUBMITTED and result.link == "memory://b"
    assert [x.transport for x in result.attempts] == ["a"]
    (result,) = await r.send([m])  # and stays off a
    assert result.link == "memory://b" and len(a.sent) == 3


async def test_temporary_retries_zero_moves_on_at_once() -> None:
    a, b = memory("a", "fail_every=1"), memory("b")
    (result,) = await routed({"a": a, "b": b}, Route("r", ("a", "b"), temporary_retries=0)).send(msgs(1))
    assert result.link == "memory://b"


async def test_every_candidate_out_of_temporary_retries_starts_over() -> None:
    a, b = memory("a", "fail_every=1"), memory("b", "fail_every=1")
    r = routed({"a": a, "b": b}, Route("r", ("a", "b"), temporary_retries=0))
    (m,) = msgs(1)
    (result,) = await r.send([m])
    assert result.link == "memory://b" and result.error is not None
    (result,) = await r.send([m])
    assert [x.transport for x in result.attempts] == ["a"] and len(a.sent) == 2


async def test_no_matching_route_is_refused_by_name_and_the_rest_is_sent() -> None:
    a = memory("a")
    r = routed({"a": a}, Route("kz", ("a",), RouteMatch(countries=("KZ",))))
    kz, us = msgs(1)[0], msgs(1, to="+12015550123")[0]
    results = await r.send([us, kz])
    assert results[0].status is S.FAILED and results[0].error is not None
    assert results[0].error.code is ErrorCode.UNSUPPORTED and "no route matches" in str(results[0].error)
    assert "kz" in str(results[0].error) and results[1].status is S.SUBMITTED


async def test_auto_routes_by_match_and_a_forced_route_takes_everything() -> None:
    a, b = memory("a"), memory("b")
    routes = (Route("kz", ("a",), RouteMatch(countries=("KZ",))), Route("default", ("b",)))
    kz, us = msgs(1)[0], msgs(1, to="+12015550123")[0]
    results = await routed({"a": a, "b": b}, *routes).send([kz, us])
    assert [x.link for x in results] == ["memory://a", "memory://b"]
    results = await routed({"a": a, "b": b}, *routes, route="default").send([kz, us])
    assert [x.link for x in results] == ["memory://b", "memory://b"]


async def test_children_are_called_in_their_own_batch_size() -> None:
    a = memory("a", "max_batch=2")
    results = await routed({"a": a}).send(msgs(5))
    assert a.batch_sizes == [2, 2, 1] and len(results) == 5


async def test_weighted_sends_each_message_to_its_sticky_pick() -> None:
    a, b = memory("a"), memory("b")
    r = routed({"a": a, "b": b}, Route("w", ("a", "b"), strategy=Strategy.WEIGHTED, weights=(3, 1)))
    batch = msgs(400)
    first = [m.id for m in batch]
    await r.send(batch)
    assert sorted([m.id for m in a.accepted] + [m.id for m in b.accepted]) == sorted(first)
    assert 240 <= len(a.accepted) <= 360
    a2, b2 = memory("a"), memory("b")
    r2 = routed({"a": a2, "b": b2}, Route("w", ("a", "b"), strategy=Strategy.WEIGHTED, weights=(3, 1)))
    await r2.send(batch)
    assert [m.id for m in a2.accepted] == [m.id for m in a.accepted]


# -- the breaker ------------------------------------------------------------------------------------


async def test_the_circuit_opens_skips_then_probes_and_closes() -> None:
    clock = Clock()
    a, b = memory("a", "down_times=3"), memory("b")
    r = routed({"a": a, "b": b}, breaker=BreakerSettings(failures=2, cooldown=30), clock=clock)
    for _ in range(2):
        await r.send(msgs(1))
    info = r.circuits()[0]
    assert (info.name, info.state, info.failures, info.opened) == ("a", CircuitState.OPEN, 2, 1)
    (result,) = await r.send(msgs(1))  # skipped: no attempt on a
    assert a.calls == 2 and result.link == "memory://b" and result.attempts == ()
    clock.now += 31
    assert r.circuits()[0].state is CircuitState.HALF_OPEN
    await r.send(msgs(1))  # the probe fails (call 3)
    assert a.calls == 3 and r.circuits()[0].state is CircuitState.OPEN and r.circuits()[0].opened == 1
    clock.now += 31
    results = await r.send(msgs(2))  # the probe succeeds: both in that one call
    assert a.calls == 4 and a.batch_sizes[-1] == 2 and all(x.link == "memory://a" for x in results)
    info = r.circuits()[0]
    assert (info.state, info.failures, info.opened) == (CircuitState.CLOSED, 0, 1)
    assert r.health().up


async def test_every_circuit_open_asks_the_dispatcher_to_come_back_after_the_cooldown() -> None:
    clock = Clock()
    a = memory("a", "down_times=10")
    r = routed({"a": a}, breaker=BreakerSettings(failures=1, cooldown=30), clock=clock)
    await r.send(msgs(1))
    clock.now += 10
    (result,) = await r.send(msgs(1))
    assert result.error is not None and result.error.code is ErrorCode.NETWORK_ERROR
    assert (
        result.error.retry_after == pytest.approx(20.0) and "circuit is open" in result.error.native_message
    )
    assert not r.health().up and a.calls == 1


async def test_the_error_rate_rule_opens_the_circuit() -> None:
    a, b = memory("a", "fail_every=2&fail_code=network_error"), memory("b")
    settings = BreakerSettings(failures=100, error_rate=0.5, window=60, min_calls=4)
    r = routed({"a": a, "b": b}, breaker=settings)
    for _ in range(4):
        await r.send(msgs(1))
    assert r.circuits()[0].state is CircuitState.OPEN


async def test_a_throttled_batch_does_not_count_against_the_circuit() -> None:
    a = Fake("a", raises=MessagingError("slow down", code=ErrorCode.THROTTLED))
    r = routed({"a": a}, breaker=BreakerSettings(failures=1))
    (result,) = await r.send(msgs(1))
    assert result.error is not None and result.error.code is ErrorCode.THROTTLED
    assert r.circuits()[0].state is CircuitState.CLOSED


# -- open, receipts, status -------------------------------------------------------------------------


async def test_a_child_down_at_open_does_not_stop_the_router() -> None:
    a, b = Fake("a", fail_open=True), memory("b")
    r = routed({"a": a, "b": b}, breaker=BreakerSettings(failures=1))
    await r.open()
    assert r.circuits()[0].state is CircuitState.OPEN
    (result,) = await r.send(msgs(1))
    assert result.link == "memory://b" and a.calls == []
    await r.aclose()


async def test_every_child_down_at_open_fails_the_open() -> None:
    r = routed({"a": Fake("a", fail_open=True), "b": Fake("b", fail_open=True)})
    with pytest.raises(TransportError, match="refused"):
        await r.open()


async def test_receipts_of_every_child_are_merged_until_close() -> None:
    a = open_transport("memory://a?dlr_delay_ms=1")
    b = open_transport("memory://b?dlr_delay_ms=1")
    r = routed({"a": a, "b": b}, Route("w", ("a", "b"), strategy=Strategy.WEIGHTED, weights=(1, 1)))
    assert isinstance(r, ReceiptPush) and not r.writes_in_groups
    async with r:
        results = await r.send(msgs(40))
        stream = r.receipts()
        got = []
        async for receipt in stream:
            got.append(receipt)
            if len(got) == 40:
                break
    assert {(x.link, x.native_id) for x in got} == {(x.link, x.native_id) for x in results}
    assert {x.link for x in got} == {"memory://a", "memory://b"}


async def test_status_asks_the_child_each_native_id_came_from() -> None:
    a = open_transport("memory://a?poll=yes&dlr_delay_ms=0")
    b = open_transport("memory://b?poll=yes&dlr_delay_ms=0")
    r = routed({"a": a, "b": b}, Route("w", ("a", "b"), strategy=Strategy.WEIGHTED, weights=(1, 1)))
    assert isinstance(r, StatusPolling)
    results = await r.send(msgs(20))
    receipts = await r.status([x.native_id or "" for x in results] + ["unknown"])
    assert {(x.link, x.native_id, x.status) for x in receipts} == {
        (x.link, x.native_id, S.DELIVERED) for x in results
    }


async def test_rate_caps_count_messages_or_segments() -> None:
    asked: list[float] = []

    class Bucket:
        async def acquire(self, tokens: float = 1.0) -> None:
            asked.append(tokens)

    a = memory("a")
    long = "x" * 200  # 2 GSM segments
    for unit, per_message in ((RateUnit.MESSAGES, 1.0), (RateUnit.SEGMENTS, 2.0)):
        asked.clear()
        r = routed({"a": a}, Route("r", ("a",), rate=20, rate_unit=unit))
        r._buckets["r"] = Bucket()  # type: ignore[assignment]
        await r.send([Message(to="+77011234567", text=long) for _ in range(5)])
        # a tenth of a second's worth (2 messages) per call, each call's tokens asked before it
        assert asked == [2 * per_message, 2 * per_message, per_message]
        assert a.batch_sizes[-3:] == [2, 2, 1]


def test_routes_must_find_their_transports() -> None:
    with pytest.raises(ConfigError, match="no transport given for b"):
        RoutedTransport({"a": memory("a")}, RoutingConfig(routes=(Route("r", ("a", "b")),)))
    with pytest.raises(ConfigError, match="unknown route 'x'"):
        RoutedTransport({"a": memory("a")}, RoutingConfig(routes=(Route("r", ("a",)),)), route="x")
    with pytest.raises(ConfigError, match=r"no \[\[routes\]\]"):
        RoutedTransport({"a": memory("a")}, RoutingConfig())


async def test_a_second_reader_after_a_cancelled_one_still_sees_the_end() -> None:
    a, b = open_transport("memory://a?dlr_delay_ms=1"), memory("b")
    r = routed({"a": a, "b": b})
    async with r:
        await r.send(msgs(2))
        first = r.receipts()
        assert (await first.__anext__()).link == "memory://a"
        await first.aclose()
    rest = [x async for x in r.receipts()]  # ends: a closed, b pushes nothing
    assert len(rest) == 1


async def test_every_child_refusing_its_whole_batch_for_good_raises_as_one_transport_would() -> None:
    from msgbridge.core.errors import AuthError

    a, b = Fake("a", raises=AuthError("bad password")), Fake("b", raises=AuthError("bad key"))
    with pytest.raises(MessagingError) as caught:
        await routed({"a": a, "b": b}).send(msgs(2))
    assert caught.value.code is ErrorCode.AUTH_FAILED and "bad key" in str(caught.value)
    assert len(a.calls) == len(b.calls) == 2  # one message per call (max_batch 1), each tried on both


async def test_a_refusal_is_data_when_anything_else_was_sent_or_answered() -> None:
    from msgbridge.core.errors import AuthError

    routes = (Route("kz", ("a",), RouteMatch(countries=("KZ",))), Route("rest", ("b",)))
    a, b = Fake("a", raises=AuthError("bad password")), memory("b")
    results = await routed({"a": a, "b": b}, *routes).send([*msgs(1), *msgs(1, to="+12015550123")])
    assert results[0].error is not None and results[0].error.code is ErrorCode.AUTH_FAILED
    assert results[1].status is S.SUBMITTED
    # a retryable refusal stays data too: the dispatcher requeues it
    down = Fake("a", raises=TransportError("refused"))
    (result,) = await routed({"a": down}).send(msgs(1))
    assert result.error is not None and result.error.code is ErrorCode.NETWORK_ERROR


async def test_lookup_where_every_child_can_be_asked(tmp_path: Any) -> None:
    from msgbridge.adapters.base import ReferenceLookup

    a = open_transport(f"memory://a?dlr=no&journal={tmp_path}/a.jsonl&fail_every=2&fail_code=network_error")
    b = open_transport(f"memory://b?dlr=no&journal={tmp_path}/b.jsonl")
    r = routed({"a": a, "b": b})
    assert isinstance(r, ReferenceLookup)
    batch = [Message(to="+77011234567", text="hi", reference=f"ref-{i}") for i in range(4)]
    sent = {m.reference: res for m, res in zip(batch, await r.send(batch), strict=True)}
    found = await r.lookup([*sent, "never"])
    assert set(found) == set(sent)
    for ref, res in found.items():
        assert (res.link, res.native_id) == (sent[ref].link, sent[ref].native_id)
    assert {res.link for res in found.values()} == {"memory://a", "memory://b"}


def test_no_lookup_unless_every_child_can_be_asked(tmp_path: Any) -> None:
    from msgbridge.adapters.base import ReferenceLookup

    a = open_transport(f"memory://a?journal={tmp_path}/a.jsonl")
    assert not isinstance(routed({"a": a, "b": memory("b")}), ReferenceLookup)


def test_relinked_is_replace() -> None:
    from dataclasses import replace

    from msgbridge.core.errors import ErrorInfo
    from msgbridge.core.message import Attempt
    from msgbridge.routing.transport import relinked

    result = SendResult(
        "m", S.SUBMITTED, "n2", ("n1", "n2"), 2, ErrorInfo(ErrorCode.PARTIAL), ("w",), {"k": 1}, "old", ()
    )
    attempts = (Attempt("a", "memory://a", None, 1.0),)
    assert relinked(result, "memory://b", attempts) == replace(result, link="memory://b", attempts=attempts)
