"""API keys of the HTTP API: a TOML file of SHA-256 hashes, read by ``msgbridge serve``.

A key is ``mbk_`` and 32 random bytes (base64url); it is printed once, by
``msgbridge apikey create``, and only its hash is written::

    [keys.shop]
    sha256 = "3f1c..."          # of the whole key, hex
    hint = "mbk_Qx7a"           # the first characters, so a listing tells keys apart
    transports = ["sms"]        # empty: every configured transport
    rate = 20.0                 # requests per second on the submitting endpoints; absent: no limit
    callback_url = "https://shop.example/sms-events"   # where its messages' events go unless they say
    created_at = 1764720000.0
    webhook_secret = "whsec_..."  # signs the status events of this key's messages (README "Webhooks")

Why a fast hash: a slow one (scrypt, bcrypt) makes guessing a *password* from a stolen hash expensive,
because passwords are few enough to enumerate. A key here is 256 random bits: no amount of hashing speed
brings that search within reach, so SHA-256 is as safe as scrypt for it, and costs a microsecond per
request instead of the tens of milliseconds (and megabytes) that would cap the API at a few dozen
requests a second. The webhook secret is kept as it is, not hashed: the gateway signs with it, and a
receiver verifies with the same secret. The presented key's hash is compared with every stored hash by ``hmac.compare_digest``,
none skipped, so the time taken says nothing about how close a guess came.

The key's name is the scope under which a ``reference`` is idempotent (``Gateway.accept(scope=...)``), so
names are restricted to letters, digits, ``.``, ``_`` and ``-`` (no ``:``, which separates the parts of an
idempotency key). A running ``serve`` notices a changed file within :data:`RELOAD_SECONDS`, so a revoked key
stops working without a restart.

Fronts that speak another gateway's protocol (Kannel's sendsms, Jasmin's send) authenticate with a
username and a password: the username is the key's name and the password is the key itself
(:meth:`KeyRing.login`), so such a client needs no account of its own and a revoked key stops it too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from msgbridge.core.callbacks import callback_problem
from msgbridge.core.errors import ConfigError
from msgbridge.core.ratelimit import TokenBucket
from msgbridge.core.secretfile import FileWatch, read_private, toml_section, write_private

TOKEN_PREFIX = "mbk_"
TOKEN_BYTES = 32
WEBHOOK_SECRET_PREFIX = "whsec_"
HINT_CHARS = 8  # of the key shown by `apikey list`: the prefix and 4 random characters (24 of 256 bits)
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
RELOAD_SECONDS = 1.0  # how often a running server looks whether the key file changed
FILE = "API key file"  # how errors name it
HEADER = "# msgbridge API keys: SHA-256 hashes only (`msgbridge apikey create NAME` adds one).\n"


@dataclass(frozen=True)
class ApiKey:
    name: str
    sha256: str  # hex digest of the whole key
    hint: str
    transports: tuple[str, ...] = ()  # empty: every transport
    rate: float | None = None  # requests per second on POST endpoints
    created_at: float = 0.0
    webhook_secret: str | None = None  # signs its messages' callbacks; None: the [webhooks] secret does
    callback_url: str | None = None  # the default callback of what is sent with this key

    def may_use(self, transport: str) -> bool:
        return not self.transports or transport in self.transports


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=")


def new_webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip(
        "="
    )


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ConfigError(
            f"API key name {name!r} must be 1-64 letters, digits, '.', '_' or '-' (it names the key in logs)"
        )
    return name


def parse_keys(text: str, source: str) -> dict[str, ApiKey]:
    keys: dict[str, ApiKey] = {}
    for name, entry in toml_section(text, source, FILE, "keys").items():
        where = f"API key file {source}: key {name!r}"
        if not isinstance(entry, dict) or not NAME.fullmatch(name):
            raise ConfigError(f"{where} must be a table [keys.NAME] with a name of letters, digits, . _ -")
        sha = entry.get("sha256")
        transports = entry.get("transports", [])
        rate = entry.get("rate")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise ConfigError(f"{where}: sha256 must be 64 hex digits")
        if not isinstance(transports, list) or not all(isinstance(t, str) for t in transports):
            raise ConfigError(f"{where}: transports must be a list of names")
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < math.inf
        ):
            raise ConfigError(f"{where}: rate must be a positive number of requests per second")
        created = entry.get("created_at", 0.0)
        webhook_secret = entry.get("webhook_secret")
        if webhook_secret is not None and (not isinstance(webhook_secret, str) or not webhook_secret):
            raise ConfigError(f"{where}: webhook_secret must be a non-empty string")
        callback = entry.get("callback_url")
        if callback is not None:
            why = (
                callback_problem(callback, allow_private=True)
                if isinstance(callback, str)
                else "not a string"
            )
            if why is not None:
                raise ConfigError(f"{where}: callback_url: {why}")
        keys[name] = ApiKey(
            name=name,
            sha256=sha,
            hint=str(entry.get("hint", "")),
            transports=tuple(t.lower() for t in transports),
            rate=float(rate) if rate is not None else None,
            created_at=float(created) if isinstance(created, int | float) else 0.0,
            webhook_secret=webhook_secret,
            callback_url=callback,
        )
    return keys


def format_keys(keys: Iterable[ApiKey]) -> str:
    """The file's text; strings are written as JSON strings, which TOML reads as basic strings."""
    out = [HEADER]
    for key in keys:
        out.append(f"\n[keys.{key.name}]\n")
        out.append(f"sha256 = {json.dumps(key.sha256)}\nhint = {json.dumps(key.hint)}\n")
        out.append(f"transports = [{', '.join(json.dumps(t) for t in key.transports)}]\n")
        if key.rate is not None:
            out.append(f"rate = {key.rate!r}\n")
        out.append(f"created_at = {key.created_at!r}\n")
        if key.webhook_secret is not None:
            out.append(f"webhook_secret = {json.dumps(key.webhook_secret)}\n")
        if key.callback_url is not None:
            out.append(f"callback_url = {json.dumps(key.callback_url)}\n")
    return "".join(out)


def read_keys(path: str | Path, *, missing_ok: bool = True) -> dict[str, ApiKey]:
    text = read_private(path, FILE)
    if text is None:
        if missing_ok:
            return {}
        raise ConfigError(f"no API key file at {path}; create a key with `msgbridge apikey create NAME`")
    return parse_keys(text, str(path))


def write_keys(path: str | Path, keys: Iterable[ApiKey]) -> None:
    """Replace the file atomically (a reader never sees half of it), readable by its owner only."""
    write_private(path, format_keys(keys), FILE)


def create_key(
    path: str | Path, name: str, *, transports: Sequence[str] = (), rate: float | None = None
) -> tuple[ApiKey, str]:
    """Add a key; returns it and the key itself, which exists nowhere else from then on."""
    check_name(name)
    if rate is not None and not 0 < rate < math.inf:
        raise ConfigError("--rate must be a positive number of requests per second")
    keys = read_keys(path)
    if name in keys:
        raise ConfigError(f"an API key named {name!r} exists already; revoke it first or choose another name")
    token = new_token()
    key = ApiKey(
        name=name,
        sha256=digest(token),
        hint=token[:HINT_CHARS],
        transports=tuple(dict.fromkeys(t.lower() for t in transports)),
        rate=rate,
        created_at=round(time.time(), 3),
        webhook_secret=new_webhook_secret(),
    )
    keys[name] = key
    write_keys(path, keys.values())
    return key, token


def revoke_key(path: str | Path, name: str) -> None:
    keys = read_keys(path, missing_ok=False)
    if keys.pop(name, None) is None:
        raise ConfigError(f"no API key named {name!r} in {path}")
    write_keys(path, keys.values())


class KeyRing:
    """The keys a server accepts, with each key's rate bucket; re-read when the file changes."""

    def __init__(self, keys: Iterable[ApiKey] = (), *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._keys: tuple[ApiKey, ...] = tuple(keys)
        self._buckets: dict[str, TokenBucket] = {}
        self.watch = FileWatch(self.path)

    @classmethod
    def load(cls, path: str | Path) -> KeyRing:
        """The ring of the key file at ``path``, which must exist (a server without keys refuses everyone)."""
        return cls(read_keys(path, missing_ok=False).values(), path=path)

    @property
    def keys(self) -> tuple[ApiKey, ...]:
        return self._keys

    def current(self) -> tuple[ApiKey, ...]:
        """The keys, re-read first if the file changed (as :meth:`authenticate` does)."""
        self._maybe_reload()
        return self._keys

    def callback_url(self, name: str) -> str | None:
        """The default callback URL of the key named ``name`` (None: it has none, or no such key)."""
        self._maybe_reload()
        for key in self._keys:
            if key.name == name:
                return key.callback_url
        return None

    def authenticate(self, token: str) -> ApiKey | None:
        """The key ``token`` is, or None; every stored hash is compared, in constant time each."""
        self._maybe_reload()
        presented = digest(token).encode()
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(presented, key.sha256.encode()):
                found = key
        return found

    def named(self, name: str) -> ApiKey | None:
        """The key called ``name`` as the file says now (a dashboard session ends with its key's revocation)."""
        self._maybe_reload()
        return next((key for key in self._keys if key.name == name), None)

    def login(self, username: str, password: str) -> ApiKey | None:
        """The key named ``username`` whose key is ``password``, or None (username/password fronts)."""
        key = self.authenticate(password)
        if key is None or not hmac.compare_digest(
            key.name.encode(), username.encode("utf-8", "surrogateescape")
        ):
            return None
        return key

    def admit(self, key: ApiKey) -> float | None:
        """Take one request from the key's rate: None when admitted, else the seconds to wait (Retry-After)."""
        if key.rate is None:
            return None
        bucket = self._buckets.get(key.name)
        if bucket is None or bucket.rate != key.rate:
            bucket = self._buckets[key.name] = TokenBucket(key.rate, burst=max(1.0, key.rate))
        if bucket.try_acquire():
            return None
        return 1.0 / key.rate  # a refused request found less than one token; one refills within this

    def _maybe_reload(self) -> None:
        if self.path is None or not self.watch.changed(RELOAD_SECONDS):
            return
        try:
            keys = read_keys(self.path)
        except ConfigError:
            return  # a half-edited or unreadable file: keep the keys last read rather than refuse everyone
        self.watch.seen()
        self._keys = tuple(keys.values())
