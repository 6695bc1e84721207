"""``msgbridge serve`` in a child process: how the serve demo, the serve benchmark and the tests run it.

The service is started as a user starts it, from a ``msgbridge.toml`` (:func:`write_config`) and with
``--listen 127.0.0.1:0``; it prints ``listening on http://HOST:PORT`` once the socket is bound, which
:class:`ServeProcess` waits for and reads. Stopping it is SIGTERM (a drain, exit 0) or SIGKILL.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

_LISTENING = re.compile(r"listening on (https?://\S+)")


def write_config(
    path: Path,
    *,
    store: str,
    transports: Mapping[str, str],
    keys: str = "keys.toml",
    drain_timeout: float = 10.0,
    max_body: str | None = None,
) -> Path:
    """A ``msgbridge.toml`` for ``serve``: the store, the transports, the key file (next to it)."""
    lines = ["[store]", f"path = {json.dumps(store)}", "", "[transports]"]
    lines += [f"{name} = {json.dumps(url)}" for name, url in transports.items()]
    lines += ["", "[serve]", 'listen = "127.0.0.1:0"', f"drain_timeout = {drain_timeout:g}"]
    if max_body is not None:
        lines.append(f"max_body = {json.dumps(max_body)}")
    lines += ["", "[apikeys]", f"file = {json.dumps(keys)}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class ServeProcess:
    """``msgbridge --config CONFIG serve`` (plus ``options``) on a free port; waits until it listens.

    Its output is read on a thread of its own for as long as it runs (kept in :attr:`output`), so a
    service that logs much never blocks on a full pipe.
    """

    def __init__(
        self,
        config: Path,
        *options: str,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        cmd = [sys.executable, "-m", "msgbridge", "--config", str(config), "serve", "--listen", "127.0.0.1:0"]
        self.proc = subprocess.Popen(
            [*cmd, *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env={**os.environ, **(env or {})},
        )
        self.output: list[str] = []
        self.url = ""
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read, name="serve-output", daemon=True)
        self._reader.start()
        if not self._listening.wait(startup_timeout) or not self.url:
            self.kill()
            raise RuntimeError("msgbridge serve did not start:\n" + "".join(self.output[-30:]))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            found = _LISTENING.search(line)
            if found and not self.url:
                self.url = found.group(1)
                self._listening.set()
        self._listening.set()  # exited: the constructor stops waiting

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (the drain) and wait for the exit; its status (killed if it outlives ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """SIGKILL: nothing of the service runs one more instruction."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(5)

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def msgbridge_command(config: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run one ``msgbridge --config CONFIG ARGS...`` command and return its stdout; RuntimeError if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "msgbridge", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise RuntimeError(f"msgbridge {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def create_api_key(config: Path, name: str, *options: str) -> str:
    """``msgbridge apikey create NAME``: the key it prints (once)."""
    return msgbridge_command(config, "apikey", "create", name, *options).strip()
