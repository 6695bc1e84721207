"""``{field}`` placeholders, as in Mobizon's template campaigns.

``{{`` and ``}}`` stand for literal braces. A missing field is an error that
names the row and the field: a campaign must not go out with a hole in it.
A brace that is neither doubled nor part of a ``{field}`` (``Hi {name``,
``{first name}``) is an error too: sent literally, it would put the template
syntax in front of every recipient.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from msgbridge.core.errors import TemplateError

# The last alternative catches a brace no other one takes: that is the unbalanced one.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_.-]*)\}|[{}]")
FIELD_SYNTAX = "letters, digits, _ . - and not starting with a digit"


def fields(template: str) -> list[str]:
    """The placeholder names a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for m in _TOKEN.finditer(template):
        if m.group(1):
            seen.setdefault(m.group(1), None)
    return list(seen)


def _stray(template: str, m: re.Match[str]) -> TemplateError:
    at = m.start() + 1
    if m.group(0) == "{":
        close = template.find("}", m.end())
        what = (
            f"{template[m.start() : close + 1]!r} is not a {{field}} (names: {FIELD_SYNTAX})"
            if close >= 0 and "{" not in template[m.end() : close]
            else "'{' is never closed"
        )
    else:
        what = "'}' closes nothing"
    return TemplateError(f"template: at character {at}, {what}; write {{{{ or }}}} for a literal brace")


def check(template: str) -> None:
    """Refuse a template that cannot make a sensible message: empty, or with an unbalanced brace."""
    if not template.strip():
        raise TemplateError("the template is empty")
    for m in _TOKEN.finditer(template):
        if m.group(0) in ("{", "}"):
            raise _stray(template, m)


@lru_cache(maxsize=64)
def _parts(template: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(literal pieces, field names between them) of a well-formed template, read once: a campaign renders
    one template for every row. None for a template with a stray brace (``render`` names it)."""
    pieces, names, piece, at = [], [], "", 0
    for m in _TOKEN.finditer(template):
        piece += template[at : m.start()]
        at = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            piece += token[0]
        elif m.group(1) is None:
            return None
        else:
            pieces.append(piece)
            names.append(m.group(1))
            piece = ""
    pieces.append(piece + template[at:])
    return tuple(pieces), tuple(names)


def render(template: str, values: Mapping[str, object], *, row: int | str | None = None) -> str:
    parts = _parts(template)
    if parts is None:
        return _render_each(template, values, row=row)
    pieces, names = parts
    out = [pieces[0]]
    for name, piece in zip(names, pieces[1:]):  # noqa: B905 -- one more piece than names
        value = values.get(name)
        if value is None:
            where = f"row {row}: " if row is not None else ""
            raise TemplateError(f"{where}template field {{{name}}} has no value")
        out.append(value if type(value) is str else str(value))
        out.append(piece)
    return "".join(out)


def _render_each(template: str, values: Mapping[str, object], *, row: int | str | None = None) -> str:
    """Token by token, raising at the first stray brace (a template ``check`` would refuse)."""

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        if name is None:
            raise _stray(template, m)
        if name not in values or values[name] is None:
            where = f"row {row}: " if row is not None else ""
            raise TemplateError(f"{where}template field {{{name}}} has no value")
        return str(values[name])

    return _TOKEN.sub(sub, template)
