"""Transport URLs in the apprise style, with the secret kept out of every print.

``scheme://user:secret@host:port/path?opt=value`` — one string picks the
transport and carries its settings, so a deployment switches transport by
changing one line of config. The secret (password, or a lone API key in the
user part) is wrapped in :class:`Secret`, whose ``str``/``repr`` is ``***``.

There is one parser, :func:`split`, and everything else is derived from it:
:meth:`TransportURL.parse`, the redacted form (``str(url)``) and
:func:`redact` for a string. Parsing and redaction therefore cannot disagree
about where the credentials end. The rules, chosen so that passwords people
really paste work unencoded:

* the options start at the first ``?``;
* the credentials end at the **last** ``@`` before that, so ``/``, ``@``,
  ``:`` and ``#`` may appear in a password as they are (a ``?`` must be
  written ``%3F``, and an ``@`` after the host ``%40``);
* the user ends at the first ``:`` of the credentials.

When a URL cannot be read, the error names the scheme and what is wrong, and
shows nothing else of the URL: the part that failed may be a password that
was split in the wrong place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote

from msgbridge.core.errors import ConfigError
from msgbridge.core.redaction import remember_secret

REDACTED = "***"
HIDDEN = "<hidden>"

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_HOST = re.compile(
    r"[\w.~\-]*"
)  # letters (IDN too), digits and . _ ~ -: a misplaced piece of password with other characters fails
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._~\-]+)?\]")
_OPTION_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        remember_secret(value)  # so that the log filter hides it wherever a library logs it

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
class Split:
    """A URL cut into its parts, nothing decoded yet: the single place that decides where each part ends."""

    scheme: str
    userinfo: str | None  # everything before the last '@' of the authority, or None without an '@'
    hostport: str
    path: str
    query: str | None  # after the first '?', or None without one


def split(url: str) -> Split:
    """Cut ``url`` into parts; raises ConfigError (showing no part of the URL) if it has no scheme."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError("not a transport URL (expected scheme://...)")
    if not _SCHEME.fullmatch(scheme):
        raise ConfigError("transport URL has no valid scheme before ://")
    head, qmark, query = rest.partition("?")
    userinfo: str | None = None
    if "@" in head:
        userinfo, _, head = head.rpartition("@")
    hostport, slash, path = head.partition("/")
    return Split(scheme.lower(), userinfo, hostport, slash + path, query if qmark else None)


def _bad(scheme: str, what: str) -> ConfigError:
    return ConfigError(
        f"malformed {scheme}:// URL: {what} (the rest of the URL is not shown: it may hold a secret)"
    )


def _host_port(scheme: str, hostport: str) -> tuple[str | None, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]") + 1
        host, rest = hostport[:end], hostport[end:]
        if not end or not _IPV6.fullmatch(host) or (rest and not rest.startswith(":")):
            raise _bad(scheme, "an IPv6 host must be written [address]:port")
        host = host[1:-1]
    else:
        host, colon, port_text = hostport.partition(":")
        rest = colon + port_text
        if not _HOST.fullmatch(host):
            raise _bad(scheme, "the host holds characters a host name cannot have")
    port_text = rest[1:]
    if not port_text:
        return host.lower() or None, None
    if not (
        port_text.isascii() and port_text.isdigit() and len(port_text) <= 5 and 0 < int(port_text) <= 65535
    ):
        raise _bad(scheme, "the port is not a number from 1 to 65535")
    return host.lower() or None, int(port_text)


def _options(scheme: str, query: str | None) -> dict[str, str]:
    if not query:
        return {}
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if not _OPTION_NAME.fullmatch(key):
            # An option name with '@' or ':' is most likely a password with an unencoded '?'.
            raise _bad(scheme, "an option name is not a plain word")
        if key in options:
            raise ConfigError(f"{scheme}:// option {key} is given twice")
        options[key] = value
    return options


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
    # Options whose values are credentials (declared ``private``): hidden like the password.
    private: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in self.private & self.options.keys():
            remember_secret(self.options[name])  # so that the log filter hides it wherever a library logs it

    @classmethod
    def parse(
        cls, url: str, *, user_is_secret: bool | None = None, private: frozenset[str] = frozenset()
    ) -> TransportURL:
        parts = split(url)
        host, port = _host_port(parts.scheme, parts.hostport)
        user: str | None = None
        secret: Secret | None = None
        lone_key = bool(user_is_secret)
        if parts.userinfo is not None:
            raw_user, colon, raw_password = parts.userinfo.partition(":")
            user = unquote(raw_user)
            if colon:
                secret = Secret(unquote(raw_password))
            elif lone_key:
                secret, user = Secret(user), None
        return cls(
            scheme=parts.scheme,
            user=user,
            secret=secret,
            host=host,
            port=port,
            path=parts.path,
            options=_options(parts.scheme, parts.query),
            user_is_secret=lone_key and user is None and secret is not None,
            private=private,
        )

    def _render(self, secret_text: str | None, *, hide: bool) -> str:
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
        # A value shown hidden (and one hidden before: a stored URL read back) stays ``***``, not ``%2A%2A%2A``.
        query = "&".join(
            f"{k}={REDACTED if (hide and k in self.private) or v == REDACTED else quote(v, safe='')}"
            for k, v in self.options.items()
        )
        return f"{self.scheme}://{auth}{host}{port}{self.path}" + (f"?{query}" if query else "")

    def __str__(self) -> str:
        return self._render(REDACTED, hide=True)

    def reveal(self) -> str:
        """The full URL with its secret: only for handing to another process."""
        return self._render(quote(self.secret.reveal(), safe="") if self.secret else None, hide=False)


def encode_credentials(url: str) -> str:
    """``url`` with its user and password percent-encoded, as libraries that split at the first '@' need.

    A database DSN (``postgres://u:pa/ss@host/db``) goes to a driver that
    reads it with the standard rules: re-encoding the credentials this
    module found makes such a password work instead of failing (and the
    driver's error, which quotes the URL, never happens).
    """
    parts = split(url)
    if parts.userinfo is None:
        return url
    user, colon, password = parts.userinfo.partition(":")
    auth = quote(unquote(user), safe="") + (":" + quote(unquote(password), safe="") if colon else "")
    query = f"?{parts.query}" if parts.query is not None else ""
    return f"{parts.scheme}://{auth}@{parts.hostport}{parts.path}{query}"


def redact(url: str, private: frozenset[str] = frozenset()) -> str:
    """``url`` with its credentials (and the ``private`` options) hidden, as the parser reads them.

    Safe on malformed input. A lone user part is hidden too (for most schemes it is an API key). A URL
    that cannot be parsed shows only its scheme; text without ``://`` (a
    configured name) is returned as it is unless it holds an ``@``.
    """
    if "://" not in url:
        return HIDDEN if "@" in url else url
    try:
        return str(TransportURL.parse(url, user_is_secret=True, private=private))
    except ConfigError:
        scheme = url.partition("://")[0]
        return f"{scheme.lower()}://{HIDDEN}" if _SCHEME.fullmatch(scheme) else HIDDEN
