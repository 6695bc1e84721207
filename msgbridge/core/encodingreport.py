"""Why a text is UCS-2, what that costs, and the same over a whole campaign.

A text is sent as GSM-7 only if every character is in GSM 03.38 (basic or extension table,
:mod:`msgbridge.core.encoding`); one character outside it makes the whole message UCS-2, 70 characters a
segment instead of 160. :func:`explain` names those characters and gives the segments the text would
take without them (each counted as one GSM-7 character, as if replaced by a plain one) and after
:func:`~msgbridge.core.transliterate.transliterate`. :class:`EncodingTally` adds the answers up over a
campaign with counters only: per character, the rows it forced UCS-2 in and the segments they took
against what they would have taken.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from msgbridge.core.encoding import GSM_CHARS, Encoding, TextInfo, info
from msgbridge.core.transliterate import transliterate

# Distinct texts remembered. The answer is a pure function of the text (the tables are constants), so a
# cache keyed by the text alone is exact; a campaign of one template and few distinct fields hits it on
# nearly every row, a fully personalised one misses, and the bound keeps memory flat either way.
CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class TextEncoding:
    """The encoding facts of one text."""

    encoding: Encoding
    segments: int  # as sent
    forcing: tuple[str, ...] = ()  # characters outside GSM 03.38, by code point; empty for a GSM-7 text
    gsm_segments: int = 0  # segments with each forcing character counted as one GSM-7 character
    transliterated: int = 0  # segments of transliterate(text)
    transliterated_gsm: bool = True  # whether transliterate(text) is GSM-7


def explain(text: str, measured: TextInfo | None = None) -> TextEncoding:
    """The encoding facts of ``text`` (``measured``: its ``info``, when the caller has it already)."""
    measured = measured or info(text)
    if measured.encoding is Encoding.GSM7:
        # The transliteration tables hold no GSM character (tests/unit/core/test_transliterate.py), so a
        # GSM-7 text is its own transliteration.
        return _gsm(measured.segments)
    return _explain_ucs2(text)


@lru_cache(maxsize=256)
def _gsm(segments: int) -> TextEncoding:
    return TextEncoding(Encoding.GSM7, segments, (), segments, segments, True)


@lru_cache(maxsize=CACHE_SIZE)
def _explain_ucs2(text: str) -> TextEncoding:
    forcing = tuple(sorted(set(text).difference(GSM_CHARS)))
    measured = info(text)
    plain = info(text.translate(dict.fromkeys(map(ord, forcing), "?"))).segments
    after = transliterate(text)
    after_info = info(after)
    return TextEncoding(
        encoding=measured.encoding,
        segments=measured.segments,
        forcing=forcing,
        gsm_segments=plain,
        transliterated=after_info.segments,
        transliterated_gsm=after_info.encoding is Encoding.GSM7,
    )


def describe(ch: str) -> str:
    """``‘ (U+2018 LEFT SINGLE QUOTATION MARK)``; an invisible character is shown by its code alone."""
    name = unicodedata.name(ch, "")
    shown = ch if ch.isprintable() and not ch.isspace() else ""
    code = f"U+{ord(ch):04X}" + (f" {name}" if name else "")
    return f"{shown} ({code})" if shown else code


def char_group(ch: str) -> str:
    """The group a forcing character is reported in: a letter by its script (the first word of its Unicode
    name: ``CYRILLIC``, ``GREEK``, ``LATIN``), since a Cyrillic text forces UCS-2 by every letter at once and
    twenty lines of one cause say less than one; anything else (a quote, a dash, an emoji) on its own."""
    if unicodedata.category(ch).startswith("L"):
        name = unicodedata.name(ch, "")
        if name:
            return name.split(" ", 1)[0]
    return ch


@dataclass
class CharCost:
    """One character over a campaign: the rows it forced UCS-2 in, the segments those rows take, and the
    segments they would take with every forcing character of the row as one GSM-7 character."""

    rows: int = 0
    segments: int = 0
    gsm_segments: int = 0
    alone: int = 0  # rows where it is the only forcing character (replacing it alone makes them GSM-7)

    @property
    def extra(self) -> int:
        return self.segments - self.gsm_segments


class EncodingTally:
    """Encodings over a campaign: messages and segments per encoding, what each forcing character costs,
    and the segments after transliteration. Counters only: its size depends on the distinct characters,
    not on the rows.

    ``add`` counts each distinct :class:`TextEncoding` (``explain`` returns the same facts for texts that
    differ only in GSM characters) and spreads them over their characters in ``fold``, at most FOLD_AT
    distinct ones at a time: a Cyrillic text forces UCS-2 by twenty letters, and walking them on every row
    was most of the tally's time. The sums are the same in any grouping.
    """

    FOLD_AT = 4096

    def __init__(self) -> None:
        self._pending: Counter[TextEncoding] = Counter()
        self._messages: Counter[Encoding] = Counter()
        self._segments: Counter[Encoding] = Counter()
        self._chars: dict[str, CharCost] = {}
        self._groups: dict[str, CharCost] = {}
        self._rows = 0  # rows the transliteration changes (UCS-2 ones)
        self._to_gsm = 0  # of those, the rows it makes GSM-7
        self._transliterated = 0  # segments of every row, transliterated

    def add(self, facts: TextEncoding) -> None:
        pending = self._pending
        pending[facts] += 1
        if len(pending) > self.FOLD_AT:
            self.fold()

    def fold(self) -> None:
        """Add the pending facts to the counters (the properties do it before they answer)."""
        for facts, n in self._pending.items():
            self._messages[facts.encoding] += n
            self._segments[facts.encoding] += n * facts.segments
            self._transliterated += n * facts.transliterated
            if not facts.forcing:
                continue
            self._rows += n
            self._to_gsm += n * facts.transliterated_gsm
            _count(self._chars, facts.forcing, facts, n)
            _count(self._groups, tuple(dict.fromkeys(map(char_group, facts.forcing))), facts, n)
        self._pending.clear()

    @property
    def messages(self) -> Counter[Encoding]:
        self.fold()
        return self._messages

    @property
    def segments(self) -> Counter[Encoding]:
        self.fold()
        return self._segments

    @property
    def chars(self) -> dict[str, CharCost]:
        self.fold()
        return self._chars

    @property
    def groups(self) -> dict[str, CharCost]:
        """The same by :func:`char_group`: a script's letters count a row once."""
        self.fold()
        return self._groups

    @property
    def transliterated_rows(self) -> int:
        self.fold()
        return self._rows

    @property
    def transliterated_to_gsm(self) -> int:
        self.fold()
        return self._to_gsm

    @property
    def transliterated_segments(self) -> int:
        self.fold()
        return self._transliterated

    @property
    def total_segments(self) -> int:
        return sum(self.segments.values())

    def costliest(self, *, grouped: bool = False) -> list[tuple[str, CharCost]]:
        """The forcing characters (``grouped``: their groups), the ones whose rows lose most segments first
        (then by rows, then by name)."""
        items = (self.groups if grouped else self.chars).items()
        return sorted(items, key=lambda kv: (-kv[1].extra, -kv[1].rows, kv[0]))

    def members(self, group: str) -> list[str]:
        """The forcing characters of ``group``, by code point."""
        return sorted(ch for ch in self.chars if char_group(ch) == group)


def _count(into: dict[str, CharCost], keys: tuple[str, ...], facts: TextEncoding, n: int) -> None:
    alone = n if len(keys) == 1 else 0
    for key in keys:
        cost = into.get(key)
        if cost is None:
            cost = into[key] = CharCost()
        cost.rows += n
        cost.segments += n * facts.segments
        cost.gsm_segments += n * facts.gsm_segments
        cost.alone += alone


SHOW_MEMBERS = 8


def char_line(ch: str, cost: CharCost, members: list[str] | None = None) -> str:
    """``‘ (U+2018 LEFT SINGLE QUOTATION MARK) in 4,210 rows forces UCS-2: 8,420 segments instead of 4,210``;
    for a script's group, ``Cyrillic letters (33: А Б В ...) in ...``."""
    if len(ch) == 1:
        what, verb, it = describe(ch), "forces", "it"
    else:
        shown = " ".join(members or [])
        if members is not None and len(members) > SHOW_MEMBERS:
            shown = " ".join(members[:SHOW_MEMBERS]) + " ..."
        count = f"{len(members)}: " if members is not None else ""
        what, verb, it = f"{ch.capitalize()} letters ({count}{shown})", "force", "them"
    if cost.alone == cost.rows:
        alone = ""
    elif cost.alone == 0:
        alone = " (with other such characters in every one)"
    else:
        alone = f" ({cost.alone:,} of them by {it} alone)"
    plural = "s" if cost.segments != 1 else ""
    cost_text = (
        f"{cost.segments:,} segment{plural} instead of {cost.gsm_segments:,}"
        if cost.segments != cost.gsm_segments
        else f"no extra segment ({cost.segments:,})"
    )
    return f"{what} in {cost.rows:,} row{'s' if cost.rows != 1 else ''} {verb} UCS-2{alone}: {cost_text}"
