"""``msgbridge sim smsc``: run the SMSC simulator in the foreground.

It prints ``listening on HOST:PORT`` once the socket is bound (with
``--port 0`` the real port), so scripts can start it and parse the port. The
counters are printed on SIGUSR1 and at exit (SIGINT/SIGTERM), and written as
JSON to ``--report-json`` with the process's own CPU seconds, which is how the
benchmarks show what the simulator cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from msgbridge.cli.listening import bind_error
from msgbridge.simulators.smsc import SmscSimulator, parse_mix, parse_users
from msgbridge.simulators.smsc.receipts import (
    ID_FORMATS,
    RECEIPT_ID_FORMATS,
    RECEIPT_ID_STYLES,
    RECEIPT_MODES,
)


def _report(sim: SmscSimulator) -> dict[str, float]:
    counters = sim.snapshot()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counters["cpu_user_seconds"] = usage.ru_utime
    counters["cpu_system_seconds"] = usage.ru_stime
    counters["max_rss_kib"] = usage.ru_maxrss
    if (
        sim.record
    ):  # how many numbers got at least one accepted submit_sm: submit_sm_ok less this is duplicates
        counters["destinations"] = len({s.destination for s in sim.submitted})
    return counters


def _print_counters(counters: dict[str, float]) -> None:
    line = " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in counters.items())
    click.echo(f"counters {line}", err=False)
    sys.stdout.flush()


@dataclass(frozen=True)
class MoSpec:
    """One MO message to send once the system_id has a receiver bound."""

    system_id: str
    source: str
    destination: str
    text: str
    concat: str | None


def parse_mo(spec: str) -> tuple[str, str, str]:
    """``SOURCE,DESTINATION,TEXT`` (the text may contain commas)."""
    parts = spec.split(",", 2)
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise ValueError(f"--mo {spec!r}: expected SOURCE,DESTINATION,TEXT")
    return parts[0], parts[1], parts[2]


async def _run(sim: SmscSimulator, host: str, port: int, mo: list[MoSpec] | None = None) -> dict[str, float]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: _print_counters(_report(sim)))
    async with contextlib.AsyncExitStack() as stack:
        try:
            server = await stack.enter_async_context(sim.serve(host, port))
        except OSError as exc:
            raise bind_error(host, port, exc) from None
        click.echo(f"listening on {server.host}:{server.port}")
        sys.stdout.flush()
        for m in mo or ():  # queued until a receiver binds
            await sim.send_mo(
                system_id=m.system_id,
                source=m.source,
                destination=m.destination,
                text=m.text,
                concat=m.concat,
                wait=False,
            )
        await stop.wait()
    return _report(sim)


@click.command("smsc")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=2775, show_default=True, type=int, help="port (0 = any free port)")
@click.option("--users", default="u:p", show_default=True, help="system_id:password[,system_id:password]")
@click.option("--any-user", is_flag=True, help="accept every system_id and password")
@click.option("--latency-ms", default=0.0, show_default=True, type=float, help="delay before every answer")
@click.option(
    "--dlr-delay-ms", default=100.0, show_default=True, type=float, help="delay before each receipt"
)
@click.option("--dlr-mix", default="delivered=1", show_default=True, help="OUTCOME=WEIGHT[,...] of receipts")
@click.option("--seed", default=None, type=int, help="seed for outcomes and ids (reproducible runs)")
@click.option("--id-format", type=click.Choice(ID_FORMATS), default="hex", show_default=True)
@click.option("--receipt-id-format", type=click.Choice(RECEIPT_ID_FORMATS), default="same", show_default=True)
@click.option("--receipt-id-style", type=click.Choice(RECEIPT_ID_STYLES), default="plain", show_default=True)
@click.option("--receipt-mode", type=click.Choice(RECEIPT_MODES), default="text+tlv", show_default=True)
@click.option("--dlr-before-resp", is_flag=True, help="send each receipt before its submit_sm_resp")
@click.option("--throttle-every", default=0, type=int, help="refuse every Nth submit_sm with ESME_RTHROTTLED")
@click.option("--queue-full-every", default=0, type=int, help="refuse every Nth submit_sm with ESME_RMSGQFUL")
@click.option("--drop-every", default=0, type=int, help="drop the connection at every Nth PDU")
@click.option("--late-every", default=0, type=int, help="answer every Nth submit_sm --late-ms later")
@click.option("--late-ms", default=0.0, type=float)
@click.option("--max-tps", default=0.0, type=float, help="throttle submit_sm above this rate (0 = no cap)")
@click.option("--malformed-every", default=0, type=int, help="send a malformed PDU before every Nth answer")
@click.option("--max-binds", default=0, type=int, help="binds allowed per system_id (0 = any)")
@click.option(
    "--deliver-timeout-ms", default=0.0, type=float, help="resend receipts unanswered this long (0 = off)"
)
@click.option("--enquire-link-ms", default=0.0, type=float, help="send enquire_link this often (0 = never)")
@click.option(
    "--mo",
    "mo_specs",
    multiple=True,
    metavar="SOURCE,DESTINATION,TEXT",
    help="MO message sent to the first user once it binds a receiver (repeatable)",
)
@click.option(
    "--mo-concat",
    type=click.Choice(["udh8", "udh16", "sar", "payload"]),
    default="udh8",
    show_default=True,
    help="how a long --mo text is split",
)
@click.option("--no-record", is_flag=True, help="keep counters only, not every submit_sm (long benchmarks)")
@click.option("--uvloop/--no-uvloop", "use_uvloop", default=False, show_default=True, help="run on uvloop")
@click.option(
    "--report-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write the counters and CPU seconds here at exit",
)
def smsc_command(
    host: str,
    port: int,
    users: str,
    any_user: bool,
    latency_ms: float,
    dlr_delay_ms: float,
    dlr_mix: str,
    seed: int | None,
    id_format: str,
    receipt_id_format: str,
    receipt_id_style: str,
    receipt_mode: str,
    dlr_before_resp: bool,
    throttle_every: int,
    queue_full_every: int,
    drop_every: int,
    late_every: int,
    late_ms: float,
    max_tps: float,
    malformed_every: int,
    max_binds: int,
    deliver_timeout_ms: float,
    enquire_link_ms: float,
    mo_specs: tuple[str, ...],
    mo_concat: str,
    no_record: bool,
    use_uvloop: bool,
    report_json: Path | None,
) -> None:
    """Run an SMPP 3.4 SMSC simulator with receipts and fault injection."""
    try:
        sim = SmscSimulator(
            users=None if any_user else parse_users(users),
            latency_ms=latency_ms,
            dlr_delay_ms=dlr_delay_ms,
            dlr_mix=parse_mix(dlr_mix),
            seed=seed,
            id_format=id_format,
            receipt_id_format=receipt_id_format,
            receipt_id_style=receipt_id_style,
            receipt_mode=receipt_mode,
            dlr_before_resp=dlr_before_resp,
            throttle_every=throttle_every,
            queue_full_every=queue_full_every,
            drop_every=drop_every,
            late_every=late_every,
            late_ms=late_ms,
            max_tps=max_tps,
            malformed_every=malformed_every,
            max_binds=max_binds,
            deliver_timeout_ms=deliver_timeout_ms,
            enquire_link_ms=enquire_link_ms,
            record=not no_record,
        )
        mo_user = next(iter(sim.users), "u") if sim.users else "u"
        mo = [MoSpec(mo_user, *parse_mo(spec), mo_concat) for spec in mo_specs]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    runner = asyncio.run
    if use_uvloop:
        try:
            import uvloop
        except ImportError as exc:
            raise click.UsageError("--uvloop needs the uvloop package (pip install msgbridge[fast])") from exc
        runner = uvloop.run
    counters: dict[str, float] | None = None
    with contextlib.suppress(KeyboardInterrupt):
        counters = runner(_run(sim, host, port, mo))
    if counters is None:
        counters = _report(sim)
    _print_counters(counters)
    if report_json is not None:
        report_json.write_text(json.dumps(counters, indent=2, sort_keys=True) + "\n")


def register(cli: click.Group) -> None:
    sim_group = cli.commands["sim"]
    assert isinstance(sim_group, click.Group)
    sim_group.add_command(smsc_command)
