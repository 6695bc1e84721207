"""The CLI imports a command's module only when that command runs: the table in ``cli/main.py`` must name
every command, each with the module that registers it, and a command that does not need FastAPI must
not import it."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from msgbridge.cli import main

GROUPS = {"": main.COMMANDS, "sim": main.SIM_COMMANDS, "gateway": main.GATEWAY_COMMANDS}


def registered() -> dict[str, set[str]]:
    """Every group's commands once every module has registered its own."""
    main.load_all()
    out: dict[str, set[str]] = {}
    for name in GROUPS:
        group = main.cli if not name else main.cli.commands[name]
        assert isinstance(group, click.Group)
        out[name] = set(group.commands) - ({"sim", "gateway"} if not name else set())
    return out


def test_the_table_names_every_command_the_modules_register() -> None:
    assert registered() == {name: set(table) for name, table in GROUPS.items()}


PROBE = """
import json, sys
import click
from msgbridge.cli import main
group = main.cli if not sys.argv[1] else main.cli.commands[sys.argv[1]]
command = group.get_command(click.Context(group), sys.argv[2])
print(json.dumps([command is not None, sorted(group.commands), "fastapi" in sys.modules]))
"""


@pytest.mark.parametrize(
    ("group", "name"), [(group, name) for group, table in GROUPS.items() for name in table]
)
def test_each_command_is_found_by_importing_its_own_module(group: str, name: str) -> None:
    """In a fresh interpreter, asking for the command imports the module the table names, and that module
    registers it (a wrong row finds nothing)."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, group, name], capture_output=True, text=True, check=True
    ).stdout
    found, commands, _ = json.loads(out)
    assert found and name in commands


def test_send_does_not_import_fastapi_and_serve_does() -> None:
    for name, wanted in (("send", False), ("campaign", False), ("serve", True)):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, "", name], capture_output=True, text=True, check=True
        ).stdout
        assert json.loads(out)[2] is wanted, name


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "msgbridge", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in main.COMMANDS:
        assert f"  {name} " in result, name
