"""``msgbridge apikey create|list|revoke``: the HTTP API's keys, in the file ``[apikeys] file`` names.

``create`` prints the new key once, on stdout alone (so ``KEY=$(msgbridge apikey create shop)`` works);
what it is for goes to stderr. Only the key's SHA-256 hash is kept (see ``msgbridge.service.apikeys``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from msgbridge.cli.common import config_of
from msgbridge.service.apikeys import create_key, read_keys, revoke_key


def register(cli: click.Group) -> None:
    @cli.group("apikey")
    def apikey() -> None:
        """API keys of the HTTP API (``msgbridge serve``)."""

    @apikey.command("create")
    @click.argument("name")
    @click.option(
        "--transport", "transports", multiple=True, help="a transport the key may use (repeat; default all)"
    )
    @click.option(
        "--rate", type=float, default=None, help="requests per second the key may POST (default unlimited)"
    )
    @click.pass_context
    def create(ctx: click.Context, name: str, transports: tuple[str, ...], rate: float | None) -> None:
        """Create key NAME and print it (once: only its hash is stored)."""
        config = config_of(ctx)
        unknown = [t for t in transports if t.lower() not in config.transports]
        if unknown and config.transports:
            click.echo(f"warning: not a configured transport: {', '.join(unknown)}", err=True)
        key, token = create_key(config.apikeys_file, name, transports=transports, rate=rate)
        click.echo(token)
        scope = ", ".join(key.transports) or "every transport"
        limit = f"{key.rate:g} requests/s" if key.rate is not None else "no rate limit"
        click.echo(
            f"created API key {key.name!r} ({scope}; {limit}) in {config.apikeys_file}; "
            "send it as 'Authorization: Bearer KEY'. It is not shown again.",
            err=True,
        )
        click.echo(f"webhook secret (verifies this key's callbacks): {key.webhook_secret}", err=True)

    @apikey.command("list")
    @click.option("--json", "as_json", is_flag=True, help="one JSON object per key")
    @click.pass_context
    def list_(ctx: click.Context, as_json: bool) -> None:
        """The keys (names, hints, limits; never the keys themselves)."""
        config = config_of(ctx)
        for key in read_keys(config.apikeys_file).values():
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "name": key.name,
                            "hint": key.hint,
                            "transports": list(key.transports),
                            "rate": key.rate,
                            "created_at": key.created_at,
                        }
                    )
                )
                continue
            created = datetime.fromtimestamp(key.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            scope = ",".join(key.transports) or "*"
            rate = f"{key.rate:g}/s" if key.rate is not None else "-"
            click.echo(f"{key.name}\t{key.hint}…\t{scope}\t{rate}\t{created}")

    @apikey.command("revoke")
    @click.argument("name")
    @click.pass_context
    def revoke(ctx: click.Context, name: str) -> None:
        """Remove key NAME; a running server refuses it within a second."""
        config = config_of(ctx)
        revoke_key(config.apikeys_file, name)
        click.echo(f"revoked API key {name!r}", err=True)
