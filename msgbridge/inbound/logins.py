"""AUTH for the email-to-SMS gateway: PLAIN and LOGIN, the scrypt check, failures and lock-outs.

Implemented here rather than through aiosmtpd's ``authenticator`` callback:
that callback is not awaited (an ``async def`` one makes aiosmtpd 1.4 answer
235 to a wrong password), and the scrypt check is run in a worker thread so a
login does not stall every other session. Failed logins are counted per
client address and per login across connections (growing waits, then a
lock-out; the policy is ``limits.AuthPolicy``), and per connection: the third
failure on one connection closes it.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import weakref
from base64 import b64decode
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Session

from msgbridge.core.terminal import printable
from msgbridge.inbound.limits import AuthPolicy, FailureLog, client_key
from msgbridge.inbound.replies import AUTH_SYNTAX, LOCKED_OUT, TOO_MANY_AUTH_FAILURES
from msgbridge.inbound.users import User, dummy_hash, verify_password

log = logging.getLogger(__name__)

MAX_AUTH_FAILURES = 3  # on one connection, before it is closed
MAX_CONCURRENT_AUTH = 4  # password checks running at once (each is ~50 ms of CPU and 16 MiB)


def peer_host(session: Session | None) -> str:
    """The client's address as text, "" when aiosmtpd has none (yet)."""
    peer: Any = session.peer if session is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


class Logins:
    """Who may log in, and how often a client may get it wrong."""

    def __init__(self, users: Callable[[], Mapping[str, User]], policy: AuthPolicy) -> None:
        # Asked at every login, not kept: the gateway reloads its users file on SIGHUP.
        self.users = users
        self.policy = policy
        self.failures = FailureLog(policy)
        self._per_connection: weakref.WeakKeyDictionary[SMTP, int] = weakref.WeakKeyDictionary()
        self._checking = asyncio.Semaphore(MAX_CONCURRENT_AUTH)

    async def plain(self, server: SMTP, args: list[str]) -> AuthResult:
        """AUTH PLAIN, the credentials on the command line or after an empty challenge."""
        blob = await _first_response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        fields = blob.split(b"\0")
        if len(fields) != 3:
            await server.push(AUTH_SYNTAX)
            return AuthResult(success=False, handled=True)
        return await self.check(server, fields[1], fields[2])

    async def login(self, server: SMTP, args: list[str]) -> AuthResult:
        """AUTH LOGIN: the login (given or asked for), then the password asked for."""
        login = await _first_response(server, args, server.AuthLoginUsernameChallenge)
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(server.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self.check(server, login, password)

    async def check(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        """One login attempt: waited for after earlier failures, refused while locked out, checked in a thread."""
        name = login.decode("utf-8", errors="replace")
        host = peer_host(server.session)
        keys = (f"ip:{client_key(host)}", f"login:{name}")
        # Each earlier failure for this address or login makes this attempt wait longer,
        # whichever connection it comes on; bounded by the policy's max_delay.
        wait = max(self.failures.wait_for(key) for key in keys)
        if wait > 0:
            await asyncio.sleep(wait)
        if self._locked(keys):
            return await self._refuse_locked(server, name, host)
        user = self.users().get(name)
        stored = user.password_hash if user is not None else dummy_hash()
        # A flood of logins queues here instead of eating every core and 16 MiB each.
        async with self._checking:
            ok = await asyncio.to_thread(verify_password, stored, password) and user is not None
        if self._locked(keys):  # locked by a parallel guess while this one was checked
            return await self._refuse_locked(server, name, host)
        if ok:
            for key in keys:
                self.failures.clear(key)
            log.info("smtp gateway: %s logged in from %s", name, host)
            # auth_data holds the login only; the password is not kept in the session.
            return AuthResult(success=True, handled=False, auth_data=name)
        log.warning("smtp gateway: failed login %r from %s", name, host)
        for key in keys:
            if self.failures.fail(key):
                log.warning(
                    "smtp gateway: %s locked out for %.0f s after %d failed logins",
                    printable(key),  # the login part is the client's bytes
                    self.policy.lockout,
                    self.policy.max_failures,
                )
        if await self._session_failure(server):
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8

    def _locked(self, keys: Sequence[str]) -> bool:
        return any(self.failures.locked_for(key) > 0 for key in keys)

    async def _refuse_locked(self, server: SMTP, name: str, host: str) -> AuthResult:
        """During a lock-out every password is refused, the right one too, and none is checked."""
        # info, not warning: a guesser hammering a lock would otherwise flood the log it was announced in
        log.info("smtp gateway: login %r from %s refused: locked out", name, host)
        if not await self._session_failure(server):
            await server.push(LOCKED_OUT)
        return AuthResult(success=False, handled=True)

    async def _session_failure(self, server: SMTP) -> bool:
        """Count a failure on this connection; at the limit answer 421, close it and return True."""
        failures = self._per_connection.get(server, 0) + 1
        self._per_connection[server] = failures
        if failures < MAX_AUTH_FAILURES:
            return False
        self._per_connection.pop(server, None)
        await server.push(TOO_MANY_AUTH_FAILURES)
        if server.transport is not None:
            server.transport.close()
        return True


async def _first_response(server: SMTP, args: list[str], challenge: str) -> bytes | None:
    """The client's first response: given on the AUTH line (RFC 4954's initial response) or asked for.

    None when there is none to use: the client cancelled the exchange, or sent
    something that is not base64 (answered here with ``501``).
    """
    if len(args) == 1:
        got = await server.challenge_auth(challenge)
        return None if got is MISSING else got
    try:
        return b64decode(args[1].encode(), validate=True)
    except (binascii.Error, ValueError):
        await server.push(AUTH_SYNTAX)
        return None
