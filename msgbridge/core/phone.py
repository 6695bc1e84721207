"""Phone numbers in, E.164 out.

Every transport wants a different spelling (with or without ``+``, with a
national prefix, digits only); the core keeps one canonical E.164 form and
adapters derive theirs from it.

How much is checked is the caller's choice (``PhoneCheck``):

- ``strict`` (the default): ``phonenumbers.is_valid_number``, the number is in a range the metadata
  knows to be assigned.
- ``possible``: ``phonenumbers.is_possible_number``, the length suits the country; for numbering ranges
  newer than the installed metadata.
- ``none``: only the E.164 shape: a known country calling code and at most 15 digits in all.

Every level gives the same E.164 string for a number it accepts (``parse`` decides it), so the
idempotency key ``campaign + E.164`` does not change when a re-run uses another level.

Speed: plain international digit strings are answered from tables built out of phonenumbers' own
metadata (msgbridge/core/phonetable.py); everything else goes through ``phonenumbers`` as before.
The parser's answers are memoised: the result is a pure function of (text handed to the parser, region,
level), so an LRU keyed by exactly that is exact.
"""

from __future__ import annotations

import enum
import re
from functools import lru_cache

import phonenumbers

from msgbridge.core import phonetable
from msgbridge.core.errors import InvalidDestination

E164_MAX_DIGITS = 15
CACHE_SIZE = 1 << 16
# An international number spelled with only these separators reaches the parser as its digits.
_PLAIN_INTERNATIONAL = re.compile(r"\+[0-9 ().-]+")
_SEPARATORS = str.maketrans("", "", " ().-")

# Keep compiled metadata patterns for good instead of recompiling those that fall out of ``re``'s cache
# (a process-wide switch of phonenumbers; older releases, which pyproject.toml still allows, lack it).
_enable_pattern_cache = getattr(phonenumbers, "enable_pattern_cache", None)
if _enable_pattern_cache is not None:
    _enable_pattern_cache()


class PhoneCheck(enum.StrEnum):
    STRICT = "strict"
    POSSIBLE = "possible"
    NONE = "none"


def _candidate(text: str, default_region: str | None) -> str:
    """What the parser is given: without a region, ``+`` and the digits (``00`` read as ``+``)."""
    if default_region is None and not text.startswith("+"):
        digits = "".join(ch for ch in text if ch.isdigit())
        if text.startswith("00"):
            digits = digits[2:]
        return "+" + digits
    if _PLAIN_INTERNATIONAL.fullmatch(text):
        return text.translate(_SEPARATORS)
    return text


def _fast(candidate: str, check: PhoneCheck) -> tuple[str | None, str] | None:
    """(E.164 or None, why not) from the tables, or None when phonenumbers must decide."""
    body = candidate[1:]
    if not candidate.startswith("+") or not body.isascii() or not body.isdigit():
        return None
    got = phonetable.split(body)
    if got is None:
        return None
    table, nsn = got
    e164 = table.prefix + nsn
    if check is PhoneCheck.NONE:
        return (e164, "") if len(e164) - 1 <= E164_MAX_DIGITS else (None, _TOO_LONG)
    if len(nsn) not in table.possible_lengths:
        return None, _NOT_POSSIBLE if check is PhoneCheck.POSSIBLE else ""
    if check is PhoneCheck.STRICT and not table.is_valid(nsn):
        return None, ""
    return e164, ""


_TOO_LONG = f"more than {E164_MAX_DIGITS} digits"
_NOT_POSSIBLE = "not a possible length for its country"


def _slow(candidate: str, region: str | None, check: PhoneCheck) -> tuple[str | None, str]:
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException as exc:
        return None, str(exc)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if check is PhoneCheck.NONE:
        return (e164, "") if len(e164) - 1 <= E164_MAX_DIGITS else (None, _TOO_LONG)
    if not phonenumbers.is_possible_number(parsed):
        return None, _NOT_POSSIBLE if check is PhoneCheck.POSSIBLE else ""
    if check is PhoneCheck.STRICT and not phonenumbers.is_valid_number(parsed):
        return None, ""
    return e164, ""


# Only the parser's answers are memoised here: the tables answer in microseconds, and a campaign's numbers
# are each seen once, so memoising those too would fill the LRU (tens of MB) for nothing. (phonetable.split
# keeps its last few thousand answers, for the country lookups that follow within a chunk.)
_verdict = lru_cache(maxsize=CACHE_SIZE)(_slow)


def normalize(raw: str, default_region: str | None = None, check: PhoneCheck = PhoneCheck.STRICT) -> str:
    """Return ``raw`` as E.164 (``+77011234567``) or raise :class:`InvalidDestination` naming it."""
    text = (raw or "").strip()
    if not text:
        raise InvalidDestination("empty phone number")
    candidate = _candidate(text, default_region)
    e164, why = _fast(candidate, check) or _verdict(candidate, default_region, check)
    if e164 is None:
        raise InvalidDestination(f"invalid phone number {raw!r}" + (f": {why}" if why else ""))
    return e164


def digits(e164: str) -> str:
    """The international digits without ``+``: what most HTTP APIs and SMPP TON=1 want."""
    return e164.lstrip("+")
