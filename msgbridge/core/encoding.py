"""GSM 03.38 / UCS-2 choice, segment counting and splitting.

Why hand-written: the tables are small and must be right in ways common
libraries get wrong (python-smpplib maps 0x5F to the wrong character and its
splitter can cut an ESC pair in two). Segments never split an escape pair or a
UTF-16 surrogate pair, and ``"".join(split(x)) == x`` always holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

# GSM 03.38 basic table, index = septet value. 0x1B is the escape to the
# extension table and has no character of its own.
GSM_BASIC: str = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(GSM_BASIC) == 128

# Extension table: character -> code after ESC. Each costs two septets.
GSM_EXTENSION: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

ENCODE_BASIC: dict[str, int] = {ch: i for i, ch in enumerate(GSM_BASIC) if i != 0x1B}
# 3GPP draws 0x09 as capital C-cedilla, unicode.org maps it to the small one;
# accept both when encoding, decode to the 3GPP form.
ENCODE_BASIC["ç"] = 0x09
DECODE_EXTENSION: dict[int, str] = {v: k for k, v in GSM_EXTENSION.items()}

# Encode tables as str.translate maps for speed on the hot path.
_GSM_TRANSLATE: dict[int, str] = {ord(ch): chr(code) for ch, code in ENCODE_BASIC.items()}
_GSM_TRANSLATE.update({ord(ch): "\x1b" + chr(code) for ch, code in GSM_EXTENSION.items()})


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"
    LATIN1 = "latin1"


@dataclass(frozen=True)
class Limits:
    single: int
    multi_8bit_ref: int
    multi_16bit_ref: int


# Units: septets for GSM-7, octets for Latin-1 (8-bit), UTF-16 code units for UCS-2.
LIMITS: dict[Encoding, Limits] = {
    Encoding.GSM7: Limits(160, 153, 152),
    Encoding.LATIN1: Limits(140, 134, 133),
    Encoding.UCS2: Limits(70, 67, 66),
}
MAX_SEGMENTS = 255


# Every character GSM-7 can carry (basic and extension tables): one set lookup per text on the send path.
GSM_CHARS: frozenset[str] = frozenset(ENCODE_BASIC) | frozenset(GSM_EXTENSION)


def is_gsm7(text: str) -> bool:
    return GSM_CHARS.issuperset(text)


def is_latin1(text: str) -> bool:
    return all(ord(ch) < 256 for ch in text)


def choose_encoding(text: str, *, allow_latin1: bool = False) -> Encoding:
    """GSM-7 when every character is in its tables, else Latin-1 if allowed and possible, else UCS-2."""
    if is_gsm7(text):
        return Encoding.GSM7
    if allow_latin1 and is_latin1(text):
        return Encoding.LATIN1
    return Encoding.UCS2


def char_units(ch: str, encoding: Encoding) -> int:
    if encoding is Encoding.GSM7:
        return 2 if ch in GSM_EXTENSION else 1
    if encoding is Encoding.UCS2:
        return 2 if ord(ch) > 0xFFFF else 1
    return 1


def units(text: str, encoding: Encoding) -> int:
    if encoding is Encoding.GSM7:
        return len(text) + sum(1 for ch in text if ch in GSM_EXTENSION)
    if encoding is Encoding.UCS2:
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    return len(text)


def split(text: str, encoding: Encoding | None = None, *, ref16: bool = False) -> list[str]:
    """Cut ``text`` into the segments it is sent as.

    A Python ``str`` holds code points, so walking it character by character
    can never cut a surrogate pair (one astral character = 2 UTF-16 units) or
    an escape pair (one extension character = 2 septets) in two.
    """
    enc = encoding or choose_encoding(text)
    limits = LIMITS[enc]
    if units(text, enc) <= limits.single:
        return [text]
    per = limits.multi_16bit_ref if ref16 else limits.multi_8bit_ref
    segments: list[str] = []
    start = 0
    used = 0
    for i, ch in enumerate(text):
        cost = char_units(ch, enc)
        if used + cost > per:
            segments.append(text[start:i])
            start, used = i, 0
        used += cost
    segments.append(text[start:])
    return segments


@dataclass(frozen=True)
class TextInfo:
    characters: int
    encoding: Encoding
    units: int
    segments: int
    per_segment: int

    @property
    def too_long(self) -> bool:
        return self.segments > MAX_SEGMENTS


def _uniform(text: str, encoding: Encoding) -> bool:
    """Whether every character of ``text`` costs one unit in ``encoding`` (no extension or astral ones)."""
    if encoding is Encoding.GSM7:
        return _GSM_EXTENSION_CHARS.isdisjoint(text)
    if encoding is Encoding.UCS2:
        return not text or ord(max(text)) <= 0xFFFF
    return True


_GSM_EXTENSION_CHARS = frozenset(GSM_EXTENSION)


@lru_cache(maxsize=1024)
def _uniform_info(characters: int, encoding: Encoding, ref16: bool) -> TextInfo:
    """``info`` of a text of ``characters`` one-unit characters: segments fill to the limit, so they are
    counted by division (what ``split`` would cut), and the answer is one per length."""
    limits = LIMITS[encoding]
    if characters <= limits.single:
        segments, per = 1, limits.single
    else:
        per = limits.multi_16bit_ref if ref16 else limits.multi_8bit_ref
        segments = -(-characters // per)
    return TextInfo(
        characters=characters, encoding=encoding, units=characters, segments=segments, per_segment=per
    )


# Measured texts remembered, up to this many of at most CACHE_CHARS characters (a few MB at worst). The
# answer is a pure function of (text, encoding, ref16) over constant tables, so a cache keyed by exactly
# those is exact; a campaign renders one template with few distinct values often enough to hit it on most
# rows, and a longer text is measured each time so that the bound holds.
CACHE_SIZE = 1024
CACHE_CHARS = 1000


def info(text: str, encoding: Encoding | None = None, *, ref16: bool = False) -> TextInfo:
    """Encoding, units and segments of ``text`` (in ``encoding``, else the one ``choose_encoding`` picks)."""
    if len(text) <= CACHE_CHARS:
        return _remembered(text, encoding, ref16)
    return _measure(text, encoding, ref16)


def _measure(text: str, encoding: Encoding | None, ref16: bool) -> TextInfo:
    enc = encoding or choose_encoding(text)
    if _uniform(text, enc):
        return _uniform_info(len(text), enc, ref16)
    parts = split(text, enc, ref16=ref16)
    limits = LIMITS[enc]
    per = limits.single if len(parts) == 1 else (limits.multi_16bit_ref if ref16 else limits.multi_8bit_ref)
    return TextInfo(
        characters=len(text),
        encoding=enc,
        units=units(text, enc),
        segments=len(parts),
        per_segment=per,
    )


_remembered = lru_cache(maxsize=CACHE_SIZE)(_measure)


def encode_gsm7(text: str) -> bytes:
    """Unpacked GSM-7: one septet per octet, extension characters as ESC + code.

    Raises ``ValueError`` for a character outside both tables.
    """
    out = text.translate(_GSM_TRANSLATE)
    try:
        return out.encode("latin-1")
    except UnicodeEncodeError as exc:
        bad = text[exc.start] if exc.start < len(text) else "?"
        raise ValueError(f"character {bad!r} is not in the GSM 03.38 alphabet") from exc


def decode_gsm7(data: bytes) -> str:
    """Inverse of :func:`encode_gsm7`; an unknown escape decodes as the basic character (3GPP 23.038)."""
    out: list[str] = []
    i = 0
    n = len(data)
    while i < n:
        b = data[i] & 0x7F
        if b == 0x1B and i + 1 < n:
            nxt = data[i + 1] & 0x7F
            ext = DECODE_EXTENSION.get(nxt)
            out.append(ext if ext is not None else GSM_BASIC[nxt] if nxt != 0x1B else " ")
            i += 2
            continue
        out.append(GSM_BASIC[b] if b != 0x1B else " ")
        i += 1
    return "".join(out)


def encode(text: str, encoding: Encoding) -> bytes:
    if encoding is Encoding.GSM7:
        return encode_gsm7(text)
    if encoding is Encoding.LATIN1:
        return text.encode("latin-1")
    return text.encode("utf-16-be")


def decode(data: bytes, encoding: Encoding) -> str:
    if encoding is Encoding.GSM7:
        return decode_gsm7(data)
    if encoding is Encoding.LATIN1:
        return data.decode("latin-1")
    return data.decode("utf-16-be", errors="surrogatepass")
