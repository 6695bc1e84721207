"""How much a client may try before the gateway stops listening: login failures, connections.

A per-connection failure count alone stops nobody: a guesser opens another
connection (or eight at once). So failures are counted per client address
and per login, across connections: each failure makes the next attempt for
that address or login wait longer (``delay``, doubling up to ``max_delay``),
and ``max_failures`` of them within ``lockout`` seconds lock that address or
login out for ``lockout`` seconds, during which even the right password is
refused. The counters live in memory, bounded in number and forgotten after
``lockout`` seconds of quiet, so a flood of made-up logins cannot grow them
without end (the oldest entries go first).

An IPv6 client is counted by its /64, the block one host is normally given:
counting single addresses would hand every guesser 2**64 fresh counters.
"""

from __future__ import annotations

import ipaddress
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_ENTRIES = 10_000  # addresses and logins remembered at once


def client_key(host: str) -> str:
    """The unit limits count by: an IPv4 address, an IPv6 /64, or the raw peer name if neither."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)


@dataclass(frozen=True)
class AuthPolicy:
    """Login failure limits; every field is a gateway option (see docs/smtp.md)."""

    delay: float = 1.0  # wait before the attempt after the first failure; doubles per failure
    max_delay: float = 30.0  # the longest such wait
    max_failures: int = 10  # failures per address or login within `lockout` seconds before a lock-out
    lockout: float = 900.0  # seconds a lock-out lasts, and how long a failure is remembered

    def wait_after(self, failures: int) -> float:
        """Seconds the next attempt waits after ``failures`` consecutive failures."""
        if failures <= 0 or self.delay <= 0:
            return 0.0
        return float(min(self.max_delay, self.delay * 2 ** min(failures - 1, 32)))


@dataclass
class _Record:
    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class FailureLog:
    """Failed logins per key (``ip:<client key>``, ``login:<name>``), bounded and expiring."""

    def __init__(
        self,
        policy: AuthPolicy,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.max_entries = max_entries
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def _get(self, key: str) -> _Record | None:
        record = self._records.get(key)
        if record is None:
            return None
        now = self.clock()
        if record.locked_until <= now and now - record.last >= self.policy.lockout:
            del self._records[key]  # quiet long enough: forgotten
            return None
        return record

    def locked_for(self, key: str) -> float:
        """Seconds left of this key's lock-out; 0 when it is not locked."""
        record = self._get(key)
        return max(0.0, record.locked_until - self.clock()) if record is not None else 0.0

    def wait_for(self, key: str) -> float:
        """Seconds the next attempt for this key must wait because of earlier failures."""
        record = self._get(key)
        if record is None:
            return 0.0
        return max(0.0, record.last + self.policy.wait_after(record.failures) - self.clock())

    def last_failure(self, key: str) -> float | None:
        """When this key last failed (on ``clock``), if it is remembered."""
        record = self._get(key)
        return record.last if record is not None else None

    def fail(self, key: str) -> bool:
        """Count one failure; True when it starts a lock-out."""
        now = self.clock()
        record = self._get(key)
        if record is None:
            record = self._records[key] = _Record()
            self._evict()
        else:
            self._records.move_to_end(key)
        record.failures += 1
        record.last = now
        if record.failures >= self.policy.max_failures and record.locked_until <= now:
            record.locked_until = now + self.policy.lockout
            record.failures = 0  # after the lock-out the count starts again
            return True
        return False

    def clear(self, key: str) -> None:
        """A successful login: its earlier failures were typing, not guessing."""
        record = self._get(key)
        if record is not None and record.locked_until <= self.clock():
            del self._records[key]

    def _evict(self) -> None:
        while len(self._records) > self.max_entries:
            self._records.popitem(last=False)


@dataclass(frozen=True)
class ConnectionPolicy:
    max_total: int = 200  # connections open at once
    max_per_client: int = 20  # connections open at once from one address (IPv6: one /64)


class ConnectionCount:
    """Open connections, in total and per client key; a key leaves when its last connection does."""

    def __init__(self, policy: ConnectionPolicy) -> None:
        self.policy = policy
        self.total = 0
        self._per_client: Counter[str] = Counter()

    def open(self, key: str) -> bool:
        """Count a new connection; False (and not counted) when it is over a cap."""
        if self.total >= self.policy.max_total or self._per_client[key] >= self.policy.max_per_client:
            return False
        self.total += 1
        self._per_client[key] += 1
        return True

    def close(self, key: str) -> None:
        self.total -= 1
        self._per_client[key] -= 1
        if self._per_client[key] <= 0:
            del self._per_client[key]

    def clients(self) -> int:
        return len(self._per_client)
