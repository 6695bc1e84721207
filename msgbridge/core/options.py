"""Declared URL options: each transport lists what it reads, with type, range, default and meaning.

Query options read one by one where they are used let ``timeout=nan`` hang,
``timeout=0`` time everything out and ``widnow=5`` pass unnoticed. So every
transport declares an :class:`OptionSet`, and ``Transport.__init__`` reads its
URL through it (``transport.settings``). That refuses unknown names (listing
the known ones, with a did-you-mean), values of the wrong type, NaN and
infinities, and values outside the declared range, all as one-line
ConfigErrors before anything connects. The same declarations feed
``msgbridge transports --options``/``--json``, the hiding of ``private``
values wherever a URL is shown, and the option tables in ``docs/`` and the
README (tests keep those equal).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from msgbridge.core.errors import ConfigError
from msgbridge.core.url import TransportURL

OptionValue = int | float | bool | str | None

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
# Long enough for any number we accept; int() of a longer string is refused before it is attempted.
MAX_NUMBER_CHARS = 32
MAX_TEXT_CHARS = 2048
SHOWN_VALUE_CHARS = 40


class Kind(StrEnum):
    INT = "int"
    FLOAT = "number"
    BOOL = "yes/no"
    TEXT = "text"
    CHOICE = "choice"


@dataclass(frozen=True)
class Option:
    """One query option: how to read it and what it means."""

    name: str
    kind: Kind
    default: OptionValue
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is not allowed ("more than 0")
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    pattern: str | None = None  # TEXT: the whole value must match
    max_length: int = MAX_TEXT_CHARS  # TEXT
    shown_default: str | None = None  # how the docs describe a default computed elsewhere
    private: bool = False  # a credential: shown as *** wherever the URL is printed, logged or stored

    def range_text(self) -> str:
        """The accepted values, as the docs and error messages say them."""
        if self.kind is Kind.BOOL:
            return "yes/no"
        if self.kind is Kind.CHOICE:
            return " | ".join(self.choices)
        if self.kind is Kind.TEXT:
            limits = [f"`{self.pattern}`"] if self.pattern else []
            if self.max_length != MAX_TEXT_CHARS:
                limits.append(f"≤ {self.max_length} chars")
            return ", ".join(limits) or "any"
        low = _num(self.low)
        high = _num(self.high)
        if self.low_open:
            return f"> {low} to {high}"
        return f"{low} to {high}"

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return "yes" if self.default else "no"
        if isinstance(self.default, float):
            return _num(self.default)
        return str(self.default) if self.default != "" else "empty"

    def described(self) -> str:
        """The meaning as the tables print it: a private option says that it is hidden."""
        return f"{self.doc} (private: shown as `***`)" if self.private else self.doc

    def parse(self, scheme: str, raw: str) -> OptionValue:
        """The typed value of ``raw``; ConfigError naming the option and what it accepts otherwise."""
        if self.kind is Kind.BOOL:
            word = raw.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise self._refuse(scheme, raw, "yes/no (1, true, yes, on / 0, false, no, off)")
        if self.kind is Kind.CHOICE:
            word = raw.strip().lower()
            if word not in self.choices:
                # A '+' in a query decodes to a space: mode=tx+rx arrives as "tx rx".
                word = word.replace(" ", "+")
            if word not in self.choices:
                raise self._refuse(scheme, raw, f"one of {', '.join(self.choices)}")
            return word
        if self.kind is Kind.TEXT:
            if len(raw) > self.max_length:
                raise ConfigError(
                    f"{scheme}:// option {self.name} is {len(raw)} characters long; at most {self.max_length} allowed"
                )
            if self.pattern is not None and raw and not re.fullmatch(self.pattern, raw):
                raise self._refuse(scheme, raw, self.doc)
            return raw
        return self._number(scheme, raw)

    def _number(self, scheme: str, raw: str) -> int | float:
        text = raw.strip()
        whole = "a whole number" if self.kind is Kind.INT else "a number"
        expected = f"{whole} from {self.range_text()}"
        if not text or len(text) > MAX_NUMBER_CHARS:
            raise self._refuse(scheme, raw, expected)
        value: int | float
        try:
            value = int(text) if self.kind is Kind.INT else float(text)
        except ValueError:
            raise self._refuse(scheme, raw, expected) from None
        if not math.isfinite(value):
            raise self._refuse(scheme, raw, expected)
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and value > self.high
        if too_low or too_high:
            raise self._refuse(scheme, raw, expected)
        return value

    def _refuse(self, scheme: str, raw: str, expected: str) -> ConfigError:
        shown = raw if len(raw) <= SHOWN_VALUE_CHARS else raw[:SHOWN_VALUE_CHARS] + "..."
        return ConfigError(f"{scheme}:// option {self.name}={shown!r}: expected {expected}")


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if value == int(value) else f"{value:g}"


# -- constructors that read like a table --------------------------------------


def integer(name: str, default: int | None, low: int, high: int, doc: str, **kw: object) -> Option:
    return Option(name, Kind.INT, default, doc, low=low, high=high, **kw)  # type: ignore[arg-type]


def number(
    name: str, default: float | None, low: float, high: float, doc: str, *, above: bool = False, **kw: object
) -> Option:
    """A float option; ``above=True`` means ``low`` itself is refused (a timeout must be more than 0)."""
    return Option(name, Kind.FLOAT, default, doc, low=low, high=high, low_open=above, **kw)  # type: ignore[arg-type]


def flag(name: str, default: bool | None, doc: str, **kw: object) -> Option:
    return Option(name, Kind.BOOL, default, doc, **kw)  # type: ignore[arg-type]


def text(name: str, default: str | None, doc: str, **kw: object) -> Option:
    return Option(name, Kind.TEXT, default, doc, **kw)  # type: ignore[arg-type]


def choice(name: str, default: str | None, choices: tuple[str, ...], doc: str, **kw: object) -> Option:
    return Option(name, Kind.CHOICE, default, doc, choices=choices, **kw)  # type: ignore[arg-type]


# -- a transport's declarations and what reading a URL through them gives -------


@dataclass(frozen=True)
class OptionValues(Mapping[str, OptionValue]):
    """The options of one URL, typed, defaults filled in; ``given`` says which the URL set itself."""

    typed: dict[str, OptionValue]
    given: frozenset[str] = field(default_factory=frozenset)

    def __getitem__(self, name: str) -> OptionValue:
        return self.typed[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.typed)

    def __len__(self) -> int:
        return len(self.typed)

    def get_int(self, name: str) -> int:
        value = self.typed[name]
        assert isinstance(value, int) and not isinstance(value, bool), name
        return value

    def get_float(self, name: str) -> float:
        value = self.typed[name]
        assert isinstance(value, int | float) and not isinstance(value, bool), name
        return float(value)

    def get_bool(self, name: str) -> bool:
        value = self.typed[name]
        assert isinstance(value, bool), name
        return value

    def get_str(self, name: str) -> str:
        value = self.typed[name]
        assert isinstance(value, str), name
        return value

    def get_text(self, name: str) -> str | None:
        """A text option, None when neither the URL nor the declaration gives one (or it is empty)."""
        value = self.typed[name]
        assert value is None or isinstance(value, str), name
        return value or None

    def maybe_float(self, name: str) -> float | None:
        value = self.typed[name]
        return None if value is None else self.get_float(name)

    def maybe_int(self, name: str) -> int | None:
        value = self.typed[name]
        return None if value is None else self.get_int(name)


class OptionSet:
    """The options one transport reads. ``a + b`` combines sets (shared HTTP options plus a provider's own)."""

    def __init__(self, *options: Option) -> None:
        self.options: tuple[Option, ...] = options
        self._by_name: dict[str, Option] = {}
        for option in options:
            for name in (option.name, *option.aliases):
                if name in self._by_name:
                    raise ValueError(f"option {name} declared twice")
                self._by_name[name] = option

    def __add__(self, other: OptionSet) -> OptionSet:
        return OptionSet(*self.options, *other.options)

    def without(self, other: OptionSet) -> OptionSet:
        """The options of this set that ``other`` does not declare (a provider's own, without the shared ones)."""
        return OptionSet(*(o for o in self.options if o.name not in other))

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Option:
        return self._by_name[name]

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def private_names(self) -> frozenset[str]:
        """The names (aliases too) whose values a printed URL hides."""
        return frozenset(name for name, option in self._by_name.items() if option.private)

    def read(self, url: TransportURL) -> OptionValues:
        """Every option of ``url`` checked and typed; declared defaults for the rest."""
        values: dict[str, OptionValue] = {o.name: o.default for o in self.options}
        given: dict[str, str] = {}
        for key, raw in url.options.items():
            option = self._by_name.get(key)
            if option is None:
                raise self.unknown(url.scheme, key)
            if option.name in given:
                raise ConfigError(
                    f"{url.scheme}:// options {given[option.name]} and {key} are the same option: give one"
                )
            given[option.name] = key
            if raw == "" and option.kind is not Kind.TEXT:
                continue  # "?timeout=" means the default, as it always has
            values[option.name] = option.parse(url.scheme, raw)
        return OptionValues(values, frozenset(given))

    def unknown(self, scheme: str, key: str) -> ConfigError:
        close = difflib.get_close_matches(key.lower(), self.names(), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        known = ", ".join(self.names()) or "none"
        return ConfigError(f"{scheme}:// has no option {key!r}{hint}; known options: {known}")

    def describe(self) -> list[dict[str, object]]:
        """For ``msgbridge transports --options --json``."""
        return [
            {
                "name": o.name,
                "aliases": list(o.aliases),
                "type": o.kind.value,
                "range": o.range_text(),
                "default": o.default_text(),
                "doc": o.doc,
                "private": o.private,
            }
            for o in self.options
        ]

    def markdown(self) -> str:
        """The option table the docs carry (kept equal to this by a test)."""
        lines = ["| option | type | range | default | meaning |", "|---|---|---|---|---|"]
        for o in self.options:
            names = " / ".join(f"`{n}`" for n in (o.name, *o.aliases))
            cells = (names, o.kind.value, o.range_text(), o.default_text(), o.described())
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines)


# A transport class that declares nothing (a third-party one written before declarations) reads its URL as it likes.
UNDECLARED: OptionSet | None = None
