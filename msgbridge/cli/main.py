"""Entry point: assembles the command groups each area of the package contributes.

Each module named in ``COMMANDS`` exposes ``register(cli)``; a module that
adds ``msgbridge sim <thing>`` registers onto the ``sim`` group. A module is
imported only when one of its commands runs, or when ``--help`` lists them
(``LazyGroup``): ``msgbridge send`` does not pay for FastAPI and uvicorn,
which only ``serve`` needs (about half of the start-up time otherwise).
Errors the user can fix are printed as one line and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

import click

from msgbridge.cli.logsetup import setup_logging
from msgbridge.core.errors import MessagingError
from msgbridge.core.terminal import printable

# Each command of the top group and of its ``sim`` and ``gateway`` groups: the module whose ``register(cli)``
# adds it (tests/unit/cli/test_lazy_commands.py checks the table against what the modules register).
COMMANDS: Mapping[str, str] = {
    "send": "msgbridge.cli.commands",
    "status": "msgbridge.cli.commands",
    "transports": "msgbridge.cli.commands",
    "text": "msgbridge.cli.commands",
    "campaign": "msgbridge.cli.commands",
    "inbox": "msgbridge.cli.inbox",
    "events": "msgbridge.cli.events",
    "apikey": "msgbridge.cli.apikey",
    "serve": "msgbridge.cli.serve",
    "smpp-user": "msgbridge.cli.smppuser",
}
SIM_COMMANDS: Mapping[str, str] = {"smsc": "msgbridge.cli.sim_smsc", "http": "msgbridge.cli.sim_http"}
GATEWAY_COMMANDS: Mapping[str, str] = {"smtp": "msgbridge.cli.gateway", "smtp-user": "msgbridge.cli.gateway"}


class LazyGroup(click.Group):
    """A group whose commands are imported when asked for: ``lazy`` names the module of each.

    The module registers onto the top group (``root``), as it always has, so one module may add commands
    to several groups; ``get_command`` imports it once and then finds the command registered.
    """

    def __init__(self, name: str | None = None, *, lazy: Mapping[str, str], **attrs: Any) -> None:
        super().__init__(name, **attrs)
        self.lazy = lazy
        self.root: click.Group = self

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            load(self.lazy[cmd_name], self.root)
        return super().get_command(ctx, cmd_name)


_loaded: set[str] = set()


def load(module: str, root: click.Group) -> None:
    """Import ``module`` and let it register its commands onto ``root``, once."""
    if module in _loaded:
        return
    _loaded.add(module)
    importlib.import_module(module).register(root)


def load_all() -> None:
    """Every command registered now (what ``cli.commands`` holds after this is the whole CLI)."""
    for module in dict.fromkeys([*COMMANDS.values(), *SIM_COMMANDS.values(), *GATEWAY_COMMANDS.values()]):
        load(module, cli)


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(package_name="msgbridge")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None, help="msgbridge.toml to read"
)
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


@cli.group(cls=LazyGroup, lazy=SIM_COMMANDS)
def sim() -> None:
    """Local simulators of the networks msgbridge talks to (SMSC, HTTP providers)."""


@cli.group(cls=LazyGroup, lazy=GATEWAY_COMMANDS)
def gateway() -> None:
    """Inbound gateways that turn other traffic into SMS."""


for _group in (sim, gateway):
    assert isinstance(_group, LazyGroup)
    _group.root = cli


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
