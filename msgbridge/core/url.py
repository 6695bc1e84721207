"""Transport URLs in the apprise style, with the secret kept out of every print.

``scheme://user:secret@host:port/path?opt=value`` — one string picks the
transport and carries its settings, so a deployment switches transport by
changing one line of config. The secret (password, or a lone API key in the
user part) is wrapped in :class:`Secret`, whose ``str``/``repr`` is ``***``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from msgbridge.core.errors import ConfigError

REDACTED = "***"


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return REDACTED

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class TransportURL:
    scheme: str
    user: str | None = None
    secret: Secret | None = None
    host: str | None = None
    port: int | None = None
    path: str = ""
    options: dict[str, str] = field(default_factory=dict)
    # For URLs like ``selzy://KEY@api.selzy.com`` the user part *is* the secret.
    user_is_secret: bool = False

    @classmethod
    def parse(cls, url: str, *, user_is_secret: bool | None = None) -> TransportURL:
        if "://" not in url:
            raise ConfigError(f"not a transport URL (expected scheme://...): {redact(url)}")
        parts = urlsplit(url)
        if not parts.scheme:
            raise ConfigError(f"transport URL has no scheme: {redact(url)}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"bad port in transport URL {redact(url)}: {exc}") from exc
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        lone_key = user_is_secret if user_is_secret is not None else False
        secret: Secret | None = None
        if password is not None:
            secret = Secret(password)
        elif lone_key and user is not None:
            secret, user = Secret(user), None
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        return cls(
            scheme=parts.scheme.lower(),
            user=user,
            secret=secret,
            host=parts.hostname,
            port=port,
            path=parts.path,
            options=options,
            user_is_secret=lone_key and password is None and secret is not None,
        )

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)

    def int_option(self, name: str, default: int) -> int:
        raw = self.options.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"option {name}={raw!r} in {self} is not a whole number") from exc

    def float_option(self, name: str, default: float) -> float:
        raw = self.options.get(name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"option {name}={raw!r} in {self} is not a number") from exc

    def bool_option(self, name: str, default: bool) -> bool:
        raw = self.options.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"option {name}={raw!r} in {self} is not a yes/no value")

    def _render(self, secret_text: str | None) -> str:
        auth = ""
        if self.user_is_secret and self.secret is not None:
            auth = f"{secret_text}@"
        elif self.user is not None:
            auth = quote(self.user, safe="")
            if self.secret is not None:
                auth += f":{secret_text}"
            auth += "@"
        host = self.host or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{self.port}" if self.port is not None else ""
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in self.options.items())
        return f"{self.scheme}://{auth}{host}{port}{self.path}" + (f"?{query}" if query else "")

    def __str__(self) -> str:
        return self._render(REDACTED)

    def reveal(self) -> str:
        """The full URL with its secret: only for handing to another process."""
        return self._render(quote(self.secret.reveal(), safe="") if self.secret else None)


def redact(url: str) -> str:
    """Hide whatever sits in the credentials part of ``url``; safe on malformed input."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    if "@" not in rest.split("/", 1)[0]:
        return url
    creds, tail = rest.split("@", 1)
    if ":" in creds:
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:{REDACTED}@{tail}"
    return f"{scheme}://{REDACTED}@{tail}"
