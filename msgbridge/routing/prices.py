"""Price tables: what one segment costs through a transport, by destination prefix or country.

Prices are kept in millionths of the currency unit (micros) as integers, so a campaign's expected cost is
an exact sum whatever its size: 100,000 messages at 0.015 add up to 1500, not 1499.9999999. A price with
more than six decimals is refused rather than rounded.

A table is written inline under ``[prices.NAME]`` (``"7701" = 0.015``, ``"KZ" = 0.018``), or in a CSV
file it names (``file = "prices.csv"``, columns ``prefix,price[,currency]``, an optional header line), or
both (the inline entries win). The longest digit prefix of the number decides; a two-letter key is a
country (``msgbridge.routing.numbers.country``) and applies where no digit prefix matches.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import phonenumbers

from msgbridge.core.errors import ConfigError
from msgbridge.core.money import MICROS, format_micros
from msgbridge.routing import numbers

_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


@dataclass(frozen=True, slots=True)
class Price:
    """One segment's price: ``micros`` millionths of ``currency`` (``Price(15_000, "EUR")`` is 0.015 EUR)."""

    micros: int
    currency: str

    def __str__(self) -> str:
        return format_micros(self.micros, self.currency)


def parse_price(value: object, where: str) -> int:
    """A price as TOML or CSV gives it (``0.015``, ``"0.015"``, ``2``) -> micros; ConfigError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where}: a price must be a number, got {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigError(f"{where}: a price must be a number, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{where}: a price must be a number >= 0, got {value!r}")
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        raise ConfigError(f"{where}: a price has at most 6 decimals, got {value!r}")
    return int(micros)


def _key(raw: str, where: str) -> str:
    """A table key: digits (a ``+`` dropped) or an ISO country in capitals."""
    key = raw.strip().removeprefix("+")
    if key.isascii() and key.isdigit():
        return key
    if key.upper() in _REGIONS:
        return key.upper()
    raise ConfigError(f"{where}: {raw!r} is neither a digit prefix nor a two-letter country code")


def _currency(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or not value.strip().isalpha():
        raise ConfigError(f"{where}: currency must be a code such as EUR, got {value!r}")
    return value.strip().upper()


class PriceTable:
    """One transport's prices: digit prefixes (longest wins), then countries."""

    __slots__ = ("_countries", "_longest", "_prefixes")

    def __init__(self, prefixes: Mapping[str, Price], countries: Mapping[str, Price] | None = None) -> None:
        self._prefixes = dict(prefixes)
        self._countries = dict(countries or {})
        self._longest = max(map(len, self._prefixes), default=0)

    def price(self, e164: str) -> Price | None:
        """The longest digit prefix's price, else the number's country's, else None."""
        digits = e164.removeprefix("+")
        prefixes = self._prefixes
        for n in range(min(self._longest, len(digits)), 0, -1):
            found = prefixes.get(digits[:n])
            if found is not None:
                return found
        if self._countries:
            region = numbers.country(e164)
            if region is not None:
                return self._countries.get(region)
        return None

    @property
    def longest_prefix(self) -> int:
        """Digits in its longest prefix: a number's price depends only on that many leading digits and
        its country."""
        return self._longest

    def __len__(self) -> int:
        return len(self._prefixes) + len(self._countries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PriceTable):
            return NotImplemented
        return self._prefixes == other._prefixes and self._countries == other._countries

    def __hash__(self) -> int:
        return hash((frozenset(self._prefixes.items()), frozenset(self._countries.items())))

    def __repr__(self) -> str:
        return f"PriceTable({len(self._prefixes)} prefixes, {len(self._countries)} countries)"


class Prices(Mapping[str, PriceTable]):
    """Transport name -> its :class:`PriceTable`; a transport without one has no price."""

    __slots__ = ("_tables",)

    def __init__(self, tables: Mapping[str, PriceTable]) -> None:
        self._tables = dict(tables)

    def price(self, transport: str, e164: str) -> Price | None:
        table = self._tables.get(transport)
        return table.price(e164) if table is not None else None

    def __getitem__(self, name: str) -> PriceTable:
        return self._tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Prices):
            return NotImplemented
        return self._tables == other._tables

    def __hash__(self) -> int:
        return hash(frozenset(self._tables))

    def __repr__(self) -> str:
        return f"Prices({self._tables!r})"


_TABLE_KEYS = ("currency", "file")


def read_table(section: object, *, where: str, base: Path) -> PriceTable:
    """One ``[prices.NAME]`` table: its inline entries over those of the CSV ``file`` it names."""
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a table of PREFIX = price")
    currency = _currency(section["currency"], where) if "currency" in section else None
    entries: dict[str, Price] = {}
    file = section.get("file")
    if file is not None:
        if not isinstance(file, str) or not file:
            raise ConfigError(f"{where}: file must be a path")
        path = Path(file) if Path(file).is_absolute() else base / file
        entries.update(_read_csv(path, currency))
    for raw, value in section.items():
        if raw in _TABLE_KEYS:
            continue
        key = _key(raw, where)
        if currency is None:
            raise ConfigError(f'{where}: give currency = "..." for the prices written inline')
        entries[key] = Price(parse_price(value, f"{where} {raw!r}"), currency)
    prefixes = {k: p for k, p in entries.items() if k.isdigit()}
    countries = {k: p for k, p in entries.items() if not k.isdigit()}
    return PriceTable(prefixes, countries)


def _read_csv(path: Path, currency: str | None) -> dict[str, Price]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise ConfigError(f"price file {path}: {exc.strerror or exc}") from exc
    out: dict[str, Price] = {}
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        where = f"price file {path} line {line}"
        if line == 1 and cells[0].lower() == "prefix":
            continue  # the header
        if len(cells) not in (2, 3):
            raise ConfigError(f"{where}: expected prefix,price[,currency], got {len(cells)} columns")
        row_currency = _currency(cells[2], where) if len(cells) == 3 and cells[2] else currency
        if row_currency is None:
            raise ConfigError(f"{where}: no currency (a third column, or currency in the [prices] table)")
        out[_key(cells[0], where)] = Price(parse_price(cells[1], where), row_currency)
    return out
