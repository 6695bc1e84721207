from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.core.encoding import (
    GSM_BASIC,
    GSM_EXTENSION,
    LIMITS,
    Encoding,
    choose_encoding,
    decode,
    decode_gsm7,
    encode,
    encode_gsm7,
    info,
    split,
    units,
)

GSM_CHARS = [c for c in GSM_BASIC if c != "\x1b"] + list(GSM_EXTENSION)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=700)
# Mixed text: GSM, Cyrillic, and astral characters (emoji: a UTF-16 surrogate pair each).
any_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(GSM_CHARS),
        st.sampled_from("абвгдежзийклмнопрстуфхцчшщъыьэюяӘәҒғ"),
        st.sampled_from(["😀", "🚀", "𝄞", "👍🏽"[0]]),
    ),
    max_size=500,
)


def per_segment(enc: Encoding, parts: int, ref16: bool = False) -> int:
    lim = LIMITS[enc]
    if parts == 1:
        return lim.single
    return lim.multi_16bit_ref if ref16 else lim.multi_8bit_ref


@settings(max_examples=300, deadline=None)
@given(any_text, st.booleans())
def test_split_properties(text: str, ref16: bool) -> None:
    enc = choose_encoding(text)
    parts = split(text, enc, ref16=ref16)
    assert "".join(parts) == text
    limit = per_segment(enc, len(parts), ref16)
    for part in parts:
        assert units(part, enc) <= limit
        # never a lone surrogate: every part encodes on its own
        encode(part, enc)
    assert info(text, ref16=ref16).segments == len(parts)
    if len(parts) > 1:
        assert all(parts)


@settings(max_examples=300, deadline=None)
@given(gsm_text)
def test_escape_pairs_never_split(text: str) -> None:
    parts = split(text, Encoding.GSM7)
    for part in parts:
        raw = encode_gsm7(part)
        assert len(raw) == units(part, Encoding.GSM7)
        assert not raw.endswith(b"\x1b")  # an ESC always travels with its character
        assert decode_gsm7(raw) == part.replace("ç", "Ç")


@settings(max_examples=300, deadline=None)
@given(gsm_text)
def test_gsm7_round_trip(text: str) -> None:
    assert decode(encode(text, Encoding.GSM7), Encoding.GSM7) == text.replace("ç", "Ç")


def test_limits_table() -> None:
    assert {e.value: (lim.single, lim.multi_8bit_ref, lim.multi_16bit_ref) for e, lim in LIMITS.items()} == {
        "gsm7": (160, 153, 152),
        "latin1": (140, 134, 133),
        "ucs2": (70, 67, 66),
    }


@pytest.mark.parametrize(
    ("char", "code"),
    [
        ("@", b"\x00"),
        ("£", b"\x01"),
        ("$", b"\x02"),
        ("_", b"\x11"),
        ("§", b"\x5f"),
        ("à", b"\x7f"),
        ("ç", b"\x09"),
    ],
)
def test_gsm7_basic_codes(char: str, code: bytes) -> None:
    assert encode_gsm7(char) == code


def test_gsm7_decodes_0x5f_as_section_and_0x09_as_capital_c_cedilla() -> None:
    assert decode_gsm7(b"\x5f") == "§"
    assert decode_gsm7(b"\x09") == "Ç"


@pytest.mark.parametrize(
    ("char", "code"),
    [
        ("\f", 0x0A),
        ("^", 0x14),
        ("{", 0x28),
        ("}", 0x29),
        ("\\", 0x2F),
        ("[", 0x3C),
        ("~", 0x3D),
        ("]", 0x3E),
        ("|", 0x40),
        ("€", 0x65),
    ],
)
def test_gsm7_extension_chars(char: str, code: int) -> None:
    assert GSM_EXTENSION[char] == code
    assert encode_gsm7(char) == bytes([0x1B, code])
    assert decode_gsm7(bytes([0x1B, code])) == char
    assert units(char, Encoding.GSM7) == 2


def test_non_gsm_character_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'ж'"):
        encode_gsm7("abcж")


@pytest.mark.parametrize(
    ("text", "encoding", "units_", "segments"),
    [
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),
        ("€" * 81, "gsm7", 162, 2),
        ("ж" * 70, "ucs2", 70, 1),
        ("ж" * 71, "ucs2", 71, 2),
        ("😀" * 35, "ucs2", 70, 1),
        ("😀" * 36, "ucs2", 72, 2),
        ("", "gsm7", 0, 1),
    ],
)
def test_info_counts(text: str, encoding: str, units_: int, segments: int) -> None:
    measured = info(text)
    assert (measured.encoding.value, measured.units, measured.segments, measured.characters) == (
        encoding,
        units_,
        segments,
        len(text),
    )


def test_escape_pair_at_a_boundary_moves_whole() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the euro would need septets 153-154 of the first part
    parts = split(text)
    assert parts[0] == "a" * 152 and parts[1].startswith("€")


def test_surrogate_pair_at_a_boundary_moves_whole() -> None:
    text = "ж" * 66 + "😀" + "ж" * 10  # the emoji would need units 67-68 of the first part
    parts = split(text)
    assert parts[0] == "ж" * 66 and parts[1].startswith("😀")


@settings(max_examples=400, deadline=None)
@given(text=any_text, ref16=st.booleans(), latin1=st.booleans())
def test_info_agrees_with_split_whatever_the_text(text: str, ref16: bool, latin1: bool) -> None:
    """``info`` counts one-unit texts by division and caches by length: it must say what cutting says."""
    enc = choose_encoding(text, allow_latin1=latin1)
    parts = split(text, enc, ref16=ref16)
    got = info(text, enc, ref16=ref16)
    limits = LIMITS[enc]
    assert got.segments == len(parts)
    assert got.units == units(text, enc)
    assert got.characters == len(text)
    assert got.encoding is enc
    assert got.per_segment == (
        limits.single if len(parts) == 1 else limits.multi_16bit_ref if ref16 else limits.multi_8bit_ref
    )
    assert info(text, ref16=ref16) == info(text, choose_encoding(text), ref16=ref16)


@pytest.mark.parametrize("n", [0, 1, 160, 161, 306, 307, 459, 460])
def test_info_at_gsm_segment_boundaries(n: int) -> None:
    text = "a" * n
    assert info(text).segments == len(split(text))
    assert info(text + "€").segments == len(split(text + "€"))
