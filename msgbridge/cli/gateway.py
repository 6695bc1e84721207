"""``msgbridge gateway smtp``: the email-to-SMS gateway in the foreground; ``gateway smtp-user`` for its users file.

Once the socket is bound it prints ``listening on HOST:PORT`` (the real port
with ``--listen HOST:0``), so scripts and tests can start it and read the
port. SIGINT/SIGTERM stop it; mail already answered 250 stays in the store
and is sent on the next start. SIGHUP re-reads the ``--users`` file.

Every option can also be set under ``[gateway.smtp]`` in ``msgbridge.toml``
(``max_connections = 100``, ``domain = ["sms.example.com"]``); the command
line wins. An unknown key there is an error, not a silently ignored typo.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import os
import signal
import ssl
import sys
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from msgbridge.cli.listening import bind_error
from msgbridge.core.errors import ConfigError, TransportError
from msgbridge.core.terminal import printable
from msgbridge.inbound.limits import AuthPolicy, ConnectionPolicy
from msgbridge.inbound.mailtext import SUBJECT_POLICIES
from msgbridge.inbound.smtp_gateway import GatewayConfig, SmtpGateway, parse_size
from msgbridge.inbound.users import User, format_user, hash_password, load_users


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"expected HOST:PORT, got {text!r}", param_hint="--listen")
    return host.strip("[]") or "127.0.0.1", int(port)


def resolve_via(via: str, config_path: str | None) -> str:
    """A transport URL, or a name looked up under ``[transports]`` in the config file."""
    if "://" in via:
        return via
    path = Path(config_path or "msgbridge.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--via {via!r} is not a URL and {path} could not be read: {exc}") from exc
    entry: Any = data.get("transports", {}).get(via)
    url = entry.get("url") if isinstance(entry, dict) else entry
    if not isinstance(url, str):
        raise ConfigError(f"no transport named {via!r} under [transports] in {path}")
    return url


if TYPE_CHECKING:
    # Recent click types ParamType by the value it converts to; the click 8.1 that pyproject.toml
    # allows is not generic, so the subscript exists for the type checker only.
    _FloatParam = click.ParamType[float, Any]
else:
    _FloatParam = click.ParamType


class Seconds(_FloatParam):
    """A finite, non-negative number of seconds (``nan`` and ``inf`` would disable a limit unseen)."""

    name = "seconds"

    def __init__(self, *, zero: bool = True) -> None:
        self.zero = zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not self.zero):
            self.fail(f"{value!r} must be a finite number {'>= 0' if self.zero else '> 0'}", param, ctx)
        return seconds


CONFIG_TABLE = ("gateway", "smtp")


def _config_file(config_path: str | None) -> Path | None:
    """The msgbridge.toml to read: ``--config``, else ``$MSGBRIDGE_CONFIG``, else ./msgbridge.toml if present."""
    explicit = config_path or os.environ.get("MSGBRIDGE_CONFIG")
    if explicit:
        return Path(explicit)
    default = Path("msgbridge.toml")
    return default if default.is_file() else None


def file_defaults(command: click.Command, config_path: str | None) -> dict[str, Any]:
    """``[gateway.smtp]`` of the config file as click defaults for ``command``, keys checked."""
    path = _config_file(config_path)
    if path is None:
        return {}
    try:
        data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    table: Any = data
    for name in CONFIG_TABLE:
        table = table.get(name, {}) if isinstance(table, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{'.'.join(CONFIG_TABLE)}] must be a table")
    # A key is an option's long name with _ or -: max_connections, max-connections, domain.
    known: dict[str, str] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.name:
            for opt in param.opts:
                if opt.startswith("--"):
                    known[opt[2:].replace("-", "_")] = param.name
    defaults: dict[str, Any] = {}
    for key, value in table.items():
        target = known.get(key.replace("-", "_"))
        if target is None:
            raise ConfigError(
                f"{path}: unknown key {key!r} in [{'.'.join(CONFIG_TABLE)}]; known: {', '.join(sorted(known))}"
            )
        defaults[target] = value
    return defaults


class ConfiguredCommand(click.Command):
    """A command whose option defaults come from ``[gateway.smtp]`` of msgbridge.toml when present."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        root = ctx.find_root().obj or {}
        defaults = file_defaults(self, root.get("config_path"))
        if defaults:
            ctx.default_map = {**(ctx.default_map or {}), **defaults}
        return super().parse_args(ctx, args)


def _tls(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert and not key:
        return None
    if not (cert and key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


@dataclass(frozen=True)
class NotifyOptions:
    via: str
    sender: str
    after: float


async def _serve(
    config: GatewayConfig,
    store_dsn: str | None,
    via: str | None,
    tps: float | None,
    sync: str = "full",
    notify: NotifyOptions | None = None,
    users_file: str | None = None,
) -> None:
    from msgbridge.adapters.base import open_transport
    from msgbridge.inbound.notify import StatusNotifier
    from msgbridge.inbound.pump import DispatchPump
    from msgbridge.store import open_store
    from msgbridge.store.sqlite import SqliteStore

    store = open_store(store_dsn)
    if isinstance(store, SqliteStore):
        # A 250 tells the client it may delete its copy: by default make it survive power loss too.
        store.synchronous = sync.upper()
    await store.open()
    transport = open_transport(via) if via else None
    pump = DispatchPump(store, transport, tps=tps) if transport is not None else None
    notifier: StatusNotifier | None = None
    if notify is not None:
        notifier = StatusNotifier(
            store, open_transport(notify.via), sender=notify.sender, notify_after=notify.after
        )
    gateway = SmtpGateway(
        config,
        store,
        pump.wake if pump is not None else None,
        notifier.track if notifier is not None else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if users_file:

        def reload_users() -> None:
            # SIGHUP: pick up added, removed or re-hashed users without dropping sessions.
            try:
                users = load_users(users_file)
            except ConfigError as exc:
                click.echo(f"warning: users file not reloaded: {exc}", err=True)
                return
            gateway.handler.config = replace(gateway.handler.config, users=users)
            click.echo(f"reloaded {len(users)} users")
            sys.stdout.flush()

        loop.add_signal_handler(signal.SIGHUP, reload_users)
    try:
        if transport is not None:
            try:
                await transport.open()
            except TransportError as exc:
                # The link being down is no reason to refuse mail: it is queued and sent when the link is back.
                click.echo(f"warning: {printable(exc)}; accepting mail anyway, dispatch will retry", err=True)
        try:
            await gateway.start()
        except OSError as exc:
            raise bind_error(config.host, config.port, exc) from None
        if pump is not None:
            pump.start()
        if notifier is not None:
            notifier.start()
        click.echo(f"listening on {config.host}:{gateway.port}")
        if transport is not None:
            click.echo(f"dispatching via {transport.url}")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await gateway.stop()
        if pump is not None:
            await pump.stop()
        if notifier is not None:
            await notifier.stop()
            await notifier.transport.aclose()
        if transport is not None:
            await transport.aclose()
        await store.close()


def register(cli: click.Group) -> None:
    group = cli.commands["gateway"]
    assert isinstance(group, click.Group)

    @group.command("smtp", cls=ConfiguredCommand)
    @click.option(
        "--listen", default="127.0.0.1:2525", show_default=True, help="HOST:PORT to listen on (port 0: any)"
    )
    @click.option(
        "--domain", "domains", multiple=True, required=True, help="mail domain whose <phone>@ we accept"
    )
    @click.option("--via", default=None, help="transport URL or [transports] name to send the SMS through")
    @click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="certificate for STARTTLS")
    @click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="private key for STARTTLS")
    @click.option(
        "--users", "users_file", type=click.Path(exists=True, dir_okay=False), help="login:scrypt-hash lines"
    )
    @click.option(
        "--allow", "allow", multiple=True, help="CIDR allowed to send without logging in (repeatable)"
    )
    @click.option("--max-size", default="100KB", show_default=True, help="largest mail accepted (SIZE)")
    @click.option("--max-segments", default=6, show_default=True, help="longest SMS accepted, in segments")
    @click.option(
        "--truncate", is_flag=True, help="cut longer texts to --max-segments instead of refusing them"
    )
    @click.option("--max-recipients", default=50, show_default=True, help="recipients per mail")
    @click.option("--rate", default=1.0, show_default=True, help="SMS per second per sender, sustained")
    @click.option("--burst", default=20.0, show_default=True, help="SMS a sender may send at once")
    @click.option("--subject", type=click.Choice(SUBJECT_POLICIES), default="ignore", show_default=True)
    @click.option("--region", default=None, help="country for numbers written without +, e.g. KZ")
    @click.option(
        "--country",
        "countries",
        multiple=True,
        help="only these destination countries (ISO code, repeatable)",
    )
    @click.option("--sender", default=None, help="SMS sender ID for allowlisted clients")
    @click.option(
        "--dedupe-window",
        default=600.0,
        show_default=True,
        help="seconds within which an identical mail without Message-ID counts as a resend",
    )
    @click.option("--tps", type=float, default=None, help="cap on SMS per second sent through --via")
    @click.option(
        "--notify-via", default=None, help="smtp:// URL to mail each sender the SMS statuses through"
    )
    @click.option(
        "--notify-from", default=None, help="From address of status mails (default postmaster@DOMAIN)"
    )
    @click.option(
        "--notify-after", default=600.0, show_default=True, help="seconds before reporting non-final statuses"
    )
    @click.option(
        "--idle-timeout",
        type=Seconds(zero=False),
        default=60.0,
        show_default=True,
        help="seconds without a command before a session is closed (421)",
    )
    @click.option(
        "--login-timeout",
        type=Seconds(),
        default=60.0,
        show_default=True,
        help="seconds a session that has not logged in (and is not --allow'ed) may last; 0: no limit",
    )
    @click.option(
        "--max-connections",
        type=click.IntRange(min=1),
        default=200,
        show_default=True,
        help="connections open at once; more get 421",
    )
    @click.option(
        "--max-connections-per-ip",
        type=click.IntRange(min=1),
        default=20,
        show_default=True,
        help="connections open at once from one address (IPv6: one /64)",
    )
    @click.option(
        "--auth-delay",
        type=Seconds(),
        default=1.0,
        show_default=True,
        help="wait before the next login attempt after a failure, doubling per failure",
    )
    @click.option(
        "--auth-max-delay", type=Seconds(), default=30.0, show_default=True, help="longest such wait"
    )
    @click.option(
        "--auth-max-failures",
        type=click.IntRange(min=1),
        default=10,
        show_default=True,
        help="failed logins per address or per login before a lock-out",
    )
    @click.option(
        "--auth-lockout",
        type=Seconds(zero=False),
        default=900.0,
        show_default=True,
        help="seconds a lock-out lasts (and a failure is remembered)",
    )
    @click.option(
        "--sync",
        type=click.Choice(["full", "normal"]),
        default="full",
        show_default=True,
        help="SQLite commit durability: full survives power loss, normal a killed process",
    )
    @click.pass_context
    def smtp(
        ctx: click.Context,
        listen: str,
        domains: tuple[str, ...],
        via: str | None,
        tls_cert: str | None,
        tls_key: str | None,
        users_file: str | None,
        allow: tuple[str, ...],
        max_size: str,
        max_segments: int,
        truncate: bool,
        max_recipients: int,
        rate: float,
        burst: float,
        subject: str,
        region: str | None,
        countries: tuple[str, ...],
        sender: str | None,
        dedupe_window: float,
        tps: float | None,
        notify_via: str | None,
        notify_from: str | None,
        notify_after: float,
        idle_timeout: float,
        login_timeout: float,
        max_connections: int,
        max_connections_per_ip: int,
        auth_delay: float,
        auth_max_delay: float,
        auth_max_failures: int,
        auth_lockout: float,
        sync: str,
    ) -> None:
        """Accept mail for <phone>@DOMAIN and send it as SMS; never relays anything else."""
        obj = ctx.obj or {}
        host, port = _listen(listen)
        tls = _tls(tls_cert, tls_key)
        users: dict[str, User] = load_users(users_file) if users_file else {}
        if users and tls is None:
            raise click.UsageError(
                "--users needs --tls-cert/--tls-key: passwords are only taken after STARTTLS"
            )
        try:
            networks = tuple(ipaddress.ip_network(c, strict=False) for c in allow)
            size = parse_size(max_size)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
        if not users and not networks:
            raise click.UsageError("nobody could send: give --allow CIDR and/or --users FILE")
        config = GatewayConfig(
            domains=frozenset(d.lower().rstrip(".") for d in domains),
            host=host,
            port=port,
            users=users,
            allow=networks,
            tls_context=tls,
            max_size=size,
            max_segments=max_segments,
            truncate=truncate,
            max_recipients=max_recipients,
            rate=rate,
            burst=burst,
            subject=subject,
            default_region=region,
            countries=frozenset(c.upper() for c in countries),
            default_sender=sender,
            hostname=domains[0],
            dedupe_window=dedupe_window,
            timeout=idle_timeout,
            login_timeout=login_timeout,
            auth=AuthPolicy(
                delay=auth_delay,
                max_delay=auth_max_delay,
                max_failures=auth_max_failures,
                lockout=auth_lockout,
            ),
            connections=ConnectionPolicy(max_total=max_connections, max_per_client=max_connections_per_ip),
        )
        via_url = resolve_via(via, obj.get("config_path")) if via else None
        if via_url is None:
            click.echo("no --via: mail is queued in the store only", err=True)
        notify = None
        if notify_via:
            notify_url = resolve_via(notify_via, obj.get("config_path"))
            notify = NotifyOptions(notify_url, notify_from or f"postmaster@{domains[0]}", notify_after)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(config, obj.get("store_dsn"), via_url, tps, sync, notify, users_file))

    @group.command("smtp-user")
    @click.argument("login")
    @click.option("--sender", default=None, help="SMS sender ID for this user's mail")
    @click.option(
        "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="read from the prompt"
    )
    def smtp_user(login: str, sender: str | None, password: str) -> None:
        """Print a users-file line for LOGIN (the password is stored as a scrypt hash only)."""
        if ":" in login or (sender and ":" in sender):
            raise click.BadParameter("login and sender may not contain ':'")
        click.echo(format_user(User(login, hash_password(password), sender)))
