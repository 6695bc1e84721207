"""Configuration: ``msgbridge.toml`` plus ``MSGBRIDGE_*`` environment variables.

::

    [store]
    path = "msgbridge.db"            # or a DSN: sqlite:///file.db, postgresql://...

    [transports]
    sms = "smpp://user:secret@smsc.example:2775?window=10"
    kz = "mobizon://KEY@api.mobizon.kz"

The environment wins over the file, so a deployment keeps secrets out of it:
``MSGBRIDGE_STORE`` and ``MSGBRIDGE_TRANSPORT_<NAME>`` (``MSGBRIDGE_TRANSPORT_SMS``
defines or replaces the transport named ``sms``). ``--via NAME`` on the command
line picks a named transport; ``--via URL`` uses the URL itself.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from msgbridge.core.errors import ConfigError

DEFAULT_FILE = "msgbridge.toml"
DEFAULT_STORE = "msgbridge.db"
ENV_CONFIG = "MSGBRIDGE_CONFIG"
ENV_STORE = "MSGBRIDGE_STORE"
ENV_TRANSPORT_PREFIX = "MSGBRIDGE_TRANSPORT_"


@dataclass(frozen=True)
class Config:
    store: str = DEFAULT_STORE
    transports: dict[str, str] = field(default_factory=dict)
    source: str | None = None  # the file read, if any

    def resolve_via(self, via: str) -> str:
        """A transport URL from ``--via``: a URL as given, or the URL configured under that name."""
        if "://" in via:
            return via
        url = self.transports.get(via.lower())
        if url is None:
            names = ", ".join(sorted(self.transports)) or "none configured"
            raise ConfigError(
                f"unknown transport name {via!r} (configured: {names}); give a URL such as memory:// "
                f"or name one in [transports] of {DEFAULT_FILE} or {ENV_TRANSPORT_PREFIX}{via.upper()}"
            )
        return url


def _read_file(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc


def load_config(path: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The file named (or ``$MSGBRIDGE_CONFIG``, or ``./msgbridge.toml`` if present), then the environment."""
    environ = os.environ if env is None else env
    explicit = path or environ.get(ENV_CONFIG)
    file = Path(explicit) if explicit else Path(DEFAULT_FILE)
    data: dict[str, object] = {}
    source: str | None = None
    if explicit or file.is_file():
        data = _read_file(file)
        source = str(file)

    store = DEFAULT_STORE
    section = data.get("store", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [store] must be a table")
    value = section.get("path", section.get("dsn"))
    if value is not None:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: [store] path must be a string")
        store = value

    transports: dict[str, str] = {}
    section = data.get("transports", {})
    if not isinstance(section, dict):
        raise ConfigError(f'{source}: [transports] must be a table of name = "url"')
    for name, url in section.items():
        if not isinstance(url, str):
            raise ConfigError(f"{source}: transport {name!r} must be a URL string")
        transports[name.lower()] = url

    for key, value in environ.items():
        if key == ENV_STORE and value:
            store = value
        elif key.startswith(ENV_TRANSPORT_PREFIX) and value:
            transports[key[len(ENV_TRANSPORT_PREFIX) :].lower()] = value
    return Config(store=store, transports=transports, source=source)
