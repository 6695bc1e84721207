"""Every example of docs/python-api.md and of the README's "Python API" section runs as written.

The pages promise that their examples run as they are; this runs each ```python block with the package, in an empty working directory (no msgbridge.toml, no MSGBRIDGE_* variables), and fails with the
block's output when one raises or its own asserts do not hold.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "python-api.md"
README = ROOT / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_section() -> str:
    """The README's "## Python API" section, up to the next section."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Python API\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def examples() -> list[str]:
    return _BLOCK.findall(PAGE.read_text(encoding="utf-8")) + _BLOCK.findall(readme_section())


def test_the_page_has_examples() -> None:
    assert len(_BLOCK.findall(readme_section())) == 1 and len(examples()) >= 6


@pytest.mark.parametrize("index", range(len(examples())))
def test_example_runs(index: int, tmp_path: Path) -> None:
    code = examples()[index]
    script = tmp_path / f"example_{index}.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGBRIDGE_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, (
        f"example {index} failed:\n{code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    assert done.stdout.strip(), "an example prints what it did"
