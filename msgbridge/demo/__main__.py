"""``python -m msgbridge.demo`` (``make demo``): a whole campaign, end to end, in a temporary store.

It goes through the same code as ``msgbridge campaign run``: CSV, template,
phone normalisation, outbox, dispatcher, receipts, summary table. The bundled
CSV holds 1,000 Kazakh mobile numbers; asking for more recipients generates
further numbers of the same shape.

By default it starts the SMSC simulator (``msgbridge sim smsc``) in a
background process, sends 10,000 messages through ``smpp://`` over a real
socket, collects the delivery receipts, prints the simulator's own counters
and stops it. ``--via memory`` runs without any socket; ``--via URL`` uses any
transport. ``--serve`` runs ``msgbridge serve`` instead and posts the campaign
over its HTTP API (``msgbridge.demo.service``; ``make serve-demo``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
import tempfile
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import click

from msgbridge.cli.main import cli
from msgbridge.cli.outcome import ExitCode
from msgbridge.core.errors import MessagingError
from msgbridge.simulators.smsc.process import SimulatorProcess

MEMORY_VIA = "memory://demo?mix=delivered:0.93,undeliverable:0.04,expired:0.03&dlr_delay_ms=200&seed=7"
DEFAULT_VIA = "smpp"
SMPP_RECIPIENTS = 10_000
SIM_USER = "demo"
SIM_PASSWORD = "demo-pw"
SIM_ARGS = (
    "--dlr-delay-ms",
    "300",
    "--dlr-mix",
    "delivered=0.93,undeliverable=0.04,expired=0.03",
    "--seed",
    "7",
    "--no-record",
)
SMPP_OPTIONS = "window=100&binds=2"
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


@contextlib.contextmanager
def smsc_simulator() -> Iterator[int]:
    """Run ``msgbridge sim smsc`` on a free port in a background process; yield the port."""
    try:
        sim = SimulatorProcess("--users", f"{SIM_USER}:{SIM_PASSWORD}", *SIM_ARGS)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"SMSC simulator running in the background (pid {sim.pid}) on {sim.host}:{sim.port}")
    try:
        yield sim.port
    finally:
        counters = sim.stop()
        if counters:
            shown = " ".join(f"{k}={v:g}" for k, v in counters.items())
            click.echo(f"simulator counters {shown}")
        click.echo("SMSC simulator stopped")


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
        except SystemExit as exc:
            # The demo's network reports some numbers undeliverable on purpose (the mix above): the campaign
            # exits SOME_REFUSED for them, which is the demo working as meant.
            code = int(exc.code or 0)
            return 0 if code == ExitCode.SOME_REFUSED else code
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
        except MessagingError as exc:
            click.echo(f"error: {exc.code.value}: {exc}", err=True)
            return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msgbridge.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--via",
        default=DEFAULT_VIA,
        help="'smpp' (default: SMSC simulator in the background), 'memory', or any transport URL",
    )
    parser.add_argument("--recipients", type=int, default=None, help="default 10,000 for smpp, else 1,000")
    parser.add_argument("--wait-receipts", type=float, default=60.0)
    parser.add_argument(
        "--serve",
        action="store_true",
        help="run `msgbridge serve` and post the campaign over HTTP (1,000 recipients)",
    )
    args = parser.parse_args(argv)
    if args.serve:
        from msgbridge.demo.service import run_serve_demo

        with smsc_simulator() as port:
            via = f"smpp://{SIM_USER}:{SIM_PASSWORD}@127.0.0.1:{port}?{SMPP_OPTIONS}"
            return run_serve_demo(
                via, TEMPLATE, min(args.recipients or BUNDLED, BUNDLED), wait=args.wait_receipts
            )
    if args.via == "smpp":
        count = args.recipients or SMPP_RECIPIENTS
        with smsc_simulator() as port:
            via = f"smpp://{SIM_USER}:{SIM_PASSWORD}@127.0.0.1:{port}?{SMPP_OPTIONS}"
            return run_demo(via, count, wait_receipts=args.wait_receipts)
    via = MEMORY_VIA if args.via == "memory" else args.via
    return run_demo(via, args.recipients or BUNDLED, wait_receipts=args.wait_receipts)


if __name__ == "__main__":
    sys.exit(main())
