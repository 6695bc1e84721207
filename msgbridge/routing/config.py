"""Routes, breaker settings and prices as ``msgbridge.toml`` declares them (``[[routes]]``, ``[breaker]``,
``[prices.NAME]``; the keys are in ``msgbridge/config.py``'s docstring and docs/routing.md).

Everything is checked when the file is read, so a typo in a route (a transport that does not exist, an
error code misspelt, weights that do not line up with the transports) stops the run before a message is
queued instead of sending through the wrong route.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.message import Message
from msgbridge.routing import numbers
from msgbridge.routing.prices import Prices, read_table


class Strategy(StrEnum):
    FAILOVER = "failover"  # the transports in the order listed
    WEIGHTED = "weighted"  # one picked by weight, sticky per message id; then the rest as listed
    CHEAPEST = "cheapest"  # by the price table for the destination; unpriced last


class RateUnit(StrEnum):
    MESSAGES = "messages"
    SEGMENTS = "segments"  # a 3-part message counts 3, as it does against an SMSC's TPS


# The outcomes known to be a non-send: moving the message on cannot deliver it twice. WRONG_SERVER is in
# the list as "exhausted": the transport tried its other servers before it answered so.
DEFAULT_FAILOVER: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.NETWORK_ERROR,
        ErrorCode.AUTH_FAILED,
        ErrorCode.ACCOUNT_BLOCKED,
        ErrorCode.INSUFFICIENT_FUNDS,
        ErrorCode.WRONG_SERVER,
        ErrorCode.TEMPORARY_FAILURE,
        ErrorCode.UNSUPPORTED,
    }
)


def _tags(message: Message) -> tuple[str, ...]:
    raw = message.metadata.get("tags", "")
    return tuple(t.strip() for t in raw.split(",") if t.strip()) if raw else ()


@dataclass(frozen=True)
class RouteMatch:
    """What a message must have for its route to apply: every key given must match (any of its values).

    No keys: matches every message (a default route).
    """

    prefixes: tuple[str, ...] = ()  # E.164 digits without "+"
    countries: tuple[str, ...] = ()  # ISO 3166 alpha-2
    number_types: tuple[str, ...] = ()  # "mobile" | "fixed"
    senders: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()  # fnmatch patterns
    tags: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    def matches(self, message: Message) -> bool:
        to = message.to
        if self.channels and message.channel.value not in self.channels:
            return False
        if self.prefixes and not to.removeprefix("+").startswith(self.prefixes):
            return False
        if self.senders and message.sender not in self.senders:
            return False
        if self.campaigns and (
            message.campaign is None
            or not any(fnmatch.fnmatchcase(message.campaign, p) for p in self.campaigns)
        ):
            return False
        if self.tags and not set(self.tags).intersection(_tags(message)):
            return False
        if self.countries and numbers.country(to) not in self.countries:
            return False
        return not self.number_types or not numbers.number_types(to).isdisjoint(self.number_types)

    @property
    def empty(self) -> bool:
        return not any(
            (self.prefixes, self.countries, self.number_types, self.senders, self.campaigns, self.tags,
             self.channels)
        )  # fmt: skip


@dataclass(frozen=True)
class Route:
    name: str
    transports: tuple[str, ...]
    match: RouteMatch = RouteMatch()
    strategy: Strategy = Strategy.FAILOVER
    weights: tuple[float, ...] = ()
    failover_on: frozenset[ErrorCode] = DEFAULT_FAILOVER
    failover_on_timeout: bool = False
    temporary_retries: int = 2
    rate: float | None = None
    rate_unit: RateUnit = RateUnit.MESSAGES


@dataclass(frozen=True)
class BreakerSettings:
    """``[breaker]``: when a transport's circuit opens (``msgbridge.core.breaker``)."""

    failures: int = 5  # consecutive connection-level failures
    error_rate: float = 0.5  # or this share of the calls in the window failed ...
    window: float = 30.0  # ... over this many seconds
    min_calls: int = 20  # ... with at least this many calls in it
    cooldown: float = 30.0  # seconds open before one half-open probe


NO_PRICES = Prices({})


@dataclass(frozen=True)
class RoutingConfig:
    routes: tuple[Route, ...] = ()
    prices: Prices = NO_PRICES
    breaker: BreakerSettings = BreakerSettings()

    def route(self, name: str) -> Route:
        """The route named ``name``; ConfigError naming the configured ones."""
        for route in self.routes:
            if route.name == name:
                return route
        names = ", ".join(r.name for r in self.routes) or "none configured"
        raise ConfigError(
            f"unknown route {name!r} (configured: {names}); routes are [[routes]] in msgbridge.toml"
        )

    def route_for(self, message: Message) -> Route | None:
        """The first route whose match keys the message has; None when none does."""
        for route in self.routes:
            if route.match.matches(message):
                return route
        return None


# -- reading ----------------------------------------------------------------------------------------------

_MATCH_KEYS = ("prefixes", "countries", "number_types", "senders", "campaigns", "tags", "channels")
_ROUTE_KEYS = (
    "name", *_MATCH_KEYS, "transports", "strategy", "weights", "failover_on", "failover_on_timeout",
    "temporary_retries", "rate", "rate_unit",
)  # fmt: skip
_BREAKER_KEYS = ("failures", "error_rate", "window", "min_calls", "cooldown")
_CHANNELS = ("sms", "email")


def _strings(value: object, where: str) -> tuple[str, ...]:
    """A list of non-empty strings (one string is a list of one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise ConfigError(f"{where} must be a list of non-empty strings, got {value!r}")
    return tuple(i.strip() for i in items)


def _choice(value: object, enum: type[StrEnum], where: str) -> StrEnum:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return enum(value.lower())
    except ValueError:
        known = ", ".join(e.value for e in enum)
        raise ConfigError(f"{where} must be one of {known}, got {value!r}") from None


def _number(value: object, where: str, *, low: float, low_ok: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    number = float(value)
    if number != number or number == float("inf") or number < low or (number == low and not low_ok):
        raise ConfigError(f"{where} must be a number {'>=' if low_ok else '>'} {low:g}, got {value!r}")
    return number


def _whole(value: object, where: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{where} must be a whole number >= {low}, got {value!r}")
    return value


def _match(table: Mapping[str, object], where: str) -> RouteMatch:
    values: dict[str, tuple[str, ...]] = {}
    for key in _MATCH_KEYS:
        if key not in table:
            continue
        items = _strings(table[key], f"{where} {key}")
        if key == "prefixes":
            items = tuple(p.removeprefix("+") for p in items)
            bad = [p for p in items if not (p.isascii() and p.isdigit())]
            if bad:
                raise ConfigError(f"{where} prefixes must be digits (E.164 without +), got {bad[0]!r}")
        elif key == "countries":
            items = tuple(c.upper() for c in items)
            bad = [c for c in items if len(c) != 2 or not c.isalpha()]
            if bad:
                raise ConfigError(
                    f"{where} countries must be ISO 3166 alpha-2 codes such as KZ, got {bad[0]!r}"
                )
        elif key in ("number_types", "channels"):
            items = tuple(i.lower() for i in items)
            known = numbers.NUMBER_TYPES if key == "number_types" else _CHANNELS
            bad = [i for i in items if i not in known]
            if bad:
                raise ConfigError(f"{where} {key} must be among {', '.join(known)}, got {bad[0]!r}")
        values[key] = items
    return RouteMatch(**values)


def read_route(table: object, *, index: int, transports: Collection[str], source: str | None = None) -> Route:
    """One ``[[routes]]`` entry (``index`` from 1, for the messages)."""
    prefix = f"{source}: " if source else ""
    where = f"{prefix}[[routes]] #{index}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where} needs a name")
    name = name.strip()
    where = f"{prefix}[[routes]] {name!r}"
    unknown = sorted(set(table) - set(_ROUTE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(_ROUTE_KEYS)})")
    if "transports" not in table:
        raise ConfigError(f"{where} names no transports")
    names = tuple(t.lower() for t in _strings(table["transports"], f"{where} transports"))
    if not names:
        raise ConfigError(f"{where} names no transports")
    missing = [t for t in names if t not in transports]
    if missing:
        known = ", ".join(sorted(transports)) or "none configured"
        raise ConfigError(f"{where}: unknown transport {missing[0]!r} (in [transports]: {known})")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where} names a transport twice")
    strategy = Strategy(_choice(table.get("strategy", "failover"), Strategy, f"{where} strategy"))
    weights: tuple[float, ...] = ()
    if "weights" in table:
        if strategy is not Strategy.WEIGHTED:
            raise ConfigError(f'{where}: weights go with strategy = "weighted" only')
        raw = table["weights"]
        if not isinstance(raw, list):
            raise ConfigError(f"{where} weights must be a list of numbers, one per transport")
        weights = tuple(_number(w, f"{where} weights", low=0, low_ok=True) for w in raw)
    if strategy is Strategy.WEIGHTED:
        if len(weights) != len(names):
            raise ConfigError(
                f"{where}: {len(weights)} weights for {len(names)} transports (one weight per transport)"
            )
        if sum(weights) <= 0:
            raise ConfigError(f"{where}: the weights add up to 0")
    failover_on = DEFAULT_FAILOVER
    if "failover_on" in table:
        codes = []
        for code in _strings(table["failover_on"], f"{where} failover_on"):
            try:
                codes.append(ErrorCode(code.upper()))
            except ValueError:
                known = ", ".join(c.value for c in ErrorCode)
                raise ConfigError(
                    f"{where} failover_on: unknown error code {code!r} (known: {known})"
                ) from None
        failover_on = frozenset(codes)
    timeout = table.get("failover_on_timeout", False)
    if not isinstance(timeout, bool):
        raise ConfigError(f"{where} failover_on_timeout must be true or false")
    retries = _whole(table.get("temporary_retries", 2), f"{where} temporary_retries", low=0)
    rate = None
    if "rate" in table:
        rate = _number(table["rate"], f"{where} rate", low=0, low_ok=False)
    unit = RateUnit(_choice(table.get("rate_unit", "messages"), RateUnit, f"{where} rate_unit"))
    return Route(
        name=name,
        transports=names,
        match=_match(table, where),
        strategy=strategy,
        weights=weights,
        failover_on=failover_on,
        failover_on_timeout=timeout,
        temporary_retries=retries,
        rate=rate,
        rate_unit=unit,
    )


def read_breaker(section: object, where: str = "[breaker]") -> BreakerSettings:
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(section) - set(_BREAKER_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(_BREAKER_KEYS)})")
    values: dict[str, float | int] = {}
    for key, value in section.items():
        if key in ("failures", "min_calls"):
            values[key] = _whole(value, f"{where} {key}", low=1)
        elif key == "error_rate":
            rate = _number(value, f"{where} error_rate", low=0, low_ok=False)
            if rate > 1:
                raise ConfigError(f"{where} error_rate is a share of calls, more than 0 and at most 1")
            values[key] = rate
        elif key == "window":
            values[key] = _number(value, f"{where} window", low=0, low_ok=False)
        else:
            values[key] = _number(value, f"{where} cooldown", low=0, low_ok=True)
    return BreakerSettings(**values)  # type: ignore[arg-type]


def read_routing(
    raw: Mapping[str, object], *, base: Path, transports: Collection[str], source: str | None = None
) -> RoutingConfig:
    """``[[routes]]``, ``[breaker]`` and ``[prices.NAME]`` of a config document (other keys are ignored).

    ``transports``: the configured transport names, which routes and price tables must name. ``base``: the
    directory relative price files are read from (the config file's). ConfigError for any bad key or value.
    """
    prefix = f"{source}: " if source else ""
    raw_routes = raw.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ConfigError(f"{prefix}routes must be [[routes]] tables")
    routes = tuple(
        read_route(t, index=i, transports=transports, source=source) for i, t in enumerate(raw_routes, 1)
    )
    seen: set[str] = set()
    for route in routes:
        if route.name in seen:
            raise ConfigError(f"{prefix}two [[routes]] are named {route.name!r}")
        seen.add(route.name)
    breaker = read_breaker(raw.get("breaker", {}), f"{prefix}[breaker]")
    raw_prices = raw.get("prices", {})
    if not isinstance(raw_prices, dict):
        raise ConfigError(f"{prefix}[prices.NAME] must be tables, one per transport")
    tables = {}
    for name, section in raw_prices.items():
        where = f"{prefix}[prices.{name}]"
        if name.lower() not in transports:
            known = ", ".join(sorted(transports)) or "none configured"
            raise ConfigError(f"{where}: no transport named {name!r} (in [transports]: {known})")
        tables[name.lower()] = read_table(section, where=where, base=base)
    return RoutingConfig(routes=routes, prices=Prices(tables), breaker=breaker)
