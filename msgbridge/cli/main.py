"""Entry point: assembles the command groups each area of the package contributes.

Each module listed in COMMAND_MODULES exposes ``register(cli)``; a module that
adds ``msgbridge sim <thing>`` registers onto the ``sim`` group. Errors the
user can fix are printed as one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from msgbridge.cli.logsetup import setup_logging
from msgbridge.core.errors import MessagingError
from msgbridge.core.terminal import printable

COMMAND_MODULES: tuple[str, ...] = (
    "msgbridge.cli.commands",  # send, status, transports, text, campaign
    "msgbridge.cli.inbox",  # inbox (MO messages)
    "msgbridge.cli.events",  # events list|replay
    "msgbridge.cli.sim_smsc",  # sim smsc
    "msgbridge.cli.sim_http",  # sim http
    "msgbridge.cli.gateway",  # gateway smtp
    "msgbridge.cli.apikey",  # apikey create|list|revoke
    "msgbridge.cli.serve",  # serve
    "msgbridge.cli.smppuser",  # smpp-user create|list|remove
)


@click.group()
@click.version_option(package_name="msgbridge")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="msgbridge.toml to read")
@click.option("--store", "store_dsn", default=None, help="store file or DSN (default ./msgbridge.db)")
@click.option("-v", "--verbose", count=True, help="log more (repeat for debug)")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, store_dsn: str | None, verbose: int) -> None:
    """Send SMS and email through SMPP, HTTP providers or SMTP, chosen by one URL."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["store_dsn"] = store_dsn
    ctx.obj["verbose"] = verbose
    setup_logging(verbose)


@cli.group()
def sim() -> None:
    """Local simulators of the networks msgbridge talks to (SMSC, HTTP providers)."""


@cli.group()
def gateway() -> None:
    """Inbound gateways that turn other traffic into SMS."""


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise
        continue
    _module.register(cli)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MessagingError as exc:
        click.echo(f"error: {exc.code.value}: {printable(exc)}", err=True)  # may quote a peer's words
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
