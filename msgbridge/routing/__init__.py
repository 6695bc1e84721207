"""Routing: which transport each message goes through, what it costs, and where it goes when one fails.

``config`` reads ``[[routes]]``, ``[breaker]`` and ``[prices.NAME]``; ``prices`` holds the price tables;
``choose`` orders a route's transports for a message. docs/routing.md describes the rules.
"""

from msgbridge.core.money import format_micros
from msgbridge.routing.choose import candidates
from msgbridge.routing.config import (
    DEFAULT_FAILOVER,
    BreakerSettings,
    RateUnit,
    Route,
    RouteMatch,
    RoutingConfig,
    Strategy,
    read_routing,
)
from msgbridge.routing.prices import Price, Prices, PriceTable

__all__ = [
    "DEFAULT_FAILOVER",
    "BreakerSettings",
    "Price",
    "PriceTable",
    "Prices",
    "RateUnit",
    "Route",
    "RouteMatch",
    "RoutingConfig",
    "Strategy",
    "candidates",
    "format_micros",
    "read_routing",
]
