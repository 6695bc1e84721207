"""The README's cross-provider table is the generated one, not a hand-edited copy that drifts."""

from __future__ import annotations

from pathlib import Path

from msgbridge.adapters.http import taxonomy

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_form(rendered: str) -> str:
    """The generated page as the README carries it: without its title, headings one level down."""
    lines = rendered.rstrip("\n").splitlines()
    assert lines[0].startswith("# ")
    body = lines[2:] if len(lines) > 1 and not lines[1] else lines[1:]
    return "\n".join("#" + line if line.startswith("## ") else line for line in body)


def test_readme_table_equals_the_generated_taxonomy() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- taxonomy:start -->\n") + len("<!-- taxonomy:start -->\n")
    end = text.index("<!-- taxonomy:end -->")
    assert text[start:end].rstrip("\n") == readme_form(taxonomy.render())
