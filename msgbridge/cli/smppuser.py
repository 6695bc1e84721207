"""``msgbridge smpp-user create|list|remove``: who may bind to the SMPP front, in ``[smpp_front] accounts``.

``create`` prints the password once on stdout (generated unless ``--password`` gives one), so
``PW=$(msgbridge smpp-user create billing)`` works; only its scrypt hash is kept
(see ``msgbridge.service.smppfront.accounts``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from msgbridge.cli.common import config_of
from msgbridge.config import DEFAULT_SMPP_ACCOUNTS, Config
from msgbridge.service.smppfront.accounts import (
    DEFAULT_MAX_BINDS,
    DEFAULT_WINDOW,
    create_account,
    read_accounts,
    remove_account,
)


def accounts_file(config: Config) -> str:
    """``[smpp_front] accounts``, or the default file beside the config file (or here) when not configured."""
    if config.smpp_front is not None:
        return config.smpp_front.accounts
    base = Path(config.source).parent if config.source else Path()
    return str(base / DEFAULT_SMPP_ACCOUNTS)


def register(cli: click.Group) -> None:
    @cli.group("smpp-user")
    def smpp_user() -> None:
        """Accounts of the SMPP front (``msgbridge serve`` with ``[smpp_front]``)."""

    @smpp_user.command("create")
    @click.argument("system_id")
    @click.option("--password", default=None, help="1-8 characters (default: a random one, printed once)")
    @click.option(
        "--transport",
        "transports",
        multiple=True,
        help="a transport the account may use (repeat; the first is its default)",
    )
    @click.option(
        "--tps", type=float, default=None, help="submit_sm per second over all binds (default unlimited)"
    )
    @click.option(
        "--window", type=int, default=DEFAULT_WINDOW, show_default=True, help="unanswered submit_sm per bind"
    )
    @click.option(
        "--allow", "allow", multiple=True, help="a network binds may come from, CIDR (repeat; default any)"
    )
    @click.option(
        "--max-binds", type=int, default=DEFAULT_MAX_BINDS, show_default=True, help="binds open at once"
    )
    @click.option(
        "--mo",
        "mo",
        multiple=True,
        help="MO to numbers starting with this prefix goes to this account (repeat)",
    )
    @click.pass_context
    def create(
        ctx: click.Context,
        system_id: str,
        password: str | None,
        transports: tuple[str, ...],
        tps: float | None,
        window: int,
        allow: tuple[str, ...],
        max_binds: int,
        mo: tuple[str, ...],
    ) -> None:
        """Create account SYSTEM_ID and print its password (once: only its hash is stored)."""
        config = config_of(ctx)
        unknown = [t for t in transports if t.lower() not in config.transports]
        if unknown and config.transports:
            click.echo(f"warning: not a configured transport: {', '.join(unknown)}", err=True)
        path = accounts_file(config)
        account, secret = create_account(
            path, system_id, password=password, transports=transports, tps=tps, window=window,
            allow=allow, max_binds=max_binds, mo=mo,
        )  # fmt: skip
        click.echo(secret)
        scope = ", ".join(account.transports) or "every transport"
        limit = f"{account.tps:g} submit_sm/s" if account.tps is not None else "no TPS cap"
        click.echo(
            f"created SMPP account {system_id!r} ({scope}; {limit}; window {window}) in {path}", err=True
        )

    @smpp_user.command("list")
    @click.option("--json", "as_json", is_flag=True, help="one JSON object per account")
    @click.pass_context
    def list_(ctx: click.Context, as_json: bool) -> None:
        """The accounts and their limits (never a password or hash)."""
        for a in read_accounts(accounts_file(config_of(ctx))).values():
            if as_json:
                click.echo(json.dumps({
                    "system_id": a.system_id, "transports": list(a.transports), "tps": a.tps, "window": a.window,
                    "allow": list(a.allow), "max_binds": a.max_binds, "mo": list(a.mo), "created_at": a.created_at,
                }))  # fmt: skip
                continue
            created = datetime.fromtimestamp(a.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            tps = f"{a.tps:g}/s" if a.tps is not None else "-"
            click.echo(
                f"{a.system_id}\t{','.join(a.transports) or '*'}\t{tps}\twindow {a.window}\t"
                f"binds {a.max_binds}\t{','.join(a.allow) or '*'}\t{created}"
            )

    @smpp_user.command("remove")
    @click.argument("system_id")
    @click.pass_context
    def remove(ctx: click.Context, system_id: str) -> None:
        """Remove account SYSTEM_ID; a running front refuses its next bind within a second."""
        remove_account(accounts_file(config_of(ctx)), system_id)
        click.echo(f"removed SMPP account {system_id!r}", err=True)
