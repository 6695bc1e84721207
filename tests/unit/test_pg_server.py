"""The test PostgreSQL server's discovery, and what a missing server does: skip locally, fail under CI."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pg_server
import pytest

TESTS = Path(__file__).resolve().parents[1]


def fake_bindir(root: Path, *tools: str) -> Path:
    root.mkdir(parents=True)
    for tool in tools:
        exe = root / tool
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    return root


def test_newest_complete_install_is_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "lib"
    fake_bindir(lib / "13" / "bin", *pg_server.NEEDED)
    fake_bindir(lib / "15" / "bin", *pg_server.NEEDED)
    fake_bindir(lib / "16" / "bin", "initdb", "pg_ctl", "postgres")  # no createdb: not usable
    monkeypatch.setattr(pg_server, "SEARCH_GLOB", str(lib / "*" / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert pg_server.find_bindir() == lib / "15" / "bin"


def test_path_wins_over_the_search_glob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_bindir(tmp_path / "lib" / "15" / "bin", *pg_server.NEEDED)
    on_path = fake_bindir(tmp_path / "local" / "bin", *pg_server.NEEDED)
    monkeypatch.setattr(pg_server, "SEARCH_GLOB", str(tmp_path / "lib" / "*" / "bin"))
    monkeypatch.setenv("PATH", str(on_path))
    assert pg_server.find_bindir() == on_path


def test_nothing_found_names_what_was_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_server, "SEARCH_GLOB", str(tmp_path / "*" / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pg_server.ServerNotFound, match=r"initdb.*MSGBRIDGE_TEST_POSTGRES"):
        pg_server.find_bindir()


@pytest.fixture
def no_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_server, "SEARCH_GLOB", str(tmp_path / "none" / "*" / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


@pytest.mark.usefixtures("no_server")
def test_missing_server_skips_outside_ci() -> None:
    for environ in ({}, {"CI": ""}, {"CI": "false"}, {"CI": "0"}):
        with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server binaries"):
            next(pg_server.session_dsn(environ))


@pytest.mark.usefixtures("no_server")
@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_missing_server_fails_under_ci(value: str) -> None:
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        next(pg_server.session_dsn({"CI": value}))


@pytest.mark.usefixtures("no_server")
def test_dsn_override_starts_no_server() -> None:
    dsn = "postgresql://u@127.0.0.1:1/x"
    assert next(pg_server.session_dsn({"CI": "true", "MSGBRIDGE_TEST_POSTGRES": dsn})) == dsn


INNER_CONFTEST = """
import pg_server
import pytest

pg_server.SEARCH_GLOB = {glob!r}


@pytest.fixture(scope="session")
def pg_dsn():
    yield from pg_server.session_dsn()
"""


def test_under_ci_a_missing_server_makes_the_session_fail(tmp_path: Path) -> None:
    """End to end: a whole pytest run with CI set and no server is red, not green with skips."""
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST.format(glob=str(tmp_path / "none" / "*" / "bin")))
    (tmp_path / "test_wants_pg.py").write_text("def test_wants_pg(pg_dsn):\n    assert pg_dsn\n")
    env = {k: v for k, v in os.environ.items() if k != "MSGBRIDGE_TEST_POSTGRES"}
    env.update(PATH=str(tmp_path / "empty"), PYTHONPATH=str(TESTS), CI="true")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 error" in proc.stdout and "CI is set" in proc.stdout


def test_clusters_of_dead_sessions_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead = tmp_path / f"{pg_server.PREFIX}dead"
    live = tmp_path / f"{pg_server.PREFIX}live"
    foreign = tmp_path / f"{pg_server.PREFIX}foreign"  # no owner file: not ours to touch
    for base, owner in ((dead, finished.stdout.decode().strip()), (live, str(os.getpid())), (foreign, None)):
        base.mkdir()
        if owner is not None:
            (base / pg_server.OWNER).write_text(owner)
    pg_server.reap_stale(tmp_path / "bin", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, foreign.name])


def test_a_zombie_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert pg_server.alive(os.getpid())
    deadline = time.monotonic() + 30
    while pg_server.alive(child.pid):  # exits, and stays a zombie until waited for
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child.wait()
    assert not pg_server.alive(child.pid)


def test_a_private_temp_dir_is_not_used_for_another_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    assert pg_server.parent_dir(None) == str(private)  # the server runs as us: any dir of ours will do
    assert pg_server.parent_dir("postgres") == "/tmp"
    reachable = Path(tempfile.mkdtemp(prefix="msgbridge-test-", dir="/tmp"))
    try:
        reachable.chmod(0o755)
        monkeypatch.setattr(tempfile, "tempdir", str(reachable))
        assert pg_server.parent_dir("postgres") == str(reachable)
    finally:
        reachable.rmdir()
