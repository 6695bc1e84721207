"""The CLI over smpp://: `msgbridge send --wait` and `msgbridge inbox --listen` against the simulator process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from msgbridge.simulators.smsc.process import SimulatorProcess


@pytest.fixture
def smsc_process() -> Iterator[int]:
    """`msgbridge sim smsc` in its own process on a free port; yields the port."""
    with SimulatorProcess("--users", "u:p", "--dlr-delay-ms", "20", "--dlr-mix", "delivered=1") as sim:
        yield sim.port


def msgbridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "msgbridge", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_send_waits_for_the_receipt(smsc_process: int, tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite")
    url = f"smpp://u:p@127.0.0.1:{smsc_process}?window=5"
    out = msgbridge("--store", db, "send", "--via", url, "--to", "+77011234567", "--text", "hello", "--from", "Shop",
                    "--wait", "10", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "DELIVERED", result
    assert "p@" not in out.stdout + out.stderr  # the password never printed
    status = msgbridge("--store", db, "status", result["id"])
    assert status.returncode == 0, status.stderr
    assert "DELIVERED" in status.stdout


def test_wrong_password_is_a_one_line_error(smsc_process: int, tmp_path: Path) -> None:
    out = msgbridge("--store", str(tmp_path / "db.sqlite"), "send", "--via",
                    f"smpp://u:wrong@127.0.0.1:{smsc_process}", "--to", "+77011234567", "--text", "x")  # fmt: skip
    assert out.returncode != 0
    assert "AUTH_FAILED" in out.stderr
    assert "Traceback" not in out.stderr
    assert "wrong" not in out.stderr
