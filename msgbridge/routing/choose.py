"""The order a route's transports are tried in for one message.

- ``failover``: as listed.
- ``weighted``: the transport a hash of ``message.id`` picks by weight, then the rest as listed. The hash
  is stable (BLAKE2b, not Python's salted ``hash``), so a message retried or re-run later, in this
  process or another, goes to the same transport first: a retry never hops between providers by chance.
- ``cheapest``: by price per segment for ``message.to`` (``Prices``), unpriced transports last, ties in
  the listed order. Amounts are compared as written: a route whose tables are in different currencies
  is compared without conversion.
"""

from __future__ import annotations

from hashlib import blake2b

from msgbridge.core.message import Message
from msgbridge.routing.config import Route, Strategy
from msgbridge.routing.prices import Prices

_SPAN = float(1 << 64)


def sticky_point(message_id: str) -> float:
    """A number in [0, 1) that depends only on ``message_id``, spread evenly over ids."""
    digest = blake2b(message_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SPAN


def weighted_pick(weights: tuple[float, ...], point: float) -> int:
    """The index whose share of the total weight ``point`` (in [0, 1)) falls in."""
    target = point * sum(weights)
    running = 0.0
    last = 0
    for i, weight in enumerate(weights):
        if weight <= 0:
            continue
        running += weight
        last = i
        if target < running:
            return i
    return last  # rounding at the very top


def candidates(route: Route, message: Message, prices: Prices) -> tuple[str, ...]:
    """The transports of ``route`` in the order they are tried for ``message``."""
    listed = route.transports
    if route.strategy is Strategy.WEIGHTED and len(listed) > 1:
        first = weighted_pick(route.weights, sticky_point(message.id))
        return (listed[first], *listed[:first], *listed[first + 1 :])
    if route.strategy is Strategy.CHEAPEST and len(listed) > 1:
        order = []
        for i, name in enumerate(listed):
            price = prices.price(name, message.to)
            order.append((price is None, price.micros if price is not None else 0, i, name))
        order.sort()
        return tuple(name for *_, name in order)
    return listed
