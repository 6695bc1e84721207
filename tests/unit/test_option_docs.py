"""The option tables in docs/ and the README's URL table are the declarations, rendered: a page that
disagrees fails here.

Fix a failure with ``python -m msgbridge.adapters.optiondocs`` (it rewrites the tables).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.adapters import optiondocs
from msgbridge.adapters.base import open_transport, registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("key", "page"), sorted(optiondocs.PAGES.items()))
def test_the_page_carries_the_declared_table(key: str, page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    assert key in optiondocs.keys_in(text), f"{page} has no <!-- options:{key} --> table"
    assert optiondocs.render(text) == text, f"{page}: run python -m msgbridge.adapters.optiondocs"
    for option in optiondocs.option_set(key):
        assert f"| `{option.name}`" in text


def test_every_builtin_transport_has_a_table() -> None:
    assert set(registry.BUILTIN) <= set(optiondocs.PAGES)


def test_a_changed_declaration_shows_as_a_stale_page(tmp_path: Path) -> None:
    for page in {*optiondocs.PAGES.values(), optiondocs.README}:
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text((ROOT / page).read_text(encoding="utf-8"), encoding="utf-8")
    smpp = tmp_path / "docs/smpp.md"
    smpp.write_text(smpp.read_text(encoding="utf-8").replace("submit_sm in flight per bind", "old words"))
    assert optiondocs.main(["--check", "--root", str(tmp_path)]) == 1
    assert optiondocs.main(["--root", str(tmp_path)]) == 0
    assert optiondocs.main(["--check", "--root", str(tmp_path)]) == 0


def test_the_readme_carries_the_generated_url_table() -> None:
    text = (ROOT / optiondocs.README).read_text(encoding="utf-8")
    assert "<!-- urls -->\n" in text and "<!-- /urls -->" in text
    assert optiondocs.render(text) == text, "README.md: run python -m msgbridge.adapters.optiondocs"
    for scheme in registry.BUILTIN:
        assert f"| `{scheme}` |" in text


def test_the_readme_example_urls_are_read_by_their_declarations() -> None:
    assert set(optiondocs.EXAMPLES) == set(registry.BUILTIN)
    for scheme, urls in optiondocs.EXAMPLES.items():
        for url in urls:
            assert open_transport(url).scheme == scheme


def test_a_changed_example_shows_in_the_readme_as_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = tmp_path / optiondocs.README
    readme.write_text((ROOT / optiondocs.README).read_text(encoding="utf-8"), encoding="utf-8")
    before = optiondocs.render(readme.read_text(encoding="utf-8"))
    monkeypatch.setitem(optiondocs.EXAMPLES, "memory", ("memory://?seed=1",))
    assert optiondocs.render(before) != before and "`memory://?seed=1`" in optiondocs.render(before)
