"""Per-country verdicts of ``phonenumbers``, precompiled from its own metadata.

``phonenumbers.parse`` + ``is_valid_number`` cost tens of microseconds a number, most of it in generic
parsing (extension, RFC 3966, vanity letters) and in regular expressions that drop out of the ``re``
module's 512-entry cache as soon as numbers come from more than a few countries. A campaign's numbers
are nearly all plain international digit strings, for which the answer depends only on the country
calling code and the national significant number. For those this module gives the same answers from
tables built once per calling code out of the same ``PhoneMetadata`` (the same patterns and possible
lengths), without the generic parser:

- ``parse``: the calling code is the first 1-3 digits found in ``COUNTRY_CODE_TO_REGION_CODE``; the
  rest is the national number, unless the main region's ``national_prefix_for_parsing`` matches its
  start (then ``parse`` may strip a prefix, and the case is left to ``phonenumbers``).
- ``is_possible_number``: the national number's length is one of the main region's general possible
  lengths, or local-only lengths (``_test_number_length`` for type UNKNOWN).
- ``is_valid_number``: the region is chosen as ``region_code_for_number`` does (leading digits, else
  full validation, in the order of ``COUNTRY_CODE_TO_REGION_CODE``), then the number must match the
  general description and at least one type's description, each with its possible lengths
  (``_number_type_helper`` returning anything but UNKNOWN).

Anything else (a leading 0 after the ``+``, an unknown calling code, a national number shorter than 2
or longer than 17 digits, a possible national prefix) gets ``None`` here and goes to ``phonenumbers``
itself. tests/unit/core/test_phone_corpus.py compares every verdict and E.164 string with plain
``phonenumbers`` on a generated corpus across all calling codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata

MIN_NSN = 2  # phonenumbers' _MIN_LENGTH_FOR_NSN
MAX_NSN = 17  # phonenumbers' _MAX_LENGTH_FOR_NSN
MAX_CC = 3  # digits in the longest country calling code
NON_GEO = "001"  # phonenumbers' REGION_CODE_FOR_NON_GEO_ENTITY


@dataclass(frozen=True)
class RegionTable:
    """What validity needs from one region's metadata: general lengths and pattern, and by length the
    alternation of the number-type patterns that allow that length."""

    general_lengths: frozenset[int]
    general: re.Pattern[str] | None
    by_length: dict[int, re.Pattern[str] | None]
    leading_digits: re.Pattern[str] | None

    @classmethod
    def build(cls, metadata: PhoneMetadata) -> RegionTable | None:
        """``None`` for a region whose general description lists no possible lengths (none does today):
        the by-length table cannot be built, so its numbers are left to phonenumbers."""
        general = metadata.general_desc
        if general is None or not general.possible_length:
            return None
        g_lengths = frozenset(general.possible_length)
        g_pattern = re.compile(general.national_number_pattern) if general.national_number_pattern else None
        descs = [
            metadata.premium_rate,
            metadata.toll_free,
            metadata.shared_cost,
            metadata.voip,
            metadata.personal_number,
            metadata.pager,
            metadata.uan,
            metadata.voicemail,
            metadata.fixed_line,
        ]
        # With identical fixed-line and mobile patterns phonenumbers never tries the mobile description.
        if not metadata.same_mobile_and_fixed_line_pattern:
            descs.append(metadata.mobile)
        by_length: dict[int, re.Pattern[str] | None] = {}
        for length in g_lengths:
            alternatives = [
                d.national_number_pattern
                for d in descs
                if d is not None
                and d.national_number_pattern
                and (not d.possible_length or length in d.possible_length)
            ]
            by_length[length] = (
                re.compile("|".join(f"(?:{p})" for p in alternatives)) if alternatives else None
            )
        leading = re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None
        return cls(g_lengths, g_pattern, by_length, leading)

    def has_type(self, nsn: str) -> bool:
        """``_number_type_helper(nsn, metadata) != UNKNOWN``."""
        n = len(nsn)
        if n not in self.general_lengths or self.general is None or self.general.fullmatch(nsn) is None:
            return False
        typed = self.by_length[n]
        return typed is not None and typed.fullmatch(nsn) is not None


@dataclass(frozen=True)
class CountryTable:
    """One calling code: its main region's parsing and length facts, and a table per region."""

    code: int
    prefix: str  # "+" and the calling code
    national_prefix: re.Pattern[str] | None  # the main region's national_prefix_for_parsing
    possible_lengths: frozenset[int]  # general and local-only lengths of the main region
    regions: tuple[RegionTable, ...]  # in COUNTRY_CODE_TO_REGION_CODE order
    names: tuple[str, ...] = ()  # the ISO region of each of ``regions``

    @classmethod
    def build(cls, code: int) -> CountryTable | None:
        names = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
        if not names:
            return None
        main = PhoneMetadata.metadata_for_region_or_calling_code(code, names[0])
        if main is None or main.general_desc is None or not main.general_desc.possible_length:
            return None
        npp = main.national_prefix_for_parsing
        lengths = frozenset(main.general_desc.possible_length) | frozenset(
            main.general_desc.possible_length_local_only
        )
        tables: list[RegionTable] = []
        kept: list[str] = []
        for name in names:
            md = PhoneMetadata.metadata_for_region_or_calling_code(code, name)
            if md is None:
                if len(names) == 1:
                    return None
                continue  # as _region_code_for_number_from_list skips it
            table = RegionTable.build(md)
            if table is None:
                return None
            tables.append(table)
            kept.append(name)
        return cls(code, f"+{code}", re.compile(npp) if npp else None, lengths, tuple(tables), tuple(kept))

    def is_valid(self, nsn: str) -> bool:
        """``is_valid_number`` for this calling code and national significant number."""
        if len(self.regions) == 1:
            return self.regions[0].has_type(nsn)
        for region in self.regions:
            if region.leading_digits is not None:
                if region.leading_digits.match(nsn):
                    return region.has_type(nsn)
            elif region.has_type(nsn):
                return True
        return False

    def region(self, nsn: str) -> str | None:
        """``region_code_for_number``: the only region, else the first whose leading digits match, else the
        first for which the number is valid; None where none is (phonenumbers says None too)."""
        if len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[self.code]) == 1:
            return self.names[0]
        for name, region in zip(self.names, self.regions, strict=True):
            if region.leading_digits is not None:
                if region.leading_digits.match(nsn):
                    return name
            elif region.has_type(nsn):
                return name
        return None


_TABLES: dict[int, CountryTable | None] = {}


def country(code: int) -> CountryTable | None:
    """The table for a calling code, built on first use (a few milliseconds each)."""
    try:
        return _TABLES[code]
    except KeyError:
        table = _TABLES[code] = CountryTable.build(code)
        return table


_KNOWN = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def split(digits: str) -> tuple[CountryTable, str] | None:
    """(calling code table, national significant number) as ``parse("+" + digits)`` makes them.

    ``digits`` are ASCII digits. ``None`` when ``parse`` would fail or might strip a national prefix:
    then only ``phonenumbers`` can tell.
    """
    if len(digits) <= MIN_NSN or digits[0] == "0":
        return None
    for i in range(1, MAX_CC + 1):
        code = int(digits[:i])
        if code in _KNOWN:
            nsn = digits[i:]
            if not MIN_NSN <= len(nsn) <= MAX_NSN:
                return None
            table = country(code)
            if table is None or (table.national_prefix is not None and table.national_prefix.match(nsn)):
                return None
            return table, nsn
    return None
