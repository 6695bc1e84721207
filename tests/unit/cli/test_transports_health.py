"""``msgbridge transports --health``: each configured transport opened here, or a running serve asked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_helpers import Run

from msgbridge.cli import health

CONFIG = """
[transports]
mem = "memory://"
dead = "smpp://u:p@127.0.0.1:1?bind_timeout=1"

[[routes]]
name = "main"
transports = ["dead", "mem"]
"""

SERVED: dict[str, Any] = {
    "transports": [
        {"name": "primary", "scheme": "smpp", "up": True, "binds_up": 1, "binds": 2, "last_error": None,
         "circuit": {"state": "open", "failures": 1, "opened": 1, "probe_in": 4.2}},
        {"name": "secondary", "scheme": "smpp", "up": True, "binds_up": 2, "binds": 2,
         "last_error": {"code": "NETWORK_ERROR", "native_code": None, "native_message": "bind lost"},
         "circuit": {"state": "closed", "failures": 0, "opened": 0, "probe_in": None}},
        {"name": "mail", "scheme": "smtp", "up": True, "binds_up": None, "binds": None, "last_error": None,
         "circuit": None},
    ],
    "routes": [
        {"name": "main", "transport": "route:main", "strategy": "failover", "transports": ["primary", "secondary"]}
    ],
    "smpp_front": None,
}  # fmt: skip


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line, whatever the cell lengths


def served(monkeypatch: pytest.MonkeyPatch, status: int, body: dict[str, Any]) -> list[httpx.Request]:
    """``--server`` answered by ``body``; the requests made, for the test to look at."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body)

    def client(*, timeout: float) -> httpx.Client:
        return httpx.Client(timeout=timeout, transport=httpx.MockTransport(answer))

    monkeypatch.setattr(health, "http_client", client)
    return seen


def line_of(run: Run, first: str) -> str:
    return next(line for line in run.out.splitlines() if line.strip("│ ").startswith(first))


def test_each_configured_transport_is_opened_and_the_one_down_says_why(
    msgbridge: Callable[..., Run], tmp_path: Path
) -> None:
    (tmp_path / "msgbridge.toml").write_text(CONFIG)
    run = msgbridge("transports", "--health")
    assert run.code == 1, run.output  # one is down
    assert "up" in line_of(run, "mem").split("│")[3] and "DOWN" not in line_of(run, "mem")
    dead = line_of(run, "dead")
    assert "DOWN" in dead and "127.0.0.1:1" in dead
    assert "route:main" in line_of(run, "main") and "dead, mem" in line_of(run, "main")


def test_health_as_json(msgbridge: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "msgbridge.toml").write_text(CONFIG)
    run = msgbridge("transports", "--health", "--json")
    assert run.code == 1
    body = run.json()
    by_name = {t["name"]: t for t in body["transports"]}  # type: ignore[attr-defined]
    assert by_name["mem"] == {"name": "mem", "scheme": "memory", "up": True, "error": None,
                              "binds_up": None, "binds": None}  # fmt: skip
    assert by_name["dead"]["up"] is False and "127.0.0.1:1" in by_name["dead"]["error"]
    assert body["routes"] == [
        {"name": "main", "transport": "route:main", "strategy": "failover", "transports": ["dead", "mem"]}
    ]


def test_all_up_exits_zero(msgbridge: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "msgbridge.toml").write_text('[transports]\nmem = "memory://"\n')
    run = msgbridge("transports", "--health")
    assert run.code == 0, run.output
    assert "DOWN" not in run.out and "routes" not in run.out


def test_a_running_serve_is_asked_for_its_transports_and_circuits(
    msgbridge: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = served(monkeypatch, 200, SERVED)
    monkeypatch.setenv("MSGBRIDGE_API_KEY", "mbk_test")
    run = msgbridge("transports", "--health", "--server", "http://gw.example:8080/")
    assert run.code == 0, run.output
    [request] = seen
    assert str(request.url) == "http://gw.example:8080/v1/transports"
    assert request.headers["Authorization"] == "Bearer mbk_test"
    primary = line_of(run, "primary")
    assert "1/2" in primary and "open (probe in 4 s), opened 1x" in primary
    assert "closed" in line_of(run, "secondary") and "NETWORK_ERROR: bind lost" in line_of(run, "secondary")
    assert line_of(run, "mail").split("│")[5].strip() == "-"  # no route names it: no circuit
    assert "primary, secondary" in line_of(run, "main")


def test_the_server_answer_as_json_and_a_down_transport_exits_one(
    msgbridge: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    down = json.loads(json.dumps(SERVED))
    down["transports"][0]["up"] = False
    served(monkeypatch, 200, down)
    run = msgbridge("transports", "--health", "--server", "http://gw.example", "--key", "k", "--json")
    assert run.code == 1
    assert run.json() == down


def test_the_server_refusing_the_key_is_one_line(
    msgbridge: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    served(monkeypatch, 401, {"error": {"code": "AUTH_FAILED", "message": "unknown or revoked API key"}})
    run = msgbridge("transports", "--health", "--server", "http://gw.example", "--key", "wrong")
    assert run.code == 2
    assert "401: unknown or revoked API key" in run.err and "wrong" not in run.output


def test_server_without_a_key_or_without_health_is_refused(msgbridge: Callable[..., Run]) -> None:
    run = msgbridge("transports", "--health", "--server", "http://gw.example")
    assert run.code == 2 and "API key" in run.err
    run = msgbridge("transports", "--server", "http://gw.example")
    assert run.code == 2 and "--server goes with --health" in run.err
