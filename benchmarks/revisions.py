"""A benchmark script run with the msgbridge package of another git revision, for before/after in one run.

The revision is checked out in a temporary worktree; the script (this tree's,
so both sides measure the same way) runs in a subprocess with that worktree
first on PYTHONPATH, so it and any process it starts import that revision's
package. Rounds of both can then alternate, and a change in the machine's load
falls on both.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A temporary checkout of revision ``ref``: put it first on PYTHONPATH to import its package."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), ref], check=True, capture_output=True
        )
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=True)


@contextlib.contextmanager
def revision(ref: str, script: str) -> Iterator[Callable[[list[str]], str]]:
    """A runner of ``script`` (a path) with revision ``ref``'s package: argv in, standard output back."""
    with worktree(ref) as tree:

        def run(argv: list[str]) -> str:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            return subprocess.run(
                [sys.executable, script, *argv], check=True, capture_output=True, text=True, cwd=tree.parent, env=env
            ).stdout

        yield run
