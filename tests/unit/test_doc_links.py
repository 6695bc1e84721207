"""The README and docs/ point at files that exist: links, file paths and module names.

Files get renamed and split (a doc page split per provider, a module moved to
another package); a page that still names the old path sends a reader to
nothing. Every relative markdown link (with its ``#anchor`` when it points at
a markdown page), every repository path such as ``msgbridge/smpp/codec.py``
and every dotted module name such as ``msgbridge.core.status`` on these pages
must resolve. ``docs/architecture.md`` is a map of the code, so its paths are
checked in its flow diagram too, where they are written relative to
``msgbridge/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Pages that describe files a reader is to create, under a stand-in name.
PLACEHOLDERS: dict[str, re.Pattern[str]] = {
    "adding-a-provider.md": re.compile(r"(^|[/_.-])example([/_.-]|$)"),
}

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_PATH = re.compile(r"(?<![\w/.<-])((?:msgbridge|tests|benchmarks|docs)/[\w/.-]*\w)")
_MODULE = re.compile(r"(?<![\w/.])msgbridge(?:\.\w+)+")
_MAP_PATH = re.compile(r"(?<![\w/.<>-])((?:\w+/)+\w+\.py)")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as ``-``."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in _HEADING.findall(text):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def broken_links(text: str, page: Path) -> list[str]:
    """Relative links on ``page`` (its text ``text``) whose file, or anchor in a markdown file, is missing."""
    broken = []
    for target in _LINK.findall(_FENCE.sub("", text)):
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", target):
            continue  # https:, mailto: ...
        path, _, anchor = target.partition("#")
        file = (page.parent / path) if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(target)
    return broken


def missing_paths(text: str, page: Path) -> list[str]:
    """Repository paths named on the page (``msgbridge/...``, ``tests/...``, ...) that do not exist."""
    placeholder = PLACEHOLDERS.get(page.name)
    return [
        p
        for p in _PATH.findall(text)
        if not (ROOT / p).exists() and not (placeholder and placeholder.search(p))
    ]


def _module_exists(dotted: str) -> bool:
    """``msgbridge.a.b`` is a module or package, or ``msgbridge.a.Name`` a name defined in module ``a``."""
    parts = dotted.split(".")
    for n in range(len(parts), 1, -1):
        base = ROOT.joinpath(*parts[:n])
        module = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
        if module.exists():
            rest = parts[n:]
            if not rest:
                return True
            source = module.read_text(encoding="utf-8")
            return (
                len(rest) == 1
                and re.search(rf"^(class|def|async def) {rest[0]}\b|^{rest[0]}\b", source, re.M) is not None
            )
    return False


def missing_modules(text: str, page: Path) -> list[str]:
    """Dotted names under a real top-level part of the package (``msgbridge.core...``) that do not resolve.

    ``msgbridge.toml`` or the ``msgbridge.transports`` entry-point group are not modules: a dotted name
    is checked only when its second part is a module or package of ours.
    """
    placeholder = PLACEHOLDERS.get(page.name)
    out = []
    for dotted in _MODULE.findall(text):
        second = ROOT / "msgbridge" / dotted.split(".")[1]
        if placeholder and placeholder.search(dotted.replace(".", "/")):
            continue
        if (second.is_dir() or second.with_suffix(".py").exists()) and not _module_exists(dotted):
            out.append(dotted)
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page.read_text(encoding="utf-8"), page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_named_paths_exist(page: Path) -> None:
    assert missing_paths(page.read_text(encoding="utf-8"), page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_named_modules_exist(page: Path) -> None:
    assert missing_modules(page.read_text(encoding="utf-8"), page) == []


def test_architecture_map_names_real_files() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(_MAP_PATH.findall(text))
    assert len(named) > 30  # the map names the files of every part
    missing = [
        p for p in sorted(named) if not any((base / p).exists() for base in (ROOT, ROOT / "msgbridge"))
    ]
    assert missing == []


def test_the_checks_see_what_is_broken(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other page\n\n## Exit codes\n", encoding="utf-8")
    text = "[a](other.md#exit-codes) [b](other.md#gone) [c](missing.md) [d](https://example.org/x) [e](#here)\n# Here\n"
    page.write_text(text, encoding="utf-8")
    assert broken_links(text, page) == ["other.md#gone", "missing.md"]
    assert missing_paths("`msgbridge/smpp/codec.py` and `msgbridge/adapters/smpp/codec.py`", page) == [
        "msgbridge/adapters/smpp/codec.py"
    ]
    names = "`msgbridge.core.status.merge`, `msgbridge.core.gone`, `msgbridge.toml`"
    assert missing_modules(names, page) == ["msgbridge.core.gone"]
