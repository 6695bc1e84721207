"""``msgbridge serve`` as a process: --check, SIGTERM drains (in flight finished, exit 0, nothing lost), and a
SIGKILL right after a 202 loses nothing: the restarted server sends every message exactly once."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tls_certs import self_signed

from msgbridge.service.apikeys import create_key
from msgbridge.simulators.smsc.process import SimulatorProcess

ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("MSGBRIDGE_")}, "PYTHONUNBUFFERED": "1"}


def write_config(tmp_path: Path, smsc_port: int, *, extra: str = "") -> Path:
    config = tmp_path / "msgbridge.toml"
    config.write_text(
        f'[store]\npath = "{tmp_path / "serve.db"}"\n'
        f'[transports]\nsms = "smpp://u:p@127.0.0.1:{smsc_port}?window=20&reconnect_wait=0.2"\n'
        f'[serve]\nlisten = "127.0.0.1:0"\ndrain_timeout = 20\n{extra}',
        encoding="utf-8",
    )
    return config


class Serve:
    """One ``msgbridge serve`` child; ``url`` from its ``listening on`` line."""

    def __init__(self, config: Path, *args: str) -> None:
        self.err_path = config.with_name(f"serve-{time.monotonic_ns()}.err")
        self.err = self.err_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "msgbridge", "serve", "--config", str(config), *args],
            stdout=subprocess.PIPE, stderr=self.err, text=True, env=ENV,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith(("listening on http://", "listening on https://")):
            self.kill()  # never left running behind a failed test
            raise AssertionError(line + self.stderr())
        self.url = line.split()[-1]

    def stderr(self) -> str:
        if not self.err.closed:
            self.err.flush()
        return self.err_path.read_text(encoding="utf-8")

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self.err.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self.err.close()


def statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db, timeout=30) as conn:
        return dict(conn.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall())


def wait_for(predicate: object, seconds: float = 60.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds (a deadline, not a speed assertion)."""
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def batch(n: int, start: int = 0) -> dict[str, object]:
    return {"messages": [{"to": f"+7701{start + i:07d}", "text": f"m{i}"} for i in range(n)]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_validates_and_names_the_problem(tmp_path: Path) -> None:
    config = write_config(tmp_path, 2775)

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "msgbridge", "serve", "--config", str(config), "--check", *args],
            capture_output=True, text=True, timeout=60, env=ENV, check=False,
        )  # fmt: skip

    missing = check()
    assert (
        missing.returncode == 2 and "no API key file" in missing.stderr and "Traceback" not in missing.stderr
    )
    create_key(tmp_path / "msgbridge-keys.toml", "app")
    ok = check()
    assert ok.returncode == 0, ok.stderr
    assert "configuration OK" in ok.stdout and "API keys: 1" in ok.stdout
    assert "u:p@" not in ok.stdout and "smpp://u:***@127.0.0.1:2775" in ok.stdout
    assert check("--listen", "nowhere").returncode == 2
    config.write_text(config.read_text(encoding="utf-8").replace("window=20", "windw=20"), encoding="utf-8")
    bad = check()
    assert bad.returncode == 2 and "transport 'sms'" in bad.stderr and "windw" in bad.stderr
    config.write_text(
        config.read_text(encoding="utf-8") + 'tls_cert = "nope.pem"\ntls_key = "nope.key"\n', encoding="utf-8"
    )
    assert check().returncode == 2


def test_sigterm_finishes_in_flight_then_exits_and_a_restart_sends_the_rest(tmp_path: Path) -> None:
    with SimulatorProcess("--users", "u:p", "--dlr-delay-ms", "10", "--latency-ms", "300") as sim:
        config = write_config(tmp_path, sim.port)
        token = create_key(tmp_path / "msgbridge-keys.toml", "app")[1]
        auth = {"Authorization": f"Bearer {token}"}
        server = Serve(config)
        try:
            with httpx.Client(base_url=server.url, headers=auth, timeout=30) as client:
                wait_for(lambda: client.get("/readyz").status_code == 200, what="ready")
                r = client.post("/v1/messages", json=batch(200))
                assert r.status_code == 202, r.text
                ids = [m["id"] for m in r.json()["messages"]]

                def in_flight() -> bool:
                    return bool(client.get("/v1/transports").json()["transports"][0]["in_flight"] > 0)

                wait_for(in_flight, what="submits in flight")
                server.proc.send_signal(signal.SIGTERM)

                def refused() -> bool:
                    try:
                        r = client.post("/v1/messages", json=batch(1, 500 + len(ids)))
                    except httpx.TransportError:
                        return False  # it has already stopped listening
                    if r.status_code == 202:  # sent before the signal was handled: accepted, so it counts
                        ids.append(r.json()["messages"][0]["id"])
                    return r.status_code == 503

                wait_for(refused, what="503 while draining")
            assert server.wait() == 0, server.stderr()
        finally:
            server.kill()
        assert "draining" in server.stderr() and "stopped" in server.stderr()
        counts = statuses(tmp_path / "serve.db")
        total = len(ids)
        assert sum(counts.values()) == total  # a refused message was never queued
        assert counts.get("MAYBE_SUBMITTED", 0) == 0, counts  # what was in flight got its answer
        sent_first = counts.get("SUBMITTED", 0) + counts.get("DELIVERED", 0)
        assert 0 < sent_first

        server = Serve(config)
        try:
            with httpx.Client(base_url=server.url, headers=auth, timeout=30) as client:

                def all_delivered() -> bool:
                    got = [client.get(f"/v1/messages/{mid}").json()["status"] for mid in ids]
                    return (
                        all(s in ("DELIVERED", "SUBMITTED") for s in got)
                        and statuses(tmp_path / "serve.db").get("QUEUED", 0) == 0
                    )

                wait_for(all_delivered, what="the rest sent after the restart")
            server.proc.send_signal(signal.SIGTERM)
            assert server.wait() == 0
        finally:
            server.kill()
        counters = sim.counters()
    assert counters["submit_sm_ok"] == counters["destinations"] == total  # each exactly once


@pytest.mark.parametrize("smsc_up", [False, True], ids=["smsc-down", "smsc-up"])
def test_sigkill_after_202_loses_nothing(tmp_path: Path, smsc_up: bool) -> None:
    """SMSC down: nothing was sent before the kill, so everything is sent after it, exactly once. SMSC up: the
    kill lands mid-send; every message is still there, none is sent twice (the in-doubt ones are not resent)."""
    port = free_port()
    sim = SimulatorProcess("--users", "u:p", "--dlr-delay-ms", "10") if smsc_up else None
    config = write_config(tmp_path, sim.port if sim else port)
    token = create_key(tmp_path / "msgbridge-keys.toml", "app")[1]
    auth = {"Authorization": f"Bearer {token}"}
    n = 300
    try:
        server = Serve(config)
        try:
            with httpx.Client(base_url=server.url, headers=auth, timeout=30) as client:
                r = client.post("/v1/messages", json=batch(n))
                assert r.status_code == 202, r.text
                os.kill(server.proc.pid, signal.SIGKILL)
        finally:
            server.kill()
        counts = statuses(tmp_path / "serve.db")
        assert sum(counts.values()) == n, counts  # every 202 is in the store
        in_doubt = counts.get("MAYBE_SUBMITTED", 0)
        if sim is None:
            assert counts == {"QUEUED": n}
            sim = SimulatorProcess("--users", "u:p", "--dlr-delay-ms", "10", "--port", str(port))
        server = Serve(config)
        try:
            db = tmp_path / "serve.db"
            wait_for(lambda: statuses(db).get("QUEUED", 0) == 0, what="the queue drained after the restart")
            wait_for(lambda: statuses(db).get("DELIVERED", 0) >= n - in_doubt - statuses(db).get("SUBMITTED", 0),
                     what="receipts")  # fmt: skip
            server.proc.send_signal(signal.SIGTERM)
            assert server.wait() == 0
        finally:
            server.kill()
        counts = statuses(tmp_path / "serve.db")
        counters = sim.counters()
    finally:
        if sim is not None:
            sim.stop()
    assert counters["submit_sm_ok"] == counters["destinations"], counters  # nothing sent twice
    assert counters["destinations"] >= n - in_doubt
    if not smsc_up:
        assert counts == {"DELIVERED": n} and counters["destinations"] == n
    print(json.dumps({"smsc_up": smsc_up, "in_doubt_after_kill": in_doubt, "end": counts}))


def test_a_receipt_after_a_restart_of_serve_is_matched(tmp_path: Path) -> None:
    """The receipt comes after the first server has stopped; the SMSC keeps it for the next bind, and the
    restarted server matches it through the store."""
    with SimulatorProcess("--users", "u:p", "--dlr-delay-ms", "2500") as sim:
        config = write_config(tmp_path, sim.port)
        token = create_key(tmp_path / "msgbridge-keys.toml", "app")[1]
        auth = {"Authorization": f"Bearer {token}"}
        db = tmp_path / "serve.db"
        server = Serve(config)
        try:
            with httpx.Client(base_url=server.url, headers=auth, timeout=30) as client:
                mid = client.post("/v1/messages", json={"to": "+77011234567", "text": "late"}).json()["id"]
                wait_for(lambda: statuses(db).get("SUBMITTED") == 1, what="SUBMITTED")
            server.proc.send_signal(signal.SIGTERM)
            assert server.wait() == 0
        finally:
            server.kill()
        assert statuses(db) == {"SUBMITTED": 1}  # stopped before the receipt
        server = Serve(config)
        try:
            with httpx.Client(base_url=server.url, headers=auth, timeout=30) as client:
                wait_for(
                    lambda: client.get(f"/v1/messages/{mid}").json()["status"] == "DELIVERED",
                    what="the late receipt",
                )
                assert client.get("/v1/transports").json()["transports"][0]["receipts_matched"] == 1
            server.proc.send_signal(signal.SIGTERM)
            assert server.wait() == 0
        finally:
            server.kill()


def test_tls(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    config = write_config(tmp_path, free_port(), extra='tls_cert = "cert.pem"\ntls_key = "key.pem"\n')
    create_key(tmp_path / "msgbridge-keys.toml", "app")
    server = Serve(config)
    try:
        assert server.url.startswith("https://127.0.0.1:")
        with httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=str(cert))) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
        with (
            httpx.Client(base_url=server.url.replace("https://", "http://")) as plain,
            pytest.raises(httpx.HTTPError),
        ):
            plain.get("/healthz")
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait() == 0
    finally:
        server.kill()
