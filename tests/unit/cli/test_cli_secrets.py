"""Secrets in URLs and DSNs stay off the terminal, out of the store and out of log lines; bad URLs fail fast.

Every command here runs as a real process (``python -m msgbridge``), as a user
would run it, so the logging setup, the error printing and the exit code are
the ones a user gets.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from msgbridge.core.errors import ErrorCode
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.base import CampaignRecord
from msgbridge.store.sqlite import SqliteStore

# Generous: a loaded machine starts Python slowly; a command that hangs is what these tests catch.
LIMIT = 60


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "msgbridge", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=LIMIT,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], code: ErrorCode) -> str:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {code.value}: "), lines[0]
    return lines[0]


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("phone,name\n+77011234567,A\n+77011234568,B\n", encoding="utf-8")
    return path


# -- SMPP credentials over their field size: refused before anything connects ----------------------
# Against a listening SMSC such a URL used to hang (the codec error left the first bind unresolved);
# the simulator's counters show the refusal came before any connection.


async def arun(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "msgbridge",
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), LIMIT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"msgbridge {' '.join(args)} still running after {LIMIT} s") from None
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    sim = SmscSimulator(users={"u": "longpassword", "abcdefghijklmnopq": "p"})
    async with sim.serve("127.0.0.1", 0):
        yield sim


async def test_send_with_an_smpp_password_over_8_fails_at_once(tmp_path: Path, smsc: SmscSimulator) -> None:
    via = f"smpp://u:longpassword@127.0.0.1:{smsc.server.port}"
    proc = await arun(tmp_path, "send", "--via", via, "--to", "+77011234567", "--text", "hi")
    line = one_line_error(proc, ErrorCode.INVALID_ARGUMENT)
    assert "password" in line and "at most 8" in line and "longpassword" not in line
    assert smsc.stats.connections == 0


async def test_campaign_run_with_an_smpp_system_id_over_15_fails_at_once(
    tmp_path: Path, csv_file: Path, smsc: SmscSimulator
) -> None:
    via = f"smpp://abcdefghijklmnopq:p@127.0.0.1:{smsc.server.port}"
    proc = await arun(
        tmp_path, "campaign", "run", "--via", via, "--csv", str(csv_file), "--template", "Hi {name}"
    )
    line = one_line_error(proc, ErrorCode.INVALID_ARGUMENT)
    assert "system_id" in line and "at most 15" in line
    assert smsc.stats.connections == 0


async def test_gateway_with_a_bad_smpp_via_exits_instead_of_listening(
    tmp_path: Path, smsc: SmscSimulator
) -> None:
    proc = await arun(
        tmp_path,
        "gateway",
        "smtp",
        "--domain",
        "sms.example",
        "--allow",
        "127.0.0.1",
        "--listen",
        "127.0.0.1:0",
        "--via",
        f"smpp://u:пароль@127.0.0.1:{smsc.server.port}",  # not Latin-1: the codec could not encode it
    )
    line = one_line_error(proc, ErrorCode.INVALID_ARGUMENT)
    assert "password must be ASCII" in line
    assert "listening" not in proc.stdout
    assert smsc.stats.connections == 0


def test_unknown_option_on_the_command_line(tmp_path: Path) -> None:
    via = "smpp://u:p@127.0.0.1:9?widnow=5"
    proc = run(tmp_path, "send", "--via", via, "--to", "+77011234567", "--text", "hi")
    line = one_line_error(proc, ErrorCode.INVALID_ARGUMENT)
    assert "has no option 'widnow' (did you mean window?); known options: bind_timeout, binds," in line


# -- unencoded '/' and '@' in a password ---------------------------------------------------------


@pytest.mark.parametrize(
    "via",
    ["smpp://u:pa/SECRETX@127.0.0.1:bad", "smtp://u:pa/SECRETX@127.0.0.1:bad", "smpp://u:pa/SECRETX"],
)
def test_a_bad_url_error_shows_no_part_of_the_password(tmp_path: Path, via: str) -> None:
    proc = run(tmp_path, "send", "--via", via, "--to", "+77011234567", "--text", "hi")
    line = one_line_error(proc, ErrorCode.INVALID_ARGUMENT)
    assert "SECRETX" not in line and "pa/" not in line


def test_a_password_with_an_at_sign_is_hidden_everywhere(tmp_path: Path, csv_file: Path) -> None:
    via = "memory://q:ab@XYZ99@local?dlr_delay_ms=1"
    proc = run(
        tmp_path, "campaign", "run", "--via", via, "--csv", str(csv_file), "--template", "Hi", "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    assert "XYZ99" not in proc.stdout + proc.stderr
    assert "memory://q:***@local" in proc.stdout
    status = run(tmp_path, "campaign", "status", "people")
    assert status.returncode == 0 and "XYZ99" not in status.stdout and "q:***@local" in status.stdout
    as_json = run(tmp_path, "campaign", "status", "people", "--json")
    assert json.loads(as_json.stdout)["transport"] == "memory://q:***@local?dlr_delay_ms=1"
    with sqlite3.connect(tmp_path / "msgbridge.db") as db:
        [(stored,)] = db.execute("SELECT transport FROM campaigns").fetchall()
    assert stored == "memory://q:***@local?dlr_delay_ms=1"


async def test_the_store_never_holds_a_secret_even_when_given_one(tmp_path: Path) -> None:
    """Whoever calls the store, and whatever an older version wrote, the column shows no password."""
    path = tmp_path / "s.db"
    async with SqliteStore(str(path)) as store:
        await store.save_campaign(
            CampaignRecord(
                name="c",
                template="t",
                sender=None,
                transport="smpp://u:TOPSECRET@h:1",
                created_at=0.0,
                options={},
            )
        )
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT transport FROM campaigns").fetchone() == ("smpp://u:***@h:1",)
        db.execute("UPDATE campaigns SET transport = 'smpp://u:OLDSECRET@h:1'")  # a row from before
    async with SqliteStore(str(path)) as store:
        record = await store.get_campaign("c")
    assert record is not None and record.transport == "smpp://u:***@h:1"


# -- store DSNs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dsn",
    [
        "postgres://u:PG/SECRET@127.0.0.1:9/db",  # unencoded '/': encoded for the driver, which then connects
        "postgres://u:PGSECRET@127.0.0.1:bad/db",
        "postgresql://u:PG?SECRET@127.0.0.1:9/db",
    ],
)
def test_a_store_dsn_error_is_one_line_without_the_secret(tmp_path: Path, dsn: str) -> None:
    proc = run(tmp_path, "--store", dsn, "send", "--via", "memory://", "--to", "+77011234567", "--text", "hi")
    line = one_line_error(proc, ErrorCode.INVALID_ARGUMENT)
    assert "SECRET" not in line and "Traceback" not in proc.stderr
    assert "PostgreSQL store" in line


# -- third-party log lines ---------------------------------------------------------------------------


async def test_mobizon_key_in_query_never_reaches_the_verbose_log(tmp_path: Path) -> None:
    key = "MOBIZONKEY12345"
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "msgbridge",
        "sim",
        "http",
        "--provider",
        "mobizon",
        "--port",
        "0",
        "--api-key",
        key,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert sim.stdout is not None
        await asyncio.wait_for(sim.stdout.readline(), LIMIT)
        url = (
            (await asyncio.wait_for(sim.stdout.readline(), LIMIT))
            .decode()
            .strip()
            .removeprefix("transport URL: ")
        )
        assert key in url
        for verbose in ("-v", "-vv"):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "msgbridge",
                verbose,
                "send",
                "--via",
                f"{url}&key_in=query",
                "--to",
                "+77011234567",
                "--text",
                "hi",
                cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), LIMIT)
            assert proc.returncode == 0, err.decode()
            log = err.decode()
            assert "HTTP Request: POST" in log and "apiKey=***" in log  # httpx did log the request URL
            assert key not in log + out.decode()
    finally:
        sim.send_signal(signal.SIGINT)
        await asyncio.wait_for(sim.communicate(), LIMIT)
