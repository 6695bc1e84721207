"""Dashboard sessions: an API key given once to the login form, then a random cookie instead of the key.

Why sessions held in memory rather than a signed cookie: logging out (or a restart) ends a session for
good, which a self-contained signed cookie cannot do before it expires. A session is 256 random bits,
names its key, and is checked against the key file on every use, so revoking a key (or replacing it under
the same name) ends its sessions too. The cookie carries nothing but the random token: the API key never
leaves the login request, and no page holds it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from msgbridge.service.apikeys import ApiKey, KeyRing

COOKIE = "msgbridge_session"
LIFETIME = 8 * 3600.0  # seconds a session lasts from its login: a working day, then the key is asked again
MAX_SESSIONS = 10_000  # the oldest session is forgotten beyond this many (a login loop cannot fill memory)
TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class Session:
    key_name: str
    key_sha256: str  # the key as it was at login: a key replaced under the same name does not inherit it
    expires: float


class Sessions:
    """The open sessions of this process, by token."""

    def __init__(
        self, *, lifetime: float = LIFETIME, limit: int = MAX_SESSIONS, clock: Callable[[], float] = time.time
    ) -> None:
        self.lifetime = lifetime
        self.limit = limit
        self.clock = clock
        self._open: dict[str, Session] = {}  # insertion order: the oldest first

    def __len__(self) -> int:
        return len(self._open)

    def open(self, key: ApiKey) -> str:
        """A new session for ``key``; returns its token (the cookie's value)."""
        now = self.clock()
        for token in [t for t, s in self._open.items() if s.expires <= now]:
            del self._open[token]
        while len(self._open) >= self.limit:
            del self._open[next(iter(self._open))]
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._open[token] = Session(key_name=key.name, key_sha256=key.sha256, expires=now + self.lifetime)
        return token

    def find(self, token: str | None, keys: KeyRing) -> ApiKey | None:
        """The key whose session ``token`` is, while it lasts and the key is still the one that logged in."""
        if not token:
            return None
        session = self._open.get(token)
        if session is None:
            return None
        key = keys.named(session.key_name)
        if session.expires <= self.clock() or key is None or key.sha256 != session.key_sha256:
            del self._open[token]
            return None
        return key

    def close(self, token: str | None) -> None:
        if token:
            self._open.pop(token, None)
