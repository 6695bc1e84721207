"""Who owns a claim in a SQLite store, and whether that owner is still alive.

PostgreSQL tells a live owner from a dead one by its session advisory lock
(see ``postgres.py``). A SQLite file has no sessions, so each store that
claims registers a row in ``owners``: a random token, its host and pid, and a
lease it renews while it is open. An owner is dead when its lease has run out,
or at once when it ran on this host and its pid is gone (a ``kill -9`` is
seen by the very next run, not a lease later). A pid reused by an unrelated
process keeps a dead owner "live" until its lease ends, which only delays the
settling of its in-doubt messages; it never lets two live owners share one.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass

# How long a claim stays its owner's without a renewal. A process whose event loop is blocked longer
# than this loses its claims to the next run; renewals come every LEASE_SECONDS / 4.
LEASE_SECONDS = 60.0
RENEW_EVERY = LEASE_SECONDS / 4

HOST = socket.gethostname()

OWNERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (
    token TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    lease_until REAL NOT NULL
);
"""


def new_token() -> str:
    """Unique per open store, readable in the database: ``host:pid:random``."""
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return True  # cannot tell: trust the lease
    return True


@dataclass(frozen=True)
class OwnerRow:
    token: str
    host: str
    pid: int
    lease_until: float

    def alive(self, now: float) -> bool:
        if self.lease_until < now:
            return False
        return self.host != HOST or pid_alive(self.pid)


def split_live(rows: Iterable[OwnerRow], now: float, me: str) -> tuple[list[str], list[str]]:
    """(live tokens, dead tokens); ``me`` is live whatever its row says."""
    live, dead = [me], list[str]()
    for row in rows:
        if row.token == me:
            continue
        (live if row.alive(now) else dead).append(row.token)
    return live, dead
