"""What a route may match a destination number on besides its digits: its country and its number type.

The country comes from ``msgbridge.core.phonetable`` (tables precompiled from phonenumbers' own metadata,
``region_code_for_number``'s rule) where the tables answer for a plain international number; elsewhere
(a calling code whose national prefix may be stripped, a number too short or long for the tables, a
non-digit spelling) from ``phonenumbers`` itself. The number type always comes from
``phonenumbers.number_type``: the tables keep the type patterns merged per length, which validity needs
but a type cannot be read back from; it is asked only by routes that name ``number_types``, and memoised.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from msgbridge.core import phonetable

MOBILE = "mobile"
FIXED = "fixed"
NUMBER_TYPES = (MOBILE, FIXED)

_TYPES: dict[int, frozenset[str]] = {
    phonenumbers.PhoneNumberType.MOBILE: frozenset({MOBILE}),
    phonenumbers.PhoneNumberType.FIXED_LINE: frozenset({FIXED}),
    # The metadata cannot tell these apart (the US, Canada, ...): a route for either takes them.
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: frozenset({MOBILE, FIXED}),
}
CACHE_SIZE = 1 << 16


def _parsed(e164: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(e164 if e164.startswith("+") else "+" + e164, None)
    except phonenumbers.NumberParseException:
        return None


def country(e164: str) -> str | None:
    """The ISO 3166 alpha-2 region of ``e164`` (``"+77011234567"`` -> ``"KZ"``), None when unknown."""
    digits = e164.removeprefix("+")
    if digits.isascii() and digits.isdigit():
        got = phonetable.split(digits)
        if got is not None:
            table, nsn = got
            if table.names:
                return table.region(nsn)
    return _slow_country(e164)


@lru_cache(maxsize=CACHE_SIZE)
def _slow_country(e164: str) -> str | None:
    parsed = _parsed(e164)
    if parsed is None:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return region if region and region != phonetable.NON_GEO else None


@lru_cache(maxsize=CACHE_SIZE)
def number_types(e164: str) -> frozenset[str]:
    """``{"mobile"}``, ``{"fixed"}``, both (FIXED_LINE_OR_MOBILE) or none (any other type, or invalid)."""
    parsed = _parsed(e164)
    if parsed is None:
        return frozenset()
    return _TYPES.get(phonenumbers.number_type(parsed), frozenset())
