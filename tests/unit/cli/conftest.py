"""The ``msgbridge`` fixture: the real entry point run in-process, as a user's shell would run it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Run

from msgbridge.cli.main import main


@pytest.fixture
def msgbridge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Run]:
    """Run the real entry point in-process, with the store and config in a temp dir."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("MSGBRIDGE_")]:
        monkeypatch.delenv(key)

    def run(*args: str) -> Run:
        monkeypatch.setattr(sys, "argv", ["msgbridge", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
