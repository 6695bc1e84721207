"""The runtime's routed lanes: ``auto`` and ``route:NAME``, one per ``[[routes]]`` entry.

Each is a :class:`~msgbridge.routing.transport.RoutedTransport` over the very transport instances the
plain lanes hold, so the process keeps one SMPP bind set per connector however many routes use it. The
plain lanes own those transports: they open and close them and read their receipts and MO (a receipt is
matched in the store by the child's link, which the routed transport puts on each result). A routed lane
only sends: its transport never closes the children, and all of them share one breaker, so a transport
has one circuit whichever route, or ``auto``, found it failing.

A submission names a lane: ``auto`` (the first route that matches each message) or ``route:NAME``; its
idempotency key and its lane's claim carry that name as for a plain transport (``lane_origin``). A plain
transport named ``auto`` or ``route`` would share those keys, so with routes configured it is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from msgbridge.adapters.base import Transport
from msgbridge.core.breaker import CircuitInfo, CircuitState
from msgbridge.core.errors import ConfigError
from msgbridge.routing.config import Route, RoutingConfig
from msgbridge.routing.transport import AUTO, ROUTE_PREFIX, RoutedTransport
from msgbridge.service.contract import CircuitHealth, RouteInfo

RESERVED = frozenset({AUTO, ROUTE_PREFIX.rstrip(":")})  # plain names whose keys a routed lane's would match


def lane_name(route: Route) -> str:
    """The lane (and submission ``transport``) a route is sent through by name."""
    return f"{ROUTE_PREFIX}{route.name.lower()}"


class RouteTable:
    """The routed lanes of one runtime: their names, what each sends through, their transports."""

    def __init__(self, routing: RoutingConfig, transports: Collection[str]) -> None:
        """``transports``: the plain lanes' names. ConfigError when a route names one that is not among
        them, or a plain name is one a routed lane needs."""
        self.routing = routing
        self.routes: dict[str, Route | None] = {}  # lane name -> its route; None: auto
        if not routing.routes:
            return
        clash = sorted(RESERVED.intersection(transports))
        if clash:
            raise ConfigError(
                f"transport {clash[0]!r}: with [[routes]] configured the name means routing "
                "(auto, route:NAME); give the transport another name in [transports]"
            )
        self.routes[AUTO] = None
        for route in routing.routes:
            name = lane_name(route)
            if name in self.routes:
                raise ConfigError(f"two [[routes]] are named {route.name!r} (names are not case-sensitive)")
            missing = [t for t in route.transports if t not in transports]
            if missing:
                raise ConfigError(
                    f"[[routes]] {route.name!r} names transport {missing[0]!r}, which this runtime does not "
                    f"run (it runs {', '.join(transports)})"
                )
            self.routes[name] = route

    def __bool__(self) -> bool:
        return bool(self.routes)

    @property
    def names(self) -> tuple[str, ...]:
        """``auto`` first, then one per route in the order configured; empty without routes."""
        return tuple(self.routes)

    def carriers(self, lane: str) -> tuple[str, ...]:
        """The plain transports a message sent to routed lane ``lane`` may go out on."""
        route = self.routes[lane]
        if route is not None:
            return route.transports
        return tuple(dict.fromkeys(t for r in self.routing.routes for t in r.transports))

    def transports(self, children: Mapping[str, Transport]) -> dict[str, RoutedTransport]:
        """A routed transport per lane over ``children`` (the plain lanes' instances), one breaker shared."""
        out: dict[str, RoutedTransport] = {}
        if not self.routes:
            return out
        used = self.carriers(AUTO)
        auto = RoutedTransport({t: children[t] for t in used}, self.routing, close_children=False)
        out[AUTO] = auto
        for lane, route in self.routes.items():
            if route is not None:
                out[lane] = RoutedTransport(
                    {t: children[t] for t in route.transports},
                    self.routing,
                    route=route.name,
                    close_children=False,
                    breaker=auto.breaker,
                )
        return out

    def infos(self) -> list[RouteInfo]:
        return [
            RouteInfo(name=r.name, lane=lane, strategy=r.strategy.value, transports=r.transports)
            for lane, r in self.routes.items()
            if r is not None
        ]


def circuits(routed: Mapping[str, RoutedTransport]) -> dict[str, CircuitHealth]:
    """Each routed-to transport's circuit (the breaker is shared, so ``auto`` sees every one)."""
    auto = routed.get(AUTO)
    if auto is None:
        return {}
    now = auto.clock()
    return {c.name: _health(c, now) for c in auto.circuits()}


def _health(c: CircuitInfo, now: float) -> CircuitHealth:
    probe_in = None
    if c.state is CircuitState.OPEN and c.open_until is not None:
        probe_in = max(0.0, c.open_until - now)
    return CircuitHealth(state=c.state.value, failures=c.failures, opened=c.opened, probe_in=probe_in)
