from __future__ import annotations

import pytest

from msgbridge.core.encoding import GSM_BASIC, GSM_CHARS, Encoding, info, is_gsm7
from msgbridge.core.encodingreport import (
    CharCost,
    EncodingTally,
    TextEncoding,
    char_group,
    char_line,
    describe,
    explain,
)
from msgbridge.core.transliterate import CYRILLIC, TYPOGRAPHY, capitalised, transliterate

ROWS = [*TYPOGRAPHY.items(), *CYRILLIC.items()]
BASIC = set(GSM_BASIC) - {"\x1b"}


@pytest.mark.parametrize(("char", "latin"), ROWS, ids=[f"U+{ord(c):04X}" for c, _ in ROWS])
def test_every_row(char: str, latin: str) -> None:
    # The row is applied, the character needed UCS-2, and its replacement is one septet a character.
    assert transliterate(f"a{char}b") == f"a{latin}b"
    assert char not in GSM_CHARS
    assert set(latin) <= BASIC
    assert info(f"x{char}").encoding is Encoding.UCS2
    assert info(f"x{latin}").encoding is Encoding.GSM7


# ICAO Doc 9303 part 3, the Russian alphabet in order, and the four letters of other alphabets.
ICAO_RUSSIAN = (
    "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch ie y  e iu ia"
).split(" ")


def test_cyrillic_table_is_icao_9303() -> None:
    russian = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
    assert [CYRILLIC[c] for c in russian] == ICAO_RUSSIAN
    assert [CYRILLIC[c] for c in "ґєіїў"] == ["g", "ie", "i", "i", "u"]
    for lower in "абвгдеёжзийклмнопрстуфхцчшщъыьэюяґєіїў":
        assert CYRILLIC[lower.upper()] == capitalised(CYRILLIC[lower])


def test_capitals_in_running_text() -> None:
    assert transliterate("Щука и Жанна") == "Shchuka i Zhanna"
    assert capitalised("") == ""


def test_typography_only_leaves_cyrillic() -> None:
    assert transliterate("«Привет» — мир…", cyrillic=False) == '"Привет" - мир...'
    assert transliterate("«Привет» — мир…") == '"Privet" - mir...'


def test_unlisted_letters_stay() -> None:
    # Kazakh letters are not in ICAO's table: the text stays UCS-2.
    assert transliterate("Сәлем") == "Sәlem"
    assert not is_gsm7(transliterate("Сәлем"))


def test_gsm_text_is_unchanged() -> None:
    text = "".join(sorted(GSM_CHARS))
    assert transliterate(text) == text


def test_explain_gsm_text() -> None:
    facts = explain("Hello [world]")
    assert facts == TextEncoding(Encoding.GSM7, 1, (), 1, 1, True)


def test_explain_typographic_quote() -> None:
    text = "‘" + "a" * 100  # 101 characters: 2 UCS-2 segments, 1 GSM-7 one
    facts = explain(text)
    assert facts.encoding is Encoding.UCS2
    assert facts.forcing == ("‘",)
    assert (facts.segments, facts.gsm_segments, facts.transliterated) == (2, 1, 1)
    assert facts.transliterated_gsm


def test_explain_counts_a_forcing_character_as_one_septet() -> None:
    # The ellipsis is one character here; transliterated it is three, which takes the text to 2 segments.
    text = "a" * 158 + "…"
    facts = explain(text)
    assert (facts.segments, facts.gsm_segments, facts.transliterated) == (3, 1, 2)


def test_explain_orders_forcing_by_code_point_and_keeps_leftovers() -> None:
    facts = explain("Сәлем “друг”")
    assert facts.forcing == tuple(sorted(set("Сәлемдруг“”")))
    assert not facts.transliterated_gsm
    assert facts.transliterated == facts.segments == 1


def test_describe() -> None:
    assert describe("‘") == "‘ (U+2018 LEFT SINGLE QUOTATION MARK)"
    assert describe("\u00a0") == "U+00A0 NO-BREAK SPACE"
    assert describe("\ue000") == "U+E000"  # unnamed, not printable


def test_tally_per_character() -> None:
    tally = EncodingTally()
    quoted = "‘" + "a" * 100  # UCS-2 2, GSM 1
    both = "‘Жa"  # two forcing characters, 1 segment either way
    for text in (quoted, quoted, both, "plain"):
        tally.add(explain(text))
    assert tally.messages == {Encoding.UCS2: 3, Encoding.GSM7: 1}
    assert tally.segments == {Encoding.UCS2: 5, Encoding.GSM7: 1}
    assert tally.total_segments == 6
    assert tally.chars["‘"] == CharCost(rows=3, segments=5, gsm_segments=3, alone=2)
    assert tally.chars["Ж"] == CharCost(rows=1, segments=1, gsm_segments=1, alone=0)
    assert [c for c, _ in tally.costliest()] == ["‘", "Ж"]
    assert (tally.transliterated_rows, tally.transliterated_to_gsm, tally.transliterated_segments) == (3, 3, 4)
    assert char_line("‘", tally.chars["‘"]) == (
        "‘ (U+2018 LEFT SINGLE QUOTATION MARK) in 3 rows forces UCS-2 (2 of them by it alone): "
        "5 segments instead of 3"
    )
    assert char_line("Ж", tally.chars["Ж"]) == (
        "Ж (U+0416 CYRILLIC CAPITAL LETTER ZHE) in 1 row forces UCS-2 (with other such characters in every one): "
        "no extra segment (1)"
    )


def test_letters_are_grouped_by_script_other_characters_alone() -> None:
    assert [char_group(c) for c in "Жжλë‘😀"] == ["CYRILLIC", "CYRILLIC", "GREEK", "LATIN", "‘", "😀"]
    tally = EncodingTally()
    for text in ("Жук ‘a’", "Привет", "plain", "‘x"):
        tally.add(explain(text))
    # A row counts once for its script however many of its letters it has.
    assert tally.groups["CYRILLIC"] == CharCost(rows=2, segments=2, gsm_segments=2, alone=1)
    assert tally.groups["‘"] == CharCost(rows=2, segments=2, gsm_segments=2, alone=1)
    assert tally.members("CYRILLIC") == sorted(set("ЖукПривет"))
    assert char_line("CYRILLIC", tally.groups["CYRILLIC"], tally.members("CYRILLIC")) == (
        "Cyrillic letters (9: Ж П в е и к р т ...) in 2 rows force UCS-2 (1 of them by them alone): "
        "no extra segment (2)"
    )
