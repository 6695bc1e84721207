"""Replacements that turn a UCS-2 text into one GSM-7 can carry: a suggestion, never applied on sending.

One typographic quote in an otherwise plain text makes the whole message UCS-2, and a UCS-2 segment
holds 70 characters where a GSM-7 one holds 160: a word processor's ``‘`` or ``…`` can double a
campaign's price. ``campaign plan --transliterate`` shows what these tables would save; the user decides
whether to change the template or the data.

Two tables, as data:

- ``TYPOGRAPHY``: typographic quotes, dashes, the ellipsis, and the space characters word processors
  insert (no-break, thin, narrow no-break), to their plain ASCII forms, and invisible format characters
  (zero-width space, soft hyphen, byte order mark) to nothing: the usual ASCII fallbacks, the ones a
  word processor's "smart quotes" replaced. Every quotation mark, low, high or angled (guillemets, the
  Russian quotes), becomes ``'`` or ``"`` by its number of strokes, since ``<<`` would read as markup.
- ``CYRILLIC``: Russian, Ukrainian and Belarusian letters to Latin as in ICAO Doc 9303 part 3 (machine
  readable travel documents), the table Russian international passports use: ASCII only, one fixed
  spelling per letter (``ж`` → ``zh``, ``щ`` → ``shch``, ``ъ`` → ``ie``, ``ь`` dropped). In running text a
  capital letter keeps only its first Latin letter capital (``Щ`` → ``Shch``), as in a capitalised word.
  Letters the table does not carry (the Kazakh ``ә ғ қ ң ө ұ ү һ``, which ICAO does not list; the Serbian
  and Macedonian ones) are left as they are: the text stays UCS-2 and the report names them.

Every replacement is made of GSM 03.38 basic-table characters only (one septet each), so a text whose
every non-GSM character has a row here becomes GSM-7.
"""

from __future__ import annotations

from collections.abc import Mapping

TYPOGRAPHY: Mapping[str, str] = {
    "\u2018": "'",  # ‘ left single quotation mark
    "\u2019": "'",  # ’ right single quotation mark (also the typographic apostrophe)
    "\u201a": "'",  # ‚ single low-9 quotation mark
    "\u201b": "'",  # ‛ single high-reversed-9 quotation mark
    "\u2032": "'",  # ′ prime
    "\u2039": "'",  # ‹ single left-pointing angle quotation mark
    "\u203a": "'",  # › single right-pointing angle quotation mark
    "\u201c": '"',  # “ left double quotation mark
    "\u201d": '"',  # ” right double quotation mark
    "\u201e": '"',  # „ double low-9 quotation mark
    "\u201f": '"',  # ‟ double high-reversed-9 quotation mark
    "\u2033": '"',  # ″ double prime
    "\u00ab": '"',  # « left-pointing double angle quotation mark
    "\u00bb": '"',  # » right-pointing double angle quotation mark
    "\u2010": "-",  # ‐ hyphen
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2015": "-",  # ― horizontal bar
    "\u2212": "-",  # − minus sign
    "\u2026": "...",  # … horizontal ellipsis
    "\u00a0": " ",  # no-break space
    "\u2002": " ",  # en space
    "\u2003": " ",  # em space
    "\u2007": " ",  # figure space
    "\u2009": " ",  # thin space
    "\u200a": " ",  # hair space
    "\u202f": " ",  # narrow no-break space
    "\u200b": "",  # zero-width space
    "\u00ad": "",  # soft hyphen
    "\ufeff": "",  # zero-width no-break space (a byte order mark inside a field)
}

# Lower case letters; the capitals are derived (first Latin letter capital), see capitalised().
_CYRILLIC_LOWER: Mapping[str, str] = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "ie",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
    "ґ": "g",  # Ukrainian
    "є": "ie",  # Ukrainian
    "і": "i",  # Ukrainian, Belarusian
    "ї": "i",  # Ukrainian
    "ў": "u",  # Belarusian
}


def capitalised(latin: str) -> str:
    """The replacement of a capital letter in running text: ``zh`` → ``Zh`` (``""`` stays ``""``)."""
    return latin[:1].upper() + latin[1:]


CYRILLIC: Mapping[str, str] = {
    **_CYRILLIC_LOWER,
    **{lower.upper(): capitalised(latin) for lower, latin in _CYRILLIC_LOWER.items()},
}

_TYPOGRAPHY_MAP = str.maketrans(dict(TYPOGRAPHY))
_ALL_MAP = str.maketrans({**TYPOGRAPHY, **CYRILLIC})


def transliterate(text: str, *, cyrillic: bool = True) -> str:
    """``text`` with every character of the tables replaced (``cyrillic=False``: typography only)."""
    return text.translate(_ALL_MAP if cyrillic else _TYPOGRAPHY_MAP)
