"""``--via``: auto and route:NAME give the routed transport, a name or URL the plain one as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.adapters.memory import MemoryTransport
from msgbridge.config import Config, load_config
from msgbridge.core.errors import ConfigError
from msgbridge.routing.open import open_via
from msgbridge.routing.transport import RoutedTransport

TOML = """
[transports]
a = "memory://a"
b = "memory://b"
c = "memory://c"

[[routes]]
name = "kz"
countries = ["KZ"]
transports = ["a", "b"]

[[routes]]
name = "rest"
transports = ["c"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    f = tmp_path / "msgbridge.toml"
    f.write_text(TOML, encoding="utf-8")
    return load_config(str(f), env={})


def test_auto_builds_every_routed_transport(config: Config) -> None:
    t = open_via(config, "auto")
    assert isinstance(t, RoutedTransport) and t.forced is None and t.link == "routed://auto"
    assert list(t.children) == ["a", "b", "c"]
    assert all(isinstance(c, MemoryTransport) for c in t.children.values())
    assert [c.link for c in t.children.values()] == ["memory://a", "memory://b", "memory://c"]


def test_a_named_route_builds_its_transports_only(config: Config) -> None:
    t = open_via(config, "route:kz")
    assert isinstance(t, RoutedTransport) and t.forced is not None and t.forced.name == "kz"
    assert list(t.children) == ["a", "b"] and t.link == "routed://kz"


def test_names_and_urls_are_plain_transports(config: Config) -> None:
    assert isinstance(open_via(config, "a"), MemoryTransport)
    t = open_via(config, "memory://x")
    assert isinstance(t, MemoryTransport) and t.link == "memory://x"


def test_bad_vias(config: Config) -> None:
    with pytest.raises(ConfigError, match=r"unknown route 'nope' \(configured: kz, rest\)"):
        open_via(config, "route:nope")
    with pytest.raises(ConfigError, match="needs the name"):
        open_via(config, "route:")
    with pytest.raises(ConfigError, match=r"--via auto needs \[\[routes\]\]"):
        open_via(Config(), "auto")


async def test_the_python_client_sends_via_a_route(tmp_path: Path) -> None:
    from msgbridge.service.client import Client

    f = tmp_path / "msgbridge.toml"
    f.write_text(
        '[transports]\ndown = "memory://down?down_times=100&dlr=no"\nup = "memory://up?dlr=no"\n'
        '[[routes]]\nname = "both"\ntransports = ["down", "up"]\n',
        encoding="utf-8",
    )
    config = load_config(str(f), env={})
    async with Client("route:both", str(tmp_path / "c.db"), config=config) as client:
        result = await client.send("+77011234567", "hi", wait=5)
    assert result.status.value == "SUBMITTED"
