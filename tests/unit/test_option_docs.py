"""The option tables in docs/ are the declarations, rendered: a page that disagrees fails here.

Fix a failure with ``python -m msgbridge.adapters.optiondocs`` (it rewrites the tables).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.adapters import optiondocs
from msgbridge.adapters.base import registry

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
    for page in set(optiondocs.PAGES.values()):
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text((ROOT / page).read_text(encoding="utf-8"), encoding="utf-8")
    smpp = tmp_path / "docs/smpp.md"
    smpp.write_text(smpp.read_text(encoding="utf-8").replace("submit_sm in flight per bind", "old words"))
    assert optiondocs.main(["--check", "--root", str(tmp_path)]) == 1
    assert optiondocs.main(["--root", str(tmp_path)]) == 0
    assert optiondocs.main(["--check", "--root", str(tmp_path)]) == 0
