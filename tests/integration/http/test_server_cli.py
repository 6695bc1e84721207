"""``msgbridge sim http`` as a real process: bound port printed, adapters reach it, counters at exit."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest
from click.testing import CliRunner

from msgbridge.adapters.base import open_transport
from msgbridge.cli.main import cli
from msgbridge.core.message import Message


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "msgbridge",
        "sim",
        "http",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    listening = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    transport_url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    assert listening.startswith("listening on http://127.0.0.1:"), listening
    return proc, listening.removeprefix("listening on "), transport_url.removeprefix("transport URL: ")


@pytest.mark.parametrize("provider", ["selzy", "bsg"])
async def test_sim_http_serves_the_provider_and_reports_counters(provider: str) -> None:
    proc, _, transport_url = await _start(
        "--provider",
        provider,
        "--port",
        "0",
        "--api-key",
        "cli-key",
        "--final-mix",
        "delivered=0.9,undeliverable=0.1",
    )
    try:
        assert transport_url.startswith(f"{provider}://cli-key@")
        async with open_transport(transport_url) as t:
            [result] = await t.send([Message(to="+77011234567", text="hello")])
        assert result.ok, result.error
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    counters = out.decode().strip().splitlines()[-1]
    expected = "sendSms=1" if provider == "selzy" else "POST /api/campaigns/sms/send=1"
    assert expected in counters


def test_bad_options_are_one_line_errors() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["sim", "http", "--provider", "selzy", "--final-mix", "bounced=1"])
    assert result.exit_code != 0
    assert "bounced" in result.output
    result = runner.invoke(cli, ["sim", "http", "--provider", "nope"])
    assert result.exit_code != 0
    result = runner.invoke(cli, ["sim", "http", "--provider", "bsg", "--login", "u:p"])
    assert result.exit_code != 0
    assert "--login" in result.output
