"""``msgbridge serve`` with ``[smpp_front]`` when starting fails: nothing is left listening and the reason is
one line. The front's own port in use: the process exits non-zero naming the address (a real process). The
HTTP server failing after the front listened: the front's listener is closed and ``serve`` raises the
reason (the serve function in this process, uvicorn made to fail as it does, by ``sys.exit``)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from test_front_serve_process import ENV, free_port

from msgbridge.cli import serve as serve_module
from msgbridge.cli.serve import HttpStartFailed, serve
from msgbridge.config import load_config
from msgbridge.service.apikeys import create_key
from msgbridge.service.smppfront.accounts import create_account


def write_config(tmp_path: Path, front_port: int) -> Path:
    config = tmp_path / "msgbridge.toml"
    config.write_text(
        f'[store]\npath = "{tmp_path / "serve.db"}"\n[transports]\nmem = "memory://"\n'
        f'[serve]\nlisten = "127.0.0.1:0"\n[smpp_front]\nlisten = "127.0.0.1:{front_port}"\n',
        encoding="utf-8",
    )
    create_account(tmp_path / "msgbridge-smpp-users.toml", "acme", password="secret")
    create_key(tmp_path / "msgbridge-keys.toml", "app")
    return config


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True


def run_serve(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "msgbridge", "serve", "--config", str(config), *args],
        capture_output=True, text=True, env=ENV, timeout=60,
    )  # fmt: skip


def test_the_front_port_in_use_exits_non_zero_naming_the_address(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        done = run_serve(write_config(tmp_path, port))
    assert done.returncode != 0
    assert f"SMPP front: cannot listen on 127.0.0.1:{port}: address already in use" in done.stderr
    assert "listening on" not in done.stdout  # the HTTP API was never announced
    assert "Traceback" not in done.stderr


def test_the_http_port_in_use_exits_non_zero_before_the_front_listens(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        done = run_serve(write_config(tmp_path, free_port()), "--listen", f"127.0.0.1:{port}")
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in done.stderr
    assert "SMPP front" not in done.stderr and "listening on" not in done.stdout
    assert "Traceback" not in done.stderr


async def test_the_http_server_failing_after_the_front_listened_closes_the_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    config = load_config(str(write_config(tmp_path, port)))
    seen: list[bool] = []

    async def failing_startup(self: object, sockets: object = None) -> None:
        seen.append(listening(port))  # the front is up by the time uvicorn starts
        sys.exit(3)  # what uvicorn does when its startup fails

    monkeypatch.setattr(serve_module._Server, "startup", failing_startup)
    with pytest.raises(HttpStartFailed, match=r"the HTTP server on http://127\.0\.0\.1:\d+ could not start"):
        await serve(config, config.serve, access_log=False)
    assert seen == [True]
    assert not listening(port)
    socket.create_server(("127.0.0.1", port)).close()  # the port is free again
