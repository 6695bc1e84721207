"""``msgbridge transports --health``: is each configured transport usable, and how are its circuits.

Without ``--server`` every transport in msgbridge.toml is opened here (all at once, each within
``--timeout``) and closed again: up, or the error that kept it from opening. That is a fresh login
from this machine; it says nothing of the binds a running service holds. With ``--server URL`` the
running ``msgbridge serve`` is asked instead (``GET /v1/transports`` with ``--key`` or
``MSGBRIDGE_API_KEY``): its transports as it holds them, their circuits and its routes.

The exit code is 0 when every transport is up, 1 when one is not (so a cron job or a probe can alert).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from msgbridge.adapters.base import ReportsHealth, open_transport
from msgbridge.cli.common import echo_json, run_command
from msgbridge.config import Config
from msgbridge.core.errors import ConfigError
from msgbridge.core.terminal import printable

DEFAULT_TIMEOUT = 10.0  # seconds one transport may take to open (an SMPP bind: connect and bind_resp)
CLOSE_TIMEOUT = 5.0


async def probe(name: str, url: str, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109 -- bounded on purpose
    """Open the transport ``url``, within ``timeout``, read its link's health where it has one, close it."""
    out: dict[str, Any] = {"name": name, "scheme": url.split("://", 1)[0], "up": False, "error": None}
    out.update(binds_up=None, binds=None)
    try:
        transport = open_transport(url)
    except ConfigError as exc:
        out["error"] = str(exc)
        return out
    out["scheme"] = transport.scheme
    try:
        await asyncio.wait_for(transport.open(), timeout)
        link = transport.health() if isinstance(transport, ReportsHealth) else None
        out["up"] = link.up if link is not None else True
        if link is not None:
            out.update(binds_up=link.binds_up, binds=link.binds, error=None if link.up else link.last_error)
    except TimeoutError:
        out["error"] = f"did not open within {timeout:g} s"
    except Exception as exc:  # any reason it cannot be used is the answer, not a crash of the command
        out["error"] = str(exc) or type(exc).__name__
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(transport.aclose(), CLOSE_TIMEOUT)
    return out


async def local_health(config: Config, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
    """Every configured transport probed at once; the routes as configured (no circuits: none run here)."""
    if not config.transports:
        raise ConfigError(
            "no transport configured (add [transports] to msgbridge.toml or set MSGBRIDGE_TRANSPORT_<NAME>)"
        )
    found = await asyncio.gather(*(probe(n, u, timeout) for n, u in config.transports.items()))
    routes = [
        {"name": r.name, "transport": f"route:{r.name}", "strategy": r.strategy.value,
         "transports": list(r.transports)}
        for r in config.routing.routes
    ]  # fmt: skip
    return {"transports": list(found), "routes": routes}


def server_health(server: str, key: str | None, timeout: float) -> dict[str, Any]:
    """A running serve's ``GET /v1/transports``; ConfigError saying why it could not be read."""
    if not key:
        raise ConfigError("--server needs an API key: --key KEY or MSGBRIDGE_API_KEY")
    url = server.rstrip("/") + "/v1/transports"
    try:
        with http_client(timeout=timeout) as client:
            response = client.get(url, headers={"Authorization": f"Bearer {key}"})
    except httpx.HTTPError as exc:
        raise ConfigError(f"cannot read {url}: {exc}") from None
    if response.status_code != 200:
        try:
            why = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            why = response.reason_phrase
        raise ConfigError(f"{url} answered {response.status_code}: {why}")
    body: dict[str, Any] = response.json()
    return body


def http_client(*, timeout: float) -> httpx.Client:
    """The client ``--server`` is read with (a test hands it a mock transport here)."""
    return httpx.Client(timeout=timeout)


def all_up(health: Mapping[str, Any]) -> bool:
    return all(t.get("up") for t in health.get("transports", ()))


def _cell(value: object) -> str:
    return printable(str(value)) if value is not None else "-"


def _binds(t: Mapping[str, Any]) -> str:
    return f"{t['binds_up']}/{t['binds']}" if t.get("binds") is not None else "-"


def _circuit(t: Mapping[str, Any]) -> str:
    c = t.get("circuit")
    if not c:
        return "-"
    words = str(c["state"])
    if c.get("probe_in") is not None:
        words += f" (probe in {c['probe_in']:.0f} s)"
    return f"{words}, opened {c['opened']}x" if c.get("opened") else words


def _error(t: Mapping[str, Any]) -> str:
    error = t.get("error", t.get("last_error"))
    if isinstance(error, Mapping):  # the service's ErrorOut
        error = f"{error.get('code')}: {error.get('native_message') or ''}".rstrip(": ")
    return _cell(error)


def print_health(health: Mapping[str, Any], *, server: bool) -> None:
    console = Console()
    columns = ["transport", "scheme", "up", "binds", *(["circuit"] if server else []), "error"]
    table = Table(*columns, title="transports" + (" (as the server holds them)" if server else ""))
    for t in health.get("transports", ()):
        cells = [_cell(t["name"]), _cell(t.get("scheme")), "up" if t.get("up") else "DOWN", _binds(t)]
        table.add_row(*cells, *([_circuit(t)] if server else []), _error(t))
    console.print(table)
    routes: Sequence[Mapping[str, Any]] = health.get("routes") or ()
    if routes:
        table = Table(
            "route", "send with", "strategy", "transports", title="routes (auto: the first matching)"
        )
        for r in routes:
            table.add_row(
                _cell(r["name"]),
                _cell(r["transport"]),
                _cell(r["strategy"]),
                _cell(", ".join(r["transports"])),
            )
        console.print(table)


def report(
    config: Config | None, *, server: str | None, key: str | None, timeout: float, as_json: bool
) -> None:
    """What ``transports --health`` does: read the health (``config``'s transports, or ``server``'s), print
    it, exit 1 when a transport is down."""
    if server is not None:
        health = server_health(server, key, timeout)
    else:
        assert config is not None
        health = run_command(local_health(config, timeout))
    if as_json:
        echo_json(health)
    else:
        print_health(health, server=server is not None)
    if not all_up(health):
        raise SystemExit(1)
