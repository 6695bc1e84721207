"""The runtime's routed lanes (``service.routes``): their names, what each may send through, one breaker."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.adapters.base import Transport, open_transport
from msgbridge.cli.serve import check_config
from msgbridge.config import ServeSettings, load_config
from msgbridge.core.breaker import CircuitState
from msgbridge.core.errors import ConfigError
from msgbridge.core.message import Message
from msgbridge.routing.config import BreakerSettings, Route, RouteMatch, RoutingConfig
from msgbridge.service.apikeys import create_key
from msgbridge.service.routes import RouteTable, circuits
from msgbridge.service.runtime import Runtime

ROUTING = RoutingConfig(
    routes=(
        Route("KZ", ("kz", "backup"), match=RouteMatch(prefixes=("77",))),
        Route("default", ("sms", "backup")),
    ),
    breaker=BreakerSettings(failures=1, cooldown=30),
)
PLAIN = {"sms": "memory://", "kz": "memory://", "backup": "memory://", "mail": "memory://"}


def test_lanes_are_auto_then_one_per_route_and_each_names_what_it_sends_through() -> None:
    table = RouteTable(ROUTING, list(PLAIN))
    assert table.names == ("auto", "route:kz", "route:default")
    assert table.carriers("auto") == ("kz", "backup", "sms")  # every route's, each once
    assert table.carriers("route:kz") == ("kz", "backup")
    assert [(r.name, r.lane, r.transports) for r in table.infos()] == [
        ("KZ", "route:kz", ("kz", "backup")),
        ("default", "route:default", ("sms", "backup")),
    ]


def test_without_routes_there_is_no_routed_lane() -> None:
    table = RouteTable(RoutingConfig(), ["auto", "route"])  # the names are free then
    assert not table and table.names == () and table.transports({}) == {}


@pytest.mark.parametrize("name", ["auto", "route"])
def test_a_plain_transport_may_not_take_a_routed_lanes_name(name: str) -> None:
    with pytest.raises(ConfigError, match=f"transport '{name}'"):
        RouteTable(ROUTING, ["sms", "kz", "backup", name])


def test_a_route_over_a_transport_this_runtime_does_not_run_is_refused() -> None:
    with pytest.raises(ConfigError, match="'KZ' names transport 'kz', which this runtime does not run"):
        RouteTable(ROUTING, ["sms", "backup"])


async def test_the_routed_transports_share_one_breaker_and_leave_the_children_open() -> None:
    children: dict[str, Transport] = {n: open_transport(u) for n, u in PLAIN.items()}
    routed = RouteTable(ROUTING, list(PLAIN)).transports(children)
    assert set(routed) == {"auto", "route:kz", "route:default"}
    assert routed["route:kz"].children["kz"] is children["kz"]  # the plain lanes' instances
    kz = routed["route:kz"]
    kz.breaker.failed("kz", kz.clock())  # what a failed send through route:kz records
    shown = circuits(routed)
    assert shown["kz"].state == CircuitState.OPEN.value and shown["kz"].opened == 1
    assert shown["kz"].probe_in is not None and 29 < shown["kz"].probe_in <= 30
    assert shown["sms"].state == "closed" and shown["sms"].probe_in is None
    assert "mail" not in shown  # no route names it
    for transport in routed.values():
        await transport.aclose()
    [result] = await children["kz"].send([Message(to="+77011234567", text="hi")])  # still open: its own lane closes it
    assert result.ok


async def test_a_transport_down_at_start_counts_once_against_the_shared_breaker_not_once_per_lane() -> None:
    # Two failures open a circuit here; three routed lanes (auto, route:kz, route:default) name "backup".
    routing = RoutingConfig(routes=ROUTING.routes, breaker=BreakerSettings(failures=2, cooldown=30))
    children: dict[str, Transport] = {n: open_transport(u) for n, u in PLAIN.items()}
    children["backup"] = open_transport("smpp://u:p@127.0.0.1:1?bind_timeout=1")  # refused
    routed = RouteTable(routing, list(PLAIN)).transports(children)
    for transport in routed.values():
        await transport.open()  # the others open: none raises
    shown = circuits(routed)
    assert shown["backup"].state == CircuitState.CLOSED.value, shown["backup"]
    assert shown["backup"].failures == 1
    routed["auto"].breaker.failed("backup", routed["auto"].clock())  # one more failure, from a send
    assert circuits(routed)["backup"].state == CircuitState.OPEN.value
    for transport in [*routed.values(), *children.values()]:
        await transport.aclose()


def test_the_runtime_sends_what_names_no_transport_to_auto_and_lists_routes_after_the_plain_names() -> None:
    rt = Runtime(transports=PLAIN, routing=ROUTING)
    assert rt.transport_names == ("sms", "kz", "backup", "mail", "auto", "route:kz", "route:default")
    assert rt.default_transport == "auto"
    assert rt.carriers("ROUTE:KZ") == ("kz", "backup") and rt.carriers("mail") == ("mail",)
    assert Runtime(transports=PLAIN, routing=ROUTING, default="kz").default_transport == "kz"
    assert Runtime(transports=PLAIN).default_transport == "sms"
    with pytest.raises(ConfigError, match="not among"):
        Runtime(transports=PLAIN, routing=ROUTING, default="route:nowhere")


def test_serve_check_lists_the_routes_and_refuses_a_transport_named_auto(tmp_path: Path) -> None:
    create_key(tmp_path / "msgbridge-keys.toml", "ops")
    config_file = tmp_path / "msgbridge.toml"
    base = '[transports]\nsms = "memory://"\n{extra}\n[[routes]]\nname = "main"\ntransports = ["sms"]\n'
    config_file.write_text(base.format(extra=""))
    lines = check_config(load_config(str(config_file)), ServeSettings())
    assert "route main (route:main): failover over sms" in lines
    config_file.write_text(base.format(extra='auto = "memory://"'))
    with pytest.raises(ConfigError, match="transport 'auto': with \\[\\[routes\\]\\] configured"):
        check_config(load_config(str(config_file)), ServeSettings())
