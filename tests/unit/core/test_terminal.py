"""Untrusted text on a terminal: every control character shown, nothing else changed, no markup obeyed."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from msgbridge.core.terminal import BIDI, CONTROLS, NAMED, json_text, markup, printable


@pytest.mark.parametrize(("char", "shown"), sorted(NAMED.items()))
def test_named_controls(char: str, shown: str) -> None:
    assert printable(f"a{char}b") == f"a{shown}b"


@pytest.mark.parametrize("code", CONTROLS)
def test_every_control_becomes_a_visible_escape(code: int) -> None:
    shown = printable(chr(code))
    assert shown.startswith("\\") and shown.isprintable()
    expected = NAMED.get(chr(code)) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    assert shown == expected


def test_controls_are_c0_del_c1_and_bidi() -> None:
    assert set(CONTROLS) == set(range(0x20)) | set(range(0x7F, 0xA0)) | set(BIDI)
    assert [hex(c) for c in BIDI] == [
        hex(c) for c in (0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069)
    ]


@pytest.mark.parametrize(
    "text",
    ["Hello", "Привет, мир", "سلام", "שלום", "你好", "👨‍👩‍👧 ok", "a\\b", "100% [sale]", "\u00a0nbsp"],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert printable(text) == text


def test_osc_sequences_are_shown_not_sent() -> None:
    assert printable("\x1b]0;title\x07") == "\\x1b]0;title\\x07"
    assert printable("\x1b]52;c;ZXZpbA==\x1b\\") == "\\x1b]52;c;ZXZpbA==\\x1b\\"
    assert printable(42) == "42"


@pytest.mark.parametrize(
    "text",
    ["[red]red[/red]", "[link=http://evil.example]click[/link]", "[bold]x", "[/]", "a [b] c"],
)
def test_markup_is_printed_literally_by_rich(text: str) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", highlight=False)
    console.print(markup(text))
    assert out.getvalue() == text + "\n"  # no style codes, no hyperlink, the brackets as typed
    assert "\x1b" not in out.getvalue()


def test_a_trailing_backslash_cannot_escape_the_callers_closing_tag() -> None:
    out = io.StringIO()
    Console(file=out, color_system=None).print(f"[bold]{markup('end' + chr(92))}[/bold] after")
    assert out.getvalue().endswith(" after\n")  # rich shows that backslash doubled; the tag held


@given(st.text())
def test_printable_output_has_no_control_characters(text: str) -> None:
    shown = printable(text)
    assert not any(ord(c) in set(CONTROLS) for c in shown)


@given(
    st.recursive(st.text() | st.integers(), lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids))
)
def test_json_text_parses_back_to_the_same_value(value: object) -> None:
    document = json_text(json.dumps(value, ensure_ascii=False))
    assert json.loads(document) == value
    assert not any(ord(c) in set(CONTROLS) for c in document if c != "\n")
