"""The option tables in ``docs/``, generated from the transports' declarations.

Each table sits between ``<!-- options:KEY -->`` and ``<!-- /options -->``;
``python -m msgbridge.adapters.optiondocs`` rewrites them, ``--check`` (and a
unit test) fails when a page and the declarations disagree, so a new option
cannot be documented differently from how it is read.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from msgbridge.adapters.base import registry
from msgbridge.adapters.http.base import HTTP_OPTIONS
from msgbridge.core.options import OptionSet

# Table key -> where it lives.
PAGES: dict[str, str] = {
    "memory": "docs/foundation.md",
    "smpp": "docs/smpp.md",
    "http": "docs/http.md",
    "selzy": "docs/http-selzy.md",
    "bsg": "docs/http-bsg.md",
    "smsc": "docs/http-smsc.md",
    "mobizon": "docs/http-mobizon.md",
    "smtp": "docs/smtp.md",
}
BLOCK = re.compile(r"(<!-- options:(?P<key>[a-z]+) -->\n)(?P<body>.*?)(<!-- /options -->)", re.S)


def option_set(key: str) -> OptionSet:
    """The options a table lists: HTTP providers' tables hold only their own, the shared ones are ``http``."""
    if key == "http":
        return HTTP_OPTIONS
    declared = registry.get(key).declared_options
    assert declared is not None, key
    return declared.without(HTTP_OPTIONS) if key in ("selzy", "bsg", "smsc", "mobizon") else declared


def render(text: str) -> str:
    """``text`` with every marked table regenerated."""
    return BLOCK.sub(lambda m: f"{m.group(1)}{option_set(m.group('key')).markdown()}\n{m.group(4)}", text)


def keys_in(text: str) -> list[str]:
    return [m.group("key") for m in BLOCK.finditer(text)]


def main(argv: list[str]) -> int:
    root = Path(argv[argv.index("--root") + 1]) if "--root" in argv else Path.cwd()
    stale = []
    for page in sorted(set(PAGES.values())):
        path = root / page
        old = path.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            stale.append(page)
            if "--check" not in argv:
                path.write_text(new, encoding="utf-8")
    if stale:
        print(("out of date: " if "--check" in argv else "rewrote: ") + ", ".join(stale))
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
