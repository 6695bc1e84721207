"""``--via`` as the CLI and the service read it: ``auto``, ``route:NAME``, a transport name or a URL.

``auto`` and ``route:NAME`` give a :class:`~msgbridge.routing.transport.RoutedTransport` over the
transports the routes name (``auto``: every route's, ``route:NAME``: that route's), each made from its
``[transports]`` URL; anything else is a single transport as before (``Config.resolve_via``). A
transport named ``auto`` in ``[transports]`` is reached by its URL: the word means routing.
"""

from __future__ import annotations

from msgbridge.adapters.base import Transport, open_transport
from msgbridge.config import Config
from msgbridge.core.errors import ConfigError
from msgbridge.routing.transport import AUTO, ROUTE_PREFIX, RoutedTransport


def routed_via(via: str) -> tuple[bool, str | None]:
    """(whether ``via`` asks for routing, the forced route's name or None for ``auto``)."""
    if via == AUTO:
        return True, None
    if via.startswith(ROUTE_PREFIX):
        name = via[len(ROUTE_PREFIX) :].strip()
        if not name:
            raise ConfigError("--via route:NAME needs the name of a [[routes]] entry")
        return True, name
    return False, None


def open_via(config: Config, via: str) -> Transport:
    """The transport ``via`` names, constructed and not yet opened (``async with open_via(...) as t``)."""
    routed, name = routed_via(via)
    if not routed:
        return open_transport(config.resolve_via(via))
    routing = config.routing
    if name is not None:
        used = routing.route(name).transports
    else:
        if not routing.routes:
            raise ConfigError("--via auto needs [[routes]] in msgbridge.toml (docs/routing.md)")
        used = tuple(dict.fromkeys(t for r in routing.routes for t in r.transports))
    children = {t: open_transport(config.resolve_via(t)) for t in used}
    return RoutedTransport(children, routing, route=name)
