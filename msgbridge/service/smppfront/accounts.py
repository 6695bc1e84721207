"""SMPP accounts of the front: a TOML file of scrypt hashes, written by ``msgbridge smpp-user``.

::

    [accounts.billing]
    scrypt = "ab12..."            # hex: hashlib.scrypt(password, salt, n=2**14, r=8, p=1), 32 bytes
    salt = "9f0e..."              # hex, 16 random bytes
    transports = ["sms"]          # empty: every configured transport (the first is where submit_sm goes)
    tps = 100.0                   # submit_sm per second over all of the account's binds; absent: no cap
    window = 50                   # submit_sm one bind may have unanswered; above it ESME_RTHROTTLED
    allow = ["10.0.0.0/8"]        # source networks a bind may come from; empty: any
    max_binds = 4                 # binds open at once
    mo = ["7701"]                 # MO whose destination starts with one of these goes to this account
    created_at = 1764720000.0

Why scrypt here and SHA-256 for API keys: an API key is 256 random bits, which no guessing reaches; an
SMPP password is at most 8 characters (SMPP 3.4 §4.1.1), few enough to enumerate from a stolen hash, so
each guess must cost real work. A bind pays that cost once (tens of milliseconds, in a thread), not a
message. The system_id names the account in the store's idempotency keys, so it is restricted to
letters, digits, ``.``, ``_`` and ``-`` (15 at most: a C-Octet String of 16 with its NUL).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from msgbridge.core.errors import ConfigError
from msgbridge.core.secretfile import FileWatch, read_private, toml_section, write_private

SYSTEM_ID = re.compile(r"[A-Za-z0-9._-]{1,15}")
MAX_PASSWORD = 8  # SMPP 3.4 §4.1.1: password, C-Octet String of at most 9 octets with its NUL
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
SALT_BYTES = 16
DEFAULT_WINDOW = 100
DEFAULT_MAX_BINDS = 4
RELOAD_SECONDS = 1.0
FILE = "SMPP account file"  # how errors name it
HEADER = "# msgbridge SMPP accounts: scrypt hashes only (`msgbridge smpp-user create SYSTEM_ID` adds one).\n"
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Account:
    system_id: str
    scrypt: str  # hex
    salt: str  # hex
    transports: tuple[str, ...] = ()
    tps: float | None = None
    window: int = DEFAULT_WINDOW
    allow: tuple[str, ...] = ()  # CIDRs
    max_binds: int = DEFAULT_MAX_BINDS
    mo: tuple[str, ...] = ()  # destination prefixes of the MO this account receives
    created_at: float = 0.0

    def may_use(self, transport: str) -> bool:
        return not self.transports or transport in self.transports

    def allows(self, address: str) -> bool:
        """Whether a bind from ``address`` (an IP literal) is let in."""
        if not self.allow:
            return True
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.allow)


def hash_password(password: str, salt: bytes) -> str:
    return hashlib.scrypt(
        password.encode("latin-1", "replace"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_LEN
    ).hex()


def check_password(account: Account, password: str) -> bool:
    """Blocking (scrypt): run it in a thread."""
    return hmac.compare_digest(hash_password(password, bytes.fromhex(account.salt)), account.scrypt)


def check_system_id(system_id: str) -> str:
    if not SYSTEM_ID.fullmatch(system_id):
        raise ConfigError(f"system_id {system_id!r} must be 1-15 letters, digits, '.', '_' or '-'")
    return system_id


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(MAX_PASSWORD))


def _networks(values: Iterable[str], where: str) -> tuple[str, ...]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError as exc:
            raise ConfigError(
                f"{where}: {value!r} is not a network (CIDR such as 10.0.0.0/8): {exc}"
            ) from None
    return tuple(out)


def _prefixes(values: Iterable[str], where: str) -> tuple[str, ...]:
    out = []
    for value in values:
        digits = value.strip().removeprefix("+")
        if not digits.isdigit():
            raise ConfigError(f"{where}: MO prefix {value!r} must be digits")
        out.append(digits)
    return tuple(out)


def _positive_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where} must be a whole number >= 1, got {value!r}")
    return value


def parse_accounts(text: str, source: str) -> dict[str, Account]:
    out: dict[str, Account] = {}
    for system_id, entry in toml_section(text, source, FILE, "accounts").items():
        where = f"SMPP account file {source}: account {system_id!r}"
        if not isinstance(entry, dict) or not SYSTEM_ID.fullmatch(system_id):
            raise ConfigError(f"{where} must be a table [accounts.SYSTEM_ID] (1-15 letters, digits, . _ -)")
        digest, salt = entry.get("scrypt"), entry.get("salt")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ConfigError(f"{where}: scrypt must be 64 hex digits")
        if not isinstance(salt, str) or not re.fullmatch(r"(?:[0-9a-f]{2}){8,64}", salt):
            raise ConfigError(f"{where}: salt must be hex")
        lists: dict[str, list[str]] = {}
        for name in ("transports", "allow", "mo"):
            value = entry.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: {name} must be a list of strings")
            lists[name] = value
        tps = entry.get("tps")
        if tps is not None and (
            isinstance(tps, bool) or not isinstance(tps, int | float) or not 0 < tps < math.inf
        ):
            raise ConfigError(f"{where}: tps must be a positive number")
        created = entry.get("created_at", 0.0)
        out[system_id] = Account(
            system_id=system_id,
            scrypt=digest,
            salt=salt,
            transports=tuple(t.lower() for t in lists["transports"]),
            tps=float(tps) if tps is not None else None,
            window=_positive_int(entry.get("window", DEFAULT_WINDOW), f"{where}: window"),
            allow=_networks(lists["allow"], where),
            max_binds=_positive_int(entry.get("max_binds", DEFAULT_MAX_BINDS), f"{where}: max_binds"),
            mo=_prefixes(lists["mo"], where),
            created_at=float(created) if isinstance(created, int | float) else 0.0,
        )
    return out


def format_accounts(accounts: Iterable[Account]) -> str:
    """The file's text; strings written as JSON strings, which TOML reads as basic strings."""

    def strings(values: Sequence[str]) -> str:
        return "[" + ", ".join(json.dumps(v) for v in values) + "]"

    out = [HEADER]
    for a in accounts:
        out.append(f"\n[accounts.{a.system_id}]\n")
        out.append(f"scrypt = {json.dumps(a.scrypt)}\nsalt = {json.dumps(a.salt)}\n")
        out.append(f"transports = {strings(a.transports)}\n")
        if a.tps is not None:
            out.append(f"tps = {a.tps!r}\n")
        out.append(f"window = {a.window}\nallow = {strings(a.allow)}\nmax_binds = {a.max_binds}\n")
        out.append(f"mo = {strings(a.mo)}\ncreated_at = {a.created_at!r}\n")
    return "".join(out)


def read_accounts(path: str | Path) -> dict[str, Account]:
    """The accounts in ``path``; none when it does not exist (the front then refuses every bind)."""
    text = read_private(path, FILE)
    return {} if text is None else parse_accounts(text, str(path))


def write_accounts(path: str | Path, accounts: Iterable[Account]) -> None:
    """Replace the file atomically, readable by its owner only."""
    write_private(path, format_accounts(accounts), FILE)


def create_account(
    path: str | Path,
    system_id: str,
    *,
    password: str | None = None,
    transports: Sequence[str] = (),
    tps: float | None = None,
    window: int = DEFAULT_WINDOW,
    allow: Sequence[str] = (),
    max_binds: int = DEFAULT_MAX_BINDS,
    mo: Sequence[str] = (),
) -> tuple[Account, str]:
    """Add an account; returns it and its password (generated when not given), stored nowhere else."""
    check_system_id(system_id)
    if password is None:
        password = new_password()
    if not password or len(password) > MAX_PASSWORD or not password.isascii() or not password.isprintable():
        raise ConfigError(f"an SMPP password is 1-{MAX_PASSWORD} printable ASCII characters")
    if tps is not None and not 0 < tps < math.inf:
        raise ConfigError("--tps must be a positive number of submit_sm per second")
    if window < 1 or max_binds < 1:
        raise ConfigError("--window and --max-binds must be at least 1")
    accounts = read_accounts(path)
    if system_id in accounts:
        raise ConfigError(f"an SMPP account {system_id!r} exists already; remove it first or choose another")
    salt = secrets.token_bytes(SALT_BYTES)
    account = Account(
        system_id=system_id,
        scrypt=hash_password(password, salt),
        salt=salt.hex(),
        transports=tuple(dict.fromkeys(t.lower() for t in transports)),
        tps=tps,
        window=window,
        allow=_networks(allow, "--allow"),
        max_binds=max_binds,
        mo=_prefixes(mo, "--mo"),
        created_at=round(time.time(), 3),
    )
    accounts[system_id] = account
    write_accounts(path, accounts.values())
    return account, password


def remove_account(path: str | Path, system_id: str) -> None:
    accounts = read_accounts(path)
    if accounts.pop(system_id, None) is None:
        raise ConfigError(f"no SMPP account {system_id!r} in {path}")
    write_accounts(path, accounts.values())


class AccountBook:
    """The accounts a running front accepts; re-read when the file changes (a removed account binds no more)."""

    def __init__(self, path: str | Path | None = None, accounts: Iterable[Account] = ()) -> None:
        self.path = Path(path) if path is not None else None
        self._accounts = {a.system_id: a for a in accounts}
        self.watch = FileWatch(self.path)
        # Bumped whenever the accounts are replaced, so what is derived from them (the MO prefix table,
        # mo.py) is rebuilt only then and not per message.
        self.generation = 0
        if self.path is not None:
            self._accounts = read_accounts(self.path)

    def get(self, system_id: str) -> Account | None:
        self._maybe_reload()
        return self._accounts.get(system_id)

    @property
    def accounts(self) -> tuple[Account, ...]:
        self._maybe_reload()
        return tuple(self._accounts.values())

    def _maybe_reload(self) -> None:
        if self.path is None or not self.watch.changed(RELOAD_SECONDS):
            return
        try:
            accounts = read_accounts(self.path)
        except ConfigError:
            return  # a half-written file: keep what was read last
        self.watch.seen()
        self._accounts = accounts
        self.generation += 1
