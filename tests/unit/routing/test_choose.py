"""The order a route's transports are tried in: failover, weighted (sticky, by weight), cheapest."""

from __future__ import annotations

from collections import Counter

from msgbridge.core.message import Message, new_id
from msgbridge.routing.choose import candidates, sticky_point, weighted_pick
from msgbridge.routing.config import Route, Strategy
from msgbridge.routing.prices import Price, Prices, PriceTable

NONE = Prices({})


def msg(to: str = "+77011234567", id: str | None = None) -> Message:
    return Message(to=to, text="hi", id=id or new_id())


def test_failover_keeps_the_listed_order() -> None:
    route = Route("r", ("a", "b", "c"))
    assert candidates(route, msg(), NONE) == ("a", "b", "c")


def test_weighted_split_is_within_two_percent_over_10000_ids() -> None:
    route = Route("r", ("a", "b", "c"), strategy=Strategy.WEIGHTED, weights=(70, 20, 10))
    firsts = Counter(candidates(route, msg(), NONE)[0] for _ in range(10_000))
    for name, weight in zip(route.transports, (0.7, 0.2, 0.1), strict=True):
        assert abs(firsts[name] / 10_000 - weight) <= 0.02, firsts


def test_weighted_is_sticky_and_the_rest_follow_as_listed() -> None:
    route = Route("r", ("a", "b", "c"), strategy=Strategy.WEIGHTED, weights=(1, 1, 1))
    orders = {}
    for i in range(200):
        m = msg(id=f"id-{i}")
        order = candidates(route, m, NONE)
        assert candidates(route, msg(id=f"id-{i}"), NONE) == order  # same id: same order, always
        assert sorted(order) == ["a", "b", "c"]
        rest = [t for t in route.transports if t != order[0]]
        assert list(order[1:]) == rest
        orders[order[0]] = True
    assert set(orders) == {"a", "b", "c"}


def test_weight_zero_is_never_first() -> None:
    route = Route("r", ("a", "b"), strategy=Strategy.WEIGHTED, weights=(0, 1))
    assert {candidates(route, msg(), NONE)[0] for _ in range(500)} == {"b"}


def test_sticky_point_is_stable_across_processes() -> None:
    # BLAKE2b of the id, not Python's salted hash(): a known value.
    assert (
        sticky_point("abc")
        == int.from_bytes(__import__("hashlib").blake2b(b"abc", digest_size=8).digest()) / 2**64
    )
    assert (
        weighted_pick((1, 1), 0.0) == 0
        and weighted_pick((1, 1), 0.5) == 1
        and weighted_pick((1, 1), 0.999) == 1
    )


def test_cheapest_by_price_unpriced_last_ties_as_listed() -> None:
    prices = Prices({
        "a": PriceTable({"7": Price(20_000, "EUR")}),
        "b": PriceTable({"7701": Price(15_000, "EUR")}),
        "c": PriceTable({"7": Price(15_000, "EUR")}),
    })  # fmt: skip
    route = Route("r", ("d", "a", "b", "c"), strategy=Strategy.CHEAPEST)
    assert candidates(route, msg("+77011234567"), prices) == ("b", "c", "a", "d")
    assert candidates(route, msg("+79161234567"), prices) == ("c", "a", "d", "b")
    assert candidates(route, msg("+12015550123"), prices) == ("d", "a", "b", "c")
