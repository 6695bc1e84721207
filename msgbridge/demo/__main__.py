"""``python -m msgbridge.demo`` (``make demo``): a whole campaign, end to end, in a temporary store.

It goes through the same code as ``msgbridge campaign run``: CSV, template,
phone normalisation, outbox, dispatcher, receipts, summary table. The bundled
CSV holds 1,000 Kazakh mobile numbers; asking for more recipients generates
further numbers of the same shape. ``--via`` picks the transport; the default
is the in-memory one with a realistic outcome mix.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

import click

from msgbridge.cli.main import cli
from msgbridge.core.errors import MessagingError

DEFAULT_VIA = "memory://demo?mix=delivered:0.93,undeliverable:0.04,expired:0.03&dlr_delay_ms=200&seed=7"
TEMPLATE = "Hello {name}, your msgbridge code is {code}"
BUNDLED = 1000


def write_recipients(path: Path, count: int) -> None:
    """The bundled recipients, extended with generated ones of the same shape beyond 1,000."""
    bundled = files("msgbridge.demo").joinpath("recipients.csv").read_text(encoding="utf-8").splitlines()
    rows = bundled[: count + 1]
    reader = csv.reader(bundled[1:])
    names = [r[1] for r in reader][:20]
    for i in range(BUNDLED, count):
        rows.append(f"+7702{1000000 + i * 7919 % 9000000:07d},{names[i % len(names)]},{i * 37 % 10000:04d}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def run_demo(via: str = DEFAULT_VIA, recipients: int = BUNDLED, *, wait_receipts: float = 30.0) -> int:
    """Run the campaign through the CLI's own code path; returns the exit status."""
    with tempfile.TemporaryDirectory(prefix="msgbridge-demo-") as tmp:
        csv_path = Path(tmp) / "recipients.csv"
        write_recipients(csv_path, recipients)
        click.echo(f"msgbridge demo: {recipients:,} recipients, one campaign, store in a temporary directory")
        args = [
            "--store",
            str(Path(tmp) / "demo.db"),
            "campaign",
            "run",
            "--via",
            via,
            "--csv",
            str(csv_path),
            "--template",
            TEMPLATE,
            "--from",
            "msgbridge",
            "--name",
            "demo",
            "--wait-receipts",
            str(wait_receipts),
        ]
        try:
            cli.main(args=args, prog_name="msgbridge", standalone_mode=False)
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
        except MessagingError as exc:
            click.echo(f"error: {exc.code.value}: {exc}", err=True)
            return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msgbridge.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--via", default=DEFAULT_VIA, help="transport URL (default: in-memory)")
    parser.add_argument("--recipients", type=int, default=BUNDLED)
    parser.add_argument("--wait-receipts", type=float, default=30.0)
    args = parser.parse_args(argv)
    return run_demo(args.via, args.recipients, wait_receipts=args.wait_receipts)


if __name__ == "__main__":
    sys.exit(main())
