"""Commands that listen, started on a port another socket holds: one line naming it, non-zero exit."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize(
    "args",
    [
        ["sim", "smsc", "--host", "127.0.0.1", "--port", "{port}"],
        ["sim", "http", "--provider", "selzy", "--host", "127.0.0.1", "--port", "{port}"],
        ["gateway", "smtp", "--listen", "127.0.0.1:{port}", "--domain", "d.example", "--allow", "127.0.0.1"],
    ],
    ids=["sim-smsc", "sim-http", "gateway-smtp"],
)
def test_port_in_use_is_one_line(busy_port: int, tmp_path: Path, args: list[str]) -> None:
    argv = [a.format(port=busy_port) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "msgbridge", "--store", str(tmp_path / "s.db"), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "cannot listen" in line]
    assert errors == [
        f"Error: cannot listen on 127.0.0.1:{busy_port}: address already in use (another process listens there)"
    ]
