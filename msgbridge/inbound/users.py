"""Gateway users: one line each, passwords stored only as scrypt hashes.

File format (``--users FILE``), ``#`` starts a comment::

    login:scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>[:sender]

``sender`` is the SMS sender ID this user's mail goes out with; it comes from
the login, never from ``MAIL FROM`` or ``From:``, which anyone can forge.
``msgbridge gateway smtp-user LOGIN`` prints a line.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from msgbridge.core.errors import ConfigError

# 16 MiB and some tens of milliseconds per check: costly to guess offline, cheap once per session.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1


@dataclass(frozen=True)
class User:
    login: str
    password_hash: str
    sender: str | None = None


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(stored: str, password: bytes) -> bool:
    """Constant-time check of ``password`` against a stored hash; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password, salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def dummy_hash() -> str:
    """Checked when the login is unknown, so a wrong login costs as long as a wrong password."""
    return hash_password("no such user")


def format_user(user: User) -> str:
    return ":".join([user.login, user.password_hash] + ([user.sender] if user.sender else []))


def parse_users(text: str, source: str = "users file") -> dict[str, User]:
    users: dict[str, User] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) not in (2, 3) or not fields[0] or not fields[1].startswith("scrypt$"):
            raise ConfigError(f"{source} line {number}: expected login:scrypt$...[:sender]")
        users[fields[0]] = User(fields[0], fields[1], fields[2] if len(fields) == 3 and fields[2] else None)
    return users


def load_users(path: str | Path) -> dict[str, User]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read users file {path}: {exc}") from exc
    return parse_users(text, str(path))
