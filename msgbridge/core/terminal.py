"""Text from outside (MO messages, provider replies, CSV fields, mail) made safe to show on a terminal.

A terminal obeys what it prints: ``ESC ] 0 ;`` sets the window title,
``ESC ] 52 ;`` writes the clipboard, ``ESC ] 8 ;`` makes a hyperlink whose
target is not what it shows, a carriage return or backspace paints over what
came before, and a right-to-left override reorders a line. An SMS sender or a
provider chooses those bytes, so every place that prints text we did not
write passes it through one function here first:

- ``printable``: every control character (C0, DEL, C1) and the bidirectional
  override and isolate characters become visible escapes (``\\x1b``, ``\\n``,
  ``\\u202e``); everything else, including every letter of every script and
  emoji, is left alone. A backslash is not doubled: the output is for eyes,
  not for parsing back;
- ``markup``: the same, then escaped for rich, for text printed through a
  rich console where ``[red]`` or ``[link=...]`` would otherwise be obeyed;
- ``json_text``: a JSON document (whose strings already escape C0) with C1
  and bidi characters escaped too, so ``--json`` output is as safe to view.
"""

from __future__ import annotations

from rich.markup import escape as _rich_escape

# Short escapes for the controls people know by name; every other one is \xNN or \uNNNN.
NAMED: dict[str, str] = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Bidirectional embeddings, overrides and isolates: they reorder the rest of the line.
BIDI: tuple[int, ...] = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))


def _escape(code: int) -> str:
    char = chr(code)
    if char in NAMED:
        return NAMED[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


CONTROLS: tuple[int, ...] = (*range(0x00, 0x20), *range(0x7F, 0xA0), *BIDI)
_TABLE: dict[int, str] = {code: _escape(code) for code in CONTROLS}
_JSON_TABLE: dict[int, str] = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), *BIDI)}


def printable(text: object) -> str:
    """``text`` (anything, as ``str()``) with every control character shown as an escape."""
    return str(text).translate(_TABLE)


def markup(text: object) -> str:
    """``printable(text)`` that rich prints literally: its ``[...]`` tags are escaped, not obeyed."""
    return _rich_escape(printable(text))


def json_text(document: str) -> str:
    """A JSON document with C1 and bidi characters escaped; it parses back to the same value.

    These characters can only occur inside JSON strings, where ``\\uXXXX`` means the same.
    """
    return document.translate(_JSON_TABLE)
