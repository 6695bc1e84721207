"""The option tables in ``docs/`` and the README's URL table, generated from the transports' declarations.

Each option table sits between ``<!-- options:KEY -->`` and ``<!-- /options -->``;
the README's table of schemes, example URLs and option names between
``<!-- urls -->`` and ``<!-- /urls -->``. ``python -m msgbridge.adapters.optiondocs``
rewrites them, ``--check`` (and a unit test) fails when a page and the
declarations disagree, so a new option cannot be documented differently from
how it is read.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from msgbridge.adapters.base import registry
from msgbridge.adapters.http.base import HTTP_OPTIONS
from msgbridge.core.options import Kind, OptionSet

# Table key -> where it lives.
PAGES: dict[str, str] = {
    "memory": "docs/store-and-dispatch.md",
    "smpp": "docs/smpp.md",
    "http": "docs/http.md",
    "selzy": "docs/http-selzy.md",
    "bsg": "docs/http-bsg.md",
    "smsc": "docs/http-smsc.md",
    "mobizon": "docs/http-mobizon.md",
    "smtp": "docs/smtp.md",
}
BLOCK = re.compile(r"(<!-- options:(?P<key>[a-z]+) -->\n)(?P<body>.*?)(<!-- /options -->)", re.S)

README = "README.md"
URLS = re.compile(r"(<!-- urls -->\n)(?P<body>.*?)(<!-- /urls -->)", re.S)
# One example URL (or two) per built-in scheme: the README's URL table shows them, a test opens each.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "memory": ("memory://?mix=delivered:0.9,undeliverable:0.05,expired:0.05&dlr_delay_ms=50",),
    "smpp": ("smpp://system_id:password@host:2775?window=100&binds=2",),
    "selzy": ("selzy://API_KEY@api.selzy.com?sender=NAME",),
    "bsg": ("bsg://API_KEY@one-api.bsg.world?sender=NAME",),
    "smsc": ("smsc://LOGIN:PASSWORD@smsc.ru", "smsc://APIKEY@smsc.ru"),
    "mobizon": ("mobizon://API_KEY@api.mobizon.kz",),
    "smtp": ("smtp://user:pass@host:587?tls=starttls&mode=email",),
}
HTTP_PROVIDERS = ("selzy", "bsg", "smsc", "mobizon")
# Choices are listed in the URL table when there are this few; more are in the option tables.
FEW_CHOICES = 4


def option_set(key: str) -> OptionSet:
    """The options a table lists: HTTP providers' tables hold only their own, the shared ones are ``http``."""
    if key == "http":
        return HTTP_OPTIONS
    declared = registry.get(key).declared_options
    assert declared is not None, key
    return declared.without(HTTP_OPTIONS) if key in HTTP_PROVIDERS else declared


def _names(options: OptionSet) -> str:
    """Option names as the URL table lists them: `long=udh8\\|udh16` where the choices are few."""
    shown = []
    for o in options:
        few = o.kind is Kind.CHOICE and len(o.choices) <= FEW_CHOICES
        shown.append(f"`{o.name}=" + "\\|".join(o.choices) + "`" if few else f"`{o.name}`")
    return ", ".join(shown)


def url_table() -> str:
    """The README's table: each built-in scheme, its example URLs and the options it reads."""
    lines = ["| scheme | URL | options |", "|---|---|---|"]
    for scheme in registry.BUILTIN:
        urls = " or ".join(f"`{u}`" for u in EXAMPLES[scheme])
        more = " and the `http` options" if scheme in HTTP_PROVIDERS else ""
        lines.append(f"| `{scheme}` | {urls} | {_names(option_set(scheme))}{more} |")
    lines.append(f"| `http` | every HTTP provider above | {_names(HTTP_OPTIONS)} |")
    return "\n".join(lines)


def render(text: str) -> str:
    """``text`` with every marked table regenerated."""
    text = BLOCK.sub(lambda m: f"{m.group(1)}{option_set(m.group('key')).markdown()}\n{m.group(4)}", text)
    return URLS.sub(lambda m: f"{m.group(1)}{url_table()}\n{m.group(3)}", text)


def keys_in(text: str) -> list[str]:
    return [m.group("key") for m in BLOCK.finditer(text)]


def main(argv: list[str]) -> int:
    root = Path(argv[argv.index("--root") + 1]) if "--root" in argv else Path.cwd()
    stale = []
    for page in sorted({*PAGES.values(), README}):
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
