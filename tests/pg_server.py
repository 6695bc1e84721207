"""A throwaway PostgreSQL cluster for the tests: ``initdb`` into a temp dir, start on a free loopback port, remove.

The PostgreSQL store exists for what only a real server shows: ``SKIP LOCKED``
claims, row locks and advisory locks between processes. A mock cannot fail
the way a server does, so the tests start one when the binaries are there
(they ship with the server package: ``/usr/lib/postgresql/<version>/bin`` on
Debian/Ubuntu, or on PATH).

The cluster is disposable: trust authentication on 127.0.0.1 and a private
socket directory, ``fsync=off`` (durability is not what these tests check),
everything under one temp dir that :meth:`TempCluster.stop` removes.
PostgreSQL refuses to run as root, so as root the server commands run as the
``postgres`` system user through ``runuser``.

Also a script, for benchmarks and manual runs::

    python tests/pg_server.py      # prints a DSN, serves until Ctrl-C
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

NEEDED = ("initdb", "pg_ctl", "postgres", "createdb")
SEARCH_GLOB = "/usr/lib/postgresql/*/bin"
ENV_DSN = "MSGBRIDGE_TEST_POSTGRES"  # a server to use instead of starting one
SUPERUSER = "postgres"
DATABASE = "msgbridge_test"
RUN_AS = "postgres"  # the system user the server runs as when we are root
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it
PREFIX = "msgbridge-pg-"  # temp dir names
OWNER = "owner.pid"  # the test process a cluster belongs to: one whose owner is gone is stopped and removed

# Settings for a disposable cluster; appended to its postgresql.conf.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


class ServerNotFound(RuntimeError):
    """No usable PostgreSQL server binaries (or no user to run them as): the caller decides skip or fail."""


def _version_key(bindir: str) -> tuple[int, ...]:
    """``/usr/lib/postgresql/15/bin`` -> (15,): the newest installed server first."""
    name = Path(bindir).parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit()) or (0,)


def find_bindir() -> Path:
    """The first directory holding all of NEEDED: PATH's ``initdb`` (as found, then resolved), then SEARCH_GLOB."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates += [Path(on_path).parent, Path(on_path).resolve().parent]
    candidates += [Path(d) for d in sorted(glob.glob(SEARCH_GLOB), key=_version_key, reverse=True)]
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in NEEDED):
            return bindir
    raise ServerNotFound(
        f"no PostgreSQL server binaries ({', '.join(NEEDED)}) on PATH or in {SEARCH_GLOB}; "
        "install the server package or set MSGBRIDGE_TEST_POSTGRES to a DSN"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempCluster:
    """One initdb'ed cluster in a temp dir; :meth:`start` returns it running, :meth:`stop` removes it."""

    def __init__(self, bindir: Path, base: Path, run_as: str | None) -> None:
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.logfile = base / "server.log"
        self.run_as = run_as
        self.port = 0

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @classmethod
    def start(cls, bindir: Path | None = None) -> TempCluster:
        bindir = bindir or find_bindir()
        run_as: str | None = None
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise ServerNotFound("running as root and no 'runuser' to start PostgreSQL as another user")
            try:
                pwd.getpwnam(RUN_AS)
            except KeyError:
                raise ServerNotFound(
                    f"running as root and no {RUN_AS!r} system user to run PostgreSQL as"
                ) from None
            run_as = RUN_AS
        reap_stale(bindir, run_as)
        base = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent_dir(run_as)))
        (base / OWNER).write_text(str(os.getpid()))
        cluster = cls(bindir, base, run_as)
        try:
            cluster._init()
            cluster._boot()
            cluster._run("createdb", "-h", str(base), "-p", str(cluster.port), "-U", SUPERUSER, DATABASE)
        except BaseException:
            cluster.stop()
            raise
        log.info("PostgreSQL test cluster at %s (port %d)", base, cluster.port)
        return cluster

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        # The server's children inherit nothing from pytest's captured descriptors.
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            tail = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(
                f"{tool} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
                + (f"\nserver log:\n{tail}" if tail else "")
            )

    def _init(self) -> None:
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self.base.chmod(0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        lines = [f"{key} = {value}" for key, value in SETTINGS.items()]
        lines.append(f"unix_socket_directories = '{self.base}'")
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as fh:
            fh.write("\n# msgbridge test cluster\n" + "\n".join(lines) + "\n")

    def _boot(self) -> None:
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = free_port()
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.logfile),
                    "-o",
                    f"-p {self.port}",
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
                return
            except RuntimeError:
                if attempt == START_ATTEMPTS:
                    raise
                log.warning("PostgreSQL did not start on port %d; trying another port", self.port)

    def stop(self) -> None:
        """Stop the server (immediate: nothing here is worth a checkpoint) and remove every file."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


def parent_dir(run_as: str | None) -> str:
    """The temp dir, unless the server's user could not reach into it (a private TMPDIR of root's): /tmp then."""
    tmp = tempfile.gettempdir()
    if run_as is None:
        return tmp
    path = Path(tmp).resolve()
    for part in (path, *path.parents):
        if not part.stat().st_mode & 0o001:  # not searchable by others
            return "/tmp"
    return tmp


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a killed process nobody has reaped yet (a zombie) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def reap_stale(bindir: Path, run_as: str | None) -> None:
    """Stop and remove clusters left by test sessions that were killed before their teardown ran."""
    for path in glob.glob(os.path.join(parent_dir(run_as), PREFIX + "*")):
        base = Path(path)
        try:
            owner = int((base / OWNER).read_text())
        except (OSError, ValueError):
            continue  # not one of ours, or still being set up
        if alive(owner):
            continue
        log.warning("removing a PostgreSQL test cluster left behind by process %d: %s", owner, base)
        TempCluster(bindir, base, run_as).stop()


def in_ci(environ: Mapping[str, str]) -> bool:
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def session_dsn(environ: Mapping[str, str] = os.environ) -> Iterator[str]:
    """Yield a DSN for a test session: ``MSGBRIDGE_TEST_POSTGRES`` if set, else a throwaway cluster.

    Without server binaries the PostgreSQL tests are skipped on a developer's
    machine but fail under CI: a green CI run must not hide that the
    PostgreSQL store was never exercised.
    """
    import pytest

    override = environ.get(ENV_DSN, "").strip()
    if override:
        yield override
        return
    try:
        cluster = TempCluster.start()
    except ServerNotFound as exc:
        if in_ci(environ):
            pytest.fail(f"{exc} (CI is set: the PostgreSQL tests must run there)", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


def main() -> None:
    cluster = TempCluster.start()
    try:
        # Blocked only now, so the server's processes do not inherit the mask; sigwait takes them instead.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        print(cluster.dsn, flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
