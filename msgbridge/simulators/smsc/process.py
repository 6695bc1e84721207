"""``msgbridge sim smsc`` in a child process: how the demo, the benchmarks and CLI tests run it.

A separate process keeps the simulator's CPU off the client's core and lets
a benchmark read both sides' CPU apart. The child prints ``listening on
HOST:PORT`` once it accepts connections (with ``--port 0`` the real port),
``counters k=v ...`` on SIGUSR1 and at exit; this wrapper waits for the one
and parses the other.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

_LISTENING = re.compile(r"listening on ([^\s:]+):(\d+)")


def parse_counters(line: str) -> dict[str, float]:
    """``counters a=1 b=2.5`` -> ``{"a": 1.0, "b": 2.5}``."""
    return {k: float(v) for k, v in (item.split("=", 1) for item in line.split()[1:] if "=" in item)}


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SimulatorProcess:
    """Start the simulator with ``options`` (CLI flags, ``--port 0`` added) and wait until it listens."""

    def __init__(self, *options: str, startup_timeout: float = 30.0) -> None:
        cmd = [sys.executable, "-m", "msgbridge", "sim", "smsc", "--port", "0", *options]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.output: list[str] = []
        self.host = "127.0.0.1"
        self.port = 0
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            line = self._readline()
            if line is None:
                break
            found = _LISTENING.search(line)
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
                return
        self.proc.kill()
        self.proc.communicate()
        raise RuntimeError("the SMSC simulator did not start:\n" + "".join(self.output[-20:]))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return process_cpu(self.proc.pid)

    def _readline(self) -> str | None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            return None
        self.output.append(line)
        return line

    def counters(self) -> dict[str, float]:
        """Ask the running simulator for its counters (SIGUSR1)."""
        self.proc.send_signal(signal.SIGUSR1)
        while (line := self._readline()) is not None:
            if line.startswith("counters "):
                return parse_counters(line)
        raise RuntimeError("the SMSC simulator exited")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> dict[str, float]:
        """Stop it and return the counters it printed on the way out (empty if it printed none)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rest, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
        self.output.extend((rest or "").splitlines(keepends=True))
        last = [ln for ln in self.output if ln.startswith("counters ")]
        return parse_counters(last[-1]) if last else {}

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
