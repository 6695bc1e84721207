"""Configuration: ``msgbridge.toml`` plus ``MSGBRIDGE_*`` environment variables.

::

    [store]
    path = "msgbridge.db"            # or a DSN: sqlite:///file.db, postgresql://...

    [transports]
    sms = "smpp://user:secret@smsc.example:2775?window=10"
    kz = "mobizon://KEY@api.mobizon.kz"

    [transports.mail]                # the table form, for a transport with a default callback
    url = "smtp://relay.example:587"
    callback_url = "https://app.example/events"

    [events]                         # status events kept in the store, delivered to callbacks
    record = "callbacks"             # "all": every status change, for GET /v1/events, callback or not
    allow_private_callbacks = false  # true: callbacks may call private/loopback addresses
    inbound_url = "https://app.example/mo"   # where MO messages go as message.inbound events

    [serve]                          # msgbridge serve
    listen = "127.0.0.1:8080"
    tls_cert = "cert.pem"            # optional; both or neither
    tls_key = "key.pem"
    drain_timeout = 30               # seconds SIGTERM waits for in-flight sends
    max_body = "16MB"                # largest JSON request body
    max_upload = "256MB"             # largest CSV upload (POST /v1/campaigns, multipart)

    [apikeys]
    file = "msgbridge-keys.toml"     # default: next to this file

    [webhooks]                       # delivering status events to callback URLs (README "Webhooks")
    secret = "whsec_..."             # signs events of keys without their own; a list while rotating
    max_age = 86400                  # seconds an event is retried before it is given up
    concurrency_per_url = 4          # requests in flight to one receiver (scheme://host:port)
    timeout = 10                     # seconds for one request, first byte out to the answer read
    breaker_failures = 5             # consecutive failures that open a receiver's circuit
    breaker_cooldown = 30            # seconds an open circuit waits before one probe
    [smpp_front]                     # serve also listens for SMPP (msgbridge/service/smppfront)
    listen = "127.0.0.1:2775"
    tls_cert = "cert.pem"            # optional; both or neither
    tls_key = "key.pem"
    accounts = "msgbridge-smpp-users.toml"   # `msgbridge smpp-user create` writes it; default: next to this file
    enquire_link = 30                # seconds of silence before the front asks; 3 unanswered: the link is closed
    slow_reader = 10                 # seconds a session's writes may stay paused (its reader not draining)
                                     # before it is dropped; what it had not acknowledged stays in the store
    session_init = 30                # seconds a connection may stay unbound before it is closed
    [smpp_front.routes]              # MO destination prefix -> account, besides the accounts' own --mo; the
                                     # longest prefix wins, a route over an account's own of the same prefix
                                     # (service/smppfront/mo.py); no match: [events] inbound_url
    "7701" = "billing"

    [[routes]]                       # evaluated in order, first match wins (docs/routing.md); --via auto
    name = "kz"                      # --via route:kz sends every message through this one
    prefixes = ["7700", "7701"]      # match keys, each optional, all given must match (any of its values):
    countries = ["KZ"]               #   E.164 digit prefixes, ISO countries, "mobile"/"fixed",
    number_types = ["mobile"]        #   senders, campaigns (fnmatch), tags (metadata "tags"),
    senders = ["ACME"]               #   channels ("sms"/"email")
    campaigns = ["promo-*"]
    tags = ["otp"]
    channels = ["sms"]
    transports = ["kz_smsc", "mobizon"]   # names from [transports]
    strategy = "failover"            # "failover" (in order) | "weighted" (weights, sticky per message) | "cheapest"
    weights = [70, 30]               # weighted only, one per transport
    failover_on = ["NETWORK_ERROR", "AUTH_FAILED"]   # default: the codes known to be a non-send
    failover_on_timeout = false      # true: TIMEOUT/MAYBE_SUBMITTED move on too (may send twice)
    temporary_retries = 2            # TEMPORARY_FAILURE answers on one transport before moving on
    rate = 100                       # optional cap for the route, per second ...
    rate_unit = "segments"           # ... in "messages" (default) or "segments"
    [[routes]]
    name = "default"                 # no match keys: every message
    transports = ["sms"]

    [breaker]                        # a circuit per transport of a route
    failures = 5                     # consecutive connection-level failures that open it
    error_rate = 0.5                 # or this share of failed calls ...
    window = 30                      # ... over this many seconds, with at least min_calls calls
    min_calls = 20
    cooldown = 30                    # seconds open before one half-open probe

    [prices.sms]                     # a transport's price per segment; the longest digit prefix wins, a
    currency = "EUR"                 #   country code applies where no prefix matches
    file = "prices-sms.csv"          # optional CSV: prefix,price[,currency]; the inline entries win
    "7" = 0.02
    "7701" = 0.015
    "KZ" = 0.018

The environment wins over the file, so a deployment keeps secrets out of it:
``MSGBRIDGE_STORE`` and ``MSGBRIDGE_TRANSPORT_<NAME>`` (``MSGBRIDGE_TRANSPORT_SMS``
defines or replaces the transport named ``sms``); ``MSGBRIDGE_SERVE_<KEY>``
(``MSGBRIDGE_SERVE_LISTEN``, ``..._DRAIN_TIMEOUT``, ...) and ``MSGBRIDGE_APIKEYS_FILE``
for the two service sections, ``MSGBRIDGE_WEBHOOKS_<KEY>`` for ``[webhooks]``. ``--via NAME`` on the command line picks a named
transport; ``--via URL`` uses the URL itself.

Relative paths under ``[serve]``, ``[apikeys]`` and ``[prices.NAME]`` (``file``) are read from the config
file's directory, so the service finds its key file and certificates whatever
directory it is started from; paths from the environment are taken as given.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from msgbridge.core.errors import ConfigError
from msgbridge.routing.config import RoutingConfig, read_routing

DEFAULT_FILE = "msgbridge.toml"
DEFAULT_STORE = "msgbridge.db"
ENV_CONFIG = "MSGBRIDGE_CONFIG"
ENV_STORE = "MSGBRIDGE_STORE"
ENV_TRANSPORT_PREFIX = "MSGBRIDGE_TRANSPORT_"
ENV_SERVE_PREFIX = "MSGBRIDGE_SERVE_"
ENV_APIKEYS_FILE = "MSGBRIDGE_APIKEYS_FILE"
ENV_WEBHOOKS_PREFIX = "MSGBRIDGE_WEBHOOKS_"
DEFAULT_KEYS_FILE = "msgbridge-keys.toml"
DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_DRAIN_TIMEOUT = 30.0
# A batch of 10,000 messages of a few hundred characters each fits in 16 MiB; a CSV of a million rows in 256.
DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_MAX_UPLOAD = 256 * 1024 * 1024
DEFAULT_SMPP_LISTEN = "127.0.0.1:2775"
DEFAULT_SMPP_ACCOUNTS = "msgbridge-smpp-users.toml"
ENV_SMPP_FRONT_PREFIX = "MSGBRIDGE_SMPP_FRONT_"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; port 0: any free port) -> (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"listen address must be HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class ServeSettings:
    """``[serve]``: where ``msgbridge serve`` listens and what it accepts."""

    listen: str = DEFAULT_LISTEN
    tls_cert: str | None = None
    tls_key: str | None = None
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT
    max_body: int = DEFAULT_MAX_BODY  # bytes of one request body (JSON)
    max_upload: int = DEFAULT_MAX_UPLOAD  # bytes of one multipart CSV upload

    @property
    def address(self) -> tuple[str, int]:
        return parse_listen(self.listen)


RECORD_CHOICES = ("callbacks", "all")


@dataclass(frozen=True)
class EventSettings:
    """``[events]``: which status changes are kept as events, and where callbacks may go."""

    record: str = "callbacks"  # "callbacks": of messages with a target; "all": every one
    allow_private_callbacks: bool = False
    inbound_url: str | None = None

    @property
    def record_all(self) -> bool:
        return self.record == "all"


@dataclass(frozen=True)
class WebhookSettings:
    """``[webhooks]``: how status events are delivered (``msgbridge.webhooks``)."""

    secrets: tuple[
        str, ...
    ] = ()  # the default signing secret(s); empty: events of keys without one go unsigned
    max_age: float = 86400.0
    concurrency_per_url: int = 4
    timeout: float = 10.0
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0


@dataclass(frozen=True)
class SmppFrontSettings:
    """``[smpp_front]``: the SMPP server front of ``msgbridge serve`` (absent: serve speaks HTTP only)."""

    listen: str = DEFAULT_SMPP_LISTEN
    tls_cert: str | None = None
    tls_key: str | None = None
    accounts: str = DEFAULT_SMPP_ACCOUNTS
    enquire_link: float = 30.0
    slow_reader: float = 10.0  # seconds a paused write may last before the session is dropped
    session_init: float = 30.0  # seconds a connection may stay unbound before it is closed
    routes: dict[str, str] = field(default_factory=dict)  # MO destination prefix (digits) -> system_id

    @property
    def address(self) -> tuple[str, int]:
        return parse_listen(self.listen)


@dataclass(frozen=True)
class Config:
    store: str = DEFAULT_STORE
    transports: dict[str, str] = field(default_factory=dict)
    source: str | None = None  # the file read, if any
    serve: ServeSettings = field(default_factory=ServeSettings)
    apikeys_file: str = DEFAULT_KEYS_FILE
    events: EventSettings = field(default_factory=EventSettings)
    transport_callbacks: dict[str, str] = field(default_factory=dict)  # a transport's default callback URL
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    smpp_front: SmppFrontSettings | None = None
    routing: RoutingConfig = field(default_factory=RoutingConfig)

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
    callbacks: dict[str, str] = {}
    section = data.get("transports", {})
    if not isinstance(section, dict):
        raise ConfigError(f'{source}: [transports] must be a table of name = "url"')
    for name, url in section.items():
        if isinstance(url, dict):
            url, callback = _transport_table(url, f"{source}: [transports.{name}]")
            if callback is not None:
                callbacks[name.lower()] = callback
        if not isinstance(url, str):
            raise ConfigError(f"{source}: transport {name!r} must be a URL string")
        transports[name.lower()] = url

    for key, value in environ.items():
        if key == ENV_STORE and value:
            store = value
        elif key.startswith(ENV_TRANSPORT_PREFIX) and value:
            transports[key[len(ENV_TRANSPORT_PREFIX) :].lower()] = value
    base = file.parent if source else Path()
    serve = _serve_settings(data.get("serve", {}), environ, source, base)
    keys = _keys_file(data.get("apikeys", {}), environ, source, base)
    events = _event_settings(data.get("events", {}), source)
    webhooks = _webhook_settings(data.get("webhooks", {}), environ, source)
    front = _smpp_front(data.get("smpp_front"), environ, source, base)
    routing = read_routing(data, base=base, transports=transports, source=source)
    return Config(
        store=store,
        transports=transports,
        source=source,
        serve=serve,
        apikeys_file=keys,
        events=events,
        transport_callbacks=callbacks,
        webhooks=webhooks,
        smpp_front=front,
        routing=routing,
    )


def _callback_url(value: object, where: str) -> str:
    """A callback URL the operator configured: checked for its form (the operator may name private hosts)."""
    from msgbridge.core.callbacks import callback_problem

    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a URL string")
    why = callback_problem(value, allow_private=True)
    if why is not None:
        raise ConfigError(f"{where}: {why}")
    return value


def _transport_table(table: dict[str, object], where: str) -> tuple[object, str | None]:
    """``[transports.NAME]``: (its ``url``, its ``callback_url`` or None)."""
    unknown = sorted(set(table) - {"url", "callback_url"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: url, callback_url)")
    callback = table.get("callback_url")
    return table.get("url"), _callback_url(
        callback, f"{where} callback_url"
    ) if callback is not None else None


def _event_settings(section: object, source: str | None) -> EventSettings:
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [events] must be a table")
    known = ("record", "allow_private_callbacks", "inbound_url")
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in [events]: {', '.join(unknown)} (known: {', '.join(known)})"
        )
    record = section.get("record", "callbacks")
    if record not in RECORD_CHOICES:
        raise ConfigError(f'{source}: [events] record must be "callbacks" or "all", got {record!r}')
    allow = section.get("allow_private_callbacks", False)
    if not isinstance(allow, bool):
        raise ConfigError(f"{source}: [events] allow_private_callbacks must be true or false")
    inbound = section.get("inbound_url")
    if inbound is not None:
        inbound = _callback_url(inbound, f"{source}: [events] inbound_url")
    return EventSettings(record=str(record), allow_private_callbacks=allow, inbound_url=inbound)


def _beside(base: Path, value: str) -> str:
    return str(base / value) if not Path(value).is_absolute() else value


# The keys [serve] knows; each may come from the file (a TOML value) or the environment (a string).
_SERVE_KEYS: tuple[str, ...] = ("listen", "tls_cert", "tls_key", "drain_timeout", "max_body", "max_upload")


def _serve_settings(
    section: object, environ: Mapping[str, str], source: str | None, base: Path
) -> ServeSettings:
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [serve] must be a table")
    unknown = sorted(set(section) - set(_SERVE_KEYS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in [serve]: {', '.join(unknown)} (known: {', '.join(_SERVE_KEYS)})"
        )
    values: dict[str, tuple[object, str]] = {k: (v, f"{source}: [serve] {k}") for k, v in section.items()}
    for key in _SERVE_KEYS:
        env_value = environ.get(ENV_SERVE_PREFIX + key.upper())
        if env_value:
            values[key] = (env_value, f"{ENV_SERVE_PREFIX}{key.upper()}")
    settings: dict[str, object] = {}
    for key, (value, where) in values.items():
        from_file = not where.startswith(ENV_SERVE_PREFIX)
        if key in ("listen", "tls_cert", "tls_key"):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where} must be a non-empty string")
            if key == "listen":
                parse_listen(value)
            settings[key] = _beside(base, value) if from_file and key != "listen" else value
        elif key == "drain_timeout":
            settings[key] = _seconds(value, where)
        else:
            settings[key] = _size(value, where)
    result = ServeSettings(**settings)  # type: ignore[arg-type]
    if (result.tls_cert is None) != (result.tls_key is None):
        raise ConfigError("[serve] tls_cert and tls_key go together: give both or neither")
    return result


def _seconds(value: object, where: str) -> float:
    try:
        seconds = (
            float(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else -1.0
        )
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ConfigError(f"{where} must be a number of seconds >= 0, got {value!r}")
    return seconds


def _size(value: object, where: str) -> int:
    """A byte count: a number, or ``"16MB"``/``"512KB"`` (binary multiples, as the SMTP gateway reads them)."""
    from msgbridge.inbound.smtp_gateway import parse_size  # the SMTP gateway's rule; imported on use only

    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        try:
            return parse_size(value)
        except ValueError:
            pass
    raise ConfigError(f"{where} must be a size such as 16MB, 512KB or a number of bytes, got {value!r}")


def _keys_file(section: object, environ: Mapping[str, str], source: str | None, base: Path) -> str:
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [apikeys] must be a table")
    unknown = sorted(set(section) - {"file"})
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [apikeys]: {', '.join(unknown)} (known: file)")
    env_value = environ.get(ENV_APIKEYS_FILE)
    if env_value:
        return env_value
    value = section.get("file", DEFAULT_KEYS_FILE)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: [apikeys] file must be a non-empty string")
    return _beside(base, value)


# [webhooks]: key -> how its value is read (from the file: a TOML value; from the environment: a string).
_WEBHOOK_KEYS: tuple[str, ...] = (
    "secret", "max_age", "concurrency_per_url", "timeout", "breaker_failures", "breaker_cooldown",
)  # fmt: skip


def _webhook_settings(section: object, environ: Mapping[str, str], source: str | None) -> WebhookSettings:
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [webhooks] must be a table")
    unknown = sorted(set(section) - set(_WEBHOOK_KEYS))
    if unknown:
        known = ", ".join(_WEBHOOK_KEYS)
        raise ConfigError(f"{source}: unknown key(s) in [webhooks]: {', '.join(unknown)} (known: {known})")
    values: dict[str, tuple[object, str]] = {k: (v, f"{source}: [webhooks] {k}") for k, v in section.items()}
    for key in _WEBHOOK_KEYS:
        env_value = environ.get(ENV_WEBHOOKS_PREFIX + key.upper())
        if env_value:
            values[key] = (env_value, f"{ENV_WEBHOOKS_PREFIX}{key.upper()}")
    settings: dict[str, object] = {}
    for key, (value, where) in values.items():
        if key == "secret":
            items = (
                value.split(",")
                if isinstance(value, str) and where.startswith(ENV_WEBHOOKS_PREFIX)
                else value
            )
            items = [items] if isinstance(items, str) else items
            if (
                not isinstance(items, list)
                or not items
                or not all(isinstance(i, str) and i.strip() for i in items)
            ):
                raise ConfigError(f"{where} must be a non-empty string, or a list of them while rotating")
            settings["secrets"] = tuple(i.strip() for i in items)
        elif key in ("concurrency_per_url", "breaker_failures"):
            text = str(value).strip() if not isinstance(value, bool) else ""
            if not text.isdigit() or int(text) < 1:
                raise ConfigError(f"{where} must be a whole number >= 1, got {value!r}")
            settings[key] = int(text)
        else:
            seconds = _seconds(value, where)
            if key in ("max_age", "timeout") and seconds <= 0:
                raise ConfigError(f"{where} must be a number of seconds > 0, got {value!r}")
            settings[key] = seconds
    return WebhookSettings(**settings)  # type: ignore[arg-type]


_SMPP_FRONT_KEYS: tuple[str, ...] = (
    "listen", "tls_cert", "tls_key", "accounts", "enquire_link", "slow_reader", "session_init", "routes"
)  # fmt: skip
_SMPP_FRONT_SECONDS = ("enquire_link", "slow_reader", "session_init")


def _smpp_front(
    section: object, environ: Mapping[str, str], source: str | None, base: Path
) -> SmppFrontSettings | None:
    """``[smpp_front]``, or ``MSGBRIDGE_SMPP_FRONT_LISTEN`` alone: None when neither is there."""
    env = {k: environ[ENV_SMPP_FRONT_PREFIX + k.upper()] for k in _SMPP_FRONT_KEYS[:-1]
           if environ.get(ENV_SMPP_FRONT_PREFIX + k.upper())}  # fmt: skip
    if section is None and not env:
        return None
    section = {} if section is None else section
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [smpp_front] must be a table")
    unknown = sorted(set(section) - set(_SMPP_FRONT_KEYS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in [smpp_front]: {', '.join(unknown)} (known: {', '.join(_SMPP_FRONT_KEYS)})"
        )
    settings: dict[str, object] = {}
    values = {k: (v, f"{source}: [smpp_front] {k}", True) for k, v in section.items() if k != "routes"}
    values.update({k: (v, f"{ENV_SMPP_FRONT_PREFIX}{k.upper()}", False) for k, v in env.items()})
    for key, (value, where, from_file) in values.items():
        if key in _SMPP_FRONT_SECONDS:
            seconds = _seconds(value, where)
            if seconds <= 0:
                raise ConfigError(f"{where} must be more than 0 seconds")
            settings[key] = seconds
            continue
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} must be a non-empty string")
        if key == "listen":
            parse_listen(value)
        settings[key] = _beside(base, value) if from_file and key != "listen" else value
    if "accounts" not in settings:
        settings["accounts"] = _beside(base, DEFAULT_SMPP_ACCOUNTS)
    routes = section.get("routes", {})
    if not isinstance(routes, dict) or not all(isinstance(v, str) for v in routes.values()):
        raise ConfigError(f'{source}: [smpp_front.routes] must be a table of "PREFIX" = "SYSTEM_ID"')
    for prefix in routes:
        if not prefix.removeprefix("+").isdigit():
            raise ConfigError(f"{source}: [smpp_front.routes] prefix {prefix!r} must be digits")
    settings["routes"] = {p.removeprefix("+"): v for p, v in routes.items()}
    result = SmppFrontSettings(**settings)  # type: ignore[arg-type]
    if (result.tls_cert is None) != (result.tls_key is None):
        raise ConfigError("[smpp_front] tls_cert and tls_key go together: give both or neither")
    return result
