"""Provider pushes through processes: ``msgbridge serve`` from a config, and ``msgbridge sim http --push-url``.

The loop over real sockets: a message queued through the HTTP API goes to the SMSC.ru emulator, whose status
handler calls reach the serve process at ``/v1/providers/sms/callback``, until the API reports it DELIVERED.
And the emulator's ``--push-url`` as a process: what it pushes verifies with Mobizon's documented sign.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.http.mobizon import verify_webhook
from msgbridge.cli.main import cli
from msgbridge.core.message import Message
from msgbridge.demo.serve import ServeProcess, create_api_key, write_config
from msgbridge.simulators.http.push import Pusher
from msgbridge.simulators.http.server import Request, Response, serve, text_response
from msgbridge.simulators.http.smsc import SmscEmulator

SECRET = "handler-secret"


async def test_serve_takes_smsc_status_calls_into_the_api(tmp_path: Path) -> None:
    emulator = SmscEmulator(logins={"user": "secret"}, accept_after=0.05, final_after=0.3, push_secret=SECRET)
    async with serve(emulator) as server:
        config = write_config(
            tmp_path / "msgbridge.toml",
            store=str(tmp_path / "serve.db"),
            transports={"sms": f"smsc://user:secret@smsc.ru?base_url={server.url}&push_secret={SECRET}"},
        )
        key = create_api_key(config, "app")
        with ServeProcess(config) as proc:
            emulator.pusher = Pusher(f"{proc.url}/v1/providers/sms/callback?md5=1", retries=3, interval=0.1)
            async with httpx.AsyncClient(base_url=proc.url, timeout=30) as client:
                auth = {"Authorization": f"Bearer {key}"}
                sent = await client.post(
                    "/v1/messages", json={"to": "+79161234567", "text": "hi"}, headers=auth
                )
                assert sent.status_code == 202, sent.text
                message_id = sent.json()["id"]
                deadline = time.monotonic() + 30
                status = ""
                while status != "DELIVERED" and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    status = (await client.get(f"/v1/messages/{message_id}", headers=auth)).json()["status"]
                assert status == "DELIVERED"
            await emulator.pusher.wait()
            assert [(a.status, a.body) for a in emulator.pusher.answers] == [(200, "OK"), (200, "OK")]
            await emulator.pusher.aclose()


class Receiver:
    """A callback URL that keeps what it is sent (and answers 2xx, as a receiver that took it)."""

    def __init__(self) -> None:
        self.received: list[Request] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: Request) -> Response:
        self.received.append(request)
        self.arrived.set()
        return text_response("ok")


async def test_sim_http_push_url_sends_signed_mobizon_webhooks() -> None:
    receiver = Receiver()
    async with serve(receiver) as hook:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "msgbridge", "sim", "http", "--provider", "mobizon", "--port", "0",
            "--api-key", "cli-key", "--accept-after", "0", "--final-after", "0.1",
            "--push-url", f"{hook.url}/hook", "--push-secret", SECRET,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            await asyncio.wait_for(proc.stdout.readline(), 30)  # listening on ...
            transport_url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
            async with open_transport(transport_url.removeprefix("transport URL: ")) as t:
                [result] = await t.send([Message(to="+77011234567", text="hello")])
            assert result.ok, result.error
            await asyncio.wait_for(receiver.arrived.wait(), 30)  # a deadline, not a speed target
        finally:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.communicate(), 30)
    [request] = receiver.received
    event = json.loads(request.body)
    assert event["eventType"] == "sms-delivery-report"
    assert event["data"]["messageId"] == int(result.native_id or 0)
    assert event["data"]["status"] == "DELIVRD"
    assert verify_webhook(event, SECRET) and not verify_webhook(event, "other")


def test_push_url_is_for_the_providers_that_push() -> None:
    result = CliRunner().invoke(
        cli, ["sim", "http", "--provider", "selzy", "--push-url", "http://127.0.0.1:1/x"]
    )
    assert result.exit_code != 0
    assert "--push-url" in result.output
