"""What routing costs a message on top of its transport: a routed transport over children that do nothing.

    python benchmarks/routing_overhead.py               # 50,000 messages in sends of 1,000
    python benchmarks/routing_overhead.py --count 10000

Each child answers SUBMITTED at once, so what is measured is the routed transport itself: the route
match, the candidates, the circuit check, grouping, the result's link and attempts. Printed per message
in microseconds, and as a ratio of the same child sent to directly.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence

from msgbridge.adapters.base import Capabilities, Transport
from msgbridge.core.message import Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import TransportURL
from msgbridge.routing.config import Route, RouteMatch, RoutingConfig, Strategy
from msgbridge.routing.prices import Price, Prices, PriceTable
from msgbridge.routing.transport import RoutedTransport


class Null(Transport):
    scheme = "null"
    capabilities = Capabilities(max_batch=1000)

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        return [SendResult(m.id, DeliveryStatus.SUBMITTED, m.id) for m in messages]


def null(name: str) -> Null:
    return Null(TransportURL.parse(f"null://{name}"))


async def per_message(transport: Transport, messages: list[Message]) -> float:
    started = time.perf_counter()
    for i in range(0, len(messages), 1000):
        await transport.send(messages[i : i + 1000])
    return (time.perf_counter() - started) / len(messages) * 1e6


async def main(count: int) -> None:
    messages = [Message(to=f"+7701{i:07d}", text="hello") for i in range(count)]
    alone = await per_message(null("a"), messages)
    prices = Prices(
        {"b": PriceTable({"7": Price(20_000, "EUR")}), "c": PriceTable({"7701": Price(15_000, "EUR")})}
    )
    cases = {
        "failover, default route": Route("d", ("b", "c")),
        "failover, prefix match": Route("kz", ("b", "c"), RouteMatch(prefixes=("7701",))),
        "weighted, country match": Route(
            "kz", ("b", "c"), RouteMatch(countries=("KZ",)), strategy=Strategy.WEIGHTED, weights=(1, 1)
        ),
        "cheapest, prefix prices": Route("d", ("b", "c"), strategy=Strategy.CHEAPEST),
    }
    print(f"{'child alone':<26} {alone:6.1f} us/message")
    for name, route in cases.items():
        routed = RoutedTransport(
            {"b": null("b"), "c": null("c")}, RoutingConfig(routes=(route,), prices=prices)
        )
        took = await per_message(routed, messages)
        print(f"{name:<26} {took:6.1f} us/message, {took - alone:5.1f} over the child ({took / alone:.1f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().count))
