"""``{field}`` placeholders, as in Mobizon's template campaigns.

``{{`` and ``}}`` stand for literal braces. A missing field is an error that
names the row and the field: a campaign must not go out with a hole in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from msgbridge.core.errors import TemplateError

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


def fields(template: str) -> list[str]:
    """The placeholder names a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for m in _TOKEN.finditer(template):
        if m.group(1):
            seen.setdefault(m.group(1), None)
    return list(seen)


def render(template: str, values: Mapping[str, object], *, row: int | str | None = None) -> str:
    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        if name not in values or values[name] is None:
            where = f"row {row}: " if row is not None else ""
            raise TemplateError(f"{where}template field {{{name}}} has no value")
        return str(values[name])

    return _TOKEN.sub(sub, template)
