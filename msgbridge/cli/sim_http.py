"""``msgbridge sim http``: run one provider's HTTP API emulator in the foreground.

It prints ``listening on http://HOST:PORT`` once bound (with ``--port 0`` the
real port) and the transport URL to point msgbridge at, so scripts and
``make demo`` can start it and parse the port. Requests per endpoint are
printed on SIGUSR1 and at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
import sys
from typing import Any

import click

from msgbridge.cli.listening import bind_error
from msgbridge.simulators.http import PROVIDERS
from msgbridge.simulators.http.server import Emulator, parse_mix, serve

# The transport URL each provider's emulator answers to, given a key and the server's URL.
EXAMPLE_URLS: dict[str, str] = {
    "selzy": "selzy://{key}@api.selzy.com?platform=msgbridge&sender=msgbridge&base_url={url}",
    "bsg": "bsg://{key}@one-api.bsg.world?sender=msgbridge&base_url={url}",
    "smsc": "smsc://{login}@smsc.ru?base_url={url}",
    "mobizon": "mobizon://{key}@api.mobizon.kz?base_url={url}",
}


# The emulators that can push statuses to a callback URL, as their providers document.
PUSHING: tuple[str, ...] = ("smsc", "mobizon")


def build_emulator(provider: str, knobs: dict[str, Any]) -> Emulator:
    if provider not in PROVIDERS:
        raise click.BadParameter(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    try:
        module = importlib.import_module(f"msgbridge.simulators.http.{provider}")
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"the {provider} emulator is not available: {exc}") from exc
    emulator: Emulator = module.create_emulator(**knobs)
    return emulator


def _counters(emulator: Emulator) -> str:
    parts = [f"{name}={count}" for name, count in sorted(emulator.requests.items())]
    parts.append(f"throttled={emulator.throttled}")
    refused = getattr(emulator, "status_refused", None)  # SMSC.ru: status polls past the documented limit
    if refused is not None:
        parts.append(f"status_refused={refused}")
    return "requests " + " ".join(parts)


async def _run(emulator: Emulator, host: str, port: int, example: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: click.echo(_counters(emulator)))
    async with contextlib.AsyncExitStack() as stack:
        try:
            server = await stack.enter_async_context(serve(emulator, host, port))
        except OSError as exc:
            raise bind_error(host, port, exc) from None
        click.echo(f"listening on {server.url}")
        click.echo(f"transport URL: {example.replace('{url}', server.url)}")
        sys.stdout.flush()
        await stop.wait()
    click.echo(_counters(emulator))


@click.command("http")
@click.option(
    "--provider", required=True, type=click.Choice(PROVIDERS), help="which provider's API to emulate"
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=0, show_default=True, type=int, help="port (0 = any free port, printed)")
@click.option("--api-key", "api_keys", multiple=True, help="API key the emulator accepts (repeatable)")
@click.option(
    "--login", "logins", multiple=True, help="LOGIN:PASSWORD pair the smsc emulator accepts (repeatable)"
)
@click.option(
    "--final-mix",
    default="delivered=1",
    show_default=True,
    help="final outcomes and weights: delivered, undeliverable, expired, rejected",
)
@click.option("--accept-after", default=1.0, show_default=True, type=float, help="seconds until 'on its way'")
@click.option(
    "--final-after", default=3.0, show_default=True, type=float, help="seconds until the final status"
)
@click.option("--rate-limit", default=None, type=float, help="requests per second before throttling answers")
@click.option("--seed", default=0, show_default=True, type=int, help="seed for the outcome draw")
@click.option(
    "--push-url",
    default=None,
    help="mobizon/smsc: push statuses to this callback URL after each send, as the provider does "
    "(e.g. http://127.0.0.1:8080/v1/providers/NAME/callback)",
)
@click.option(
    "--push-secret", default="", help="the secret the pushes are signed with (the transport's push_secret)"
)
def sim_http(
    provider: str,
    host: str,
    port: int,
    api_keys: tuple[str, ...],
    logins: tuple[str, ...],
    final_mix: str,
    accept_after: float,
    final_after: float,
    rate_limit: float | None,
    seed: int,
    push_url: str | None,
    push_secret: str,
) -> None:
    """Run an emulator of a provider's HTTP API (Selzy, BSG, SMSC.ru, Mobizon) until Ctrl-C."""
    try:
        mix = parse_mix(final_mix)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--final-mix") from exc
    keys = list(api_keys) or ["test-key"]
    knobs: dict[str, Any] = {
        "api_keys": keys,
        "final_mix": mix,
        "accept_after": accept_after,
        "final_after": final_after,
        "rate_limit": rate_limit,
        "seed": seed,
    }
    if push_url:
        if provider not in PUSHING:
            raise click.BadParameter(f"only {', '.join(PUSHING)} push", param_hint="--push-url")
        knobs.update(push_url=push_url, push_secret=push_secret)
    pairs: dict[str, str] = {}
    for item in logins:
        login, sep, password = item.partition(":")
        if not sep or not login:
            raise click.BadParameter(f"{item!r} is not LOGIN:PASSWORD", param_hint="--login")
        pairs[login] = password
    if provider == "smsc":
        knobs["logins"] = pairs or {"user": "secret"}
    elif pairs:
        raise click.BadParameter("--login is for --provider smsc", param_hint="--login")
    try:
        emulator = build_emulator(provider, knobs)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    first_login = next(iter(knobs.get("logins", {"user": "secret"}).items()))
    example = EXAMPLE_URLS[provider].format(
        key=keys[0], login=f"{first_login[0]}:{first_login[1]}", url="{url}"
    )
    asyncio.run(_run(emulator, host, port, example))


def register(cli: click.Group) -> None:
    sim = cli.commands.get("sim")
    if isinstance(sim, click.Group):
        sim.add_command(sim_http)
    else:
        cli.add_command(sim_http, "sim-http")
