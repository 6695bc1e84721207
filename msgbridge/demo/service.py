"""``python -m msgbridge.demo --serve`` (``make serve-demo``): the gateway as a service, driven over HTTP.

It does what a deployment does, each step with the real command: the SMSC simulator in the background
(the same one ``make demo`` uses), a ``msgbridge.toml`` naming it, ``msgbridge apikey create``, then
``msgbridge serve`` in its own process; the campaign is posted to ``POST /v1/campaigns`` and everything
printed afterwards is read back over HTTP (``GET /v1/campaigns/demo``, its messages, ``/v1/transports``).
It ends with SIGTERM, the service's clean shutdown. The API key is shown by its first characters only.
"""

from __future__ import annotations

import csv
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import click
import httpx

from msgbridge.demo.serve import ServeProcess, create_api_key, write_config

CAMPAIGN = "demo"
SHOWN = (
    "DELIVERED",
    "UNDELIVERABLE",
    "EXPIRED",
    "REJECTED",
    "SUBMITTED",
    "ACCEPTED",
    "QUEUED",
    "MAYBE_SUBMITTED",
)


def bundled_recipients(count: int) -> list[dict[str, Any]]:
    """The first ``count`` rows of the bundled CSV as ``POST /v1/campaigns`` takes them."""
    text = files("msgbridge.demo").joinpath("recipients.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))[:count]
    return [{"phone": r["phone"], "fields": {"name": r["name"], "code": r["code"]}} for r in rows]


def summary_table(counts: dict[str, int], total: int) -> list[str]:
    lines = [f"  {'status':<16}{'messages':>10}"]
    ordered = [s for s in SHOWN if s in counts] + sorted(set(counts) - set(SHOWN))
    lines += [f"  {status:<16}{counts[status]:>10,}" for status in ordered]
    lines.append(f"  {'total':<16}{total:>10,}")
    return lines


def run_serve_demo(smpp_url: str, template: str, recipients: int, *, wait: float) -> int:
    """Serve with ``smpp_url`` as its one transport, post the campaign, print what HTTP reads back."""
    with tempfile.TemporaryDirectory(prefix="msgbridge-serve-demo-") as tmp:
        config = write_config(
            Path(tmp) / "msgbridge.toml", store=str(Path(tmp) / "demo.db"), transports={"sms": smpp_url}
        )
        click.echo(
            f"msgbridge serve demo: {recipients:,} recipients over the HTTP API, config {config.name} in a temporary directory"
        )
        key = create_api_key(config, "demo")
        click.echo(f"$ msgbridge apikey create demo   -> {key[:8]}… (printed once; only its hash is kept)")
        serve = ServeProcess(config)
        code = 1
        try:
            click.echo(f"$ msgbridge serve   -> listening on {serve.url} (pid {serve.pid})")
            code = drive(serve.url, key, template, recipients, wait)
        finally:
            status = serve.stop()
            click.echo(f"msgbridge serve stopped on SIGTERM (exit {status})")
        return code if status == 0 else 1


def drive(url: str, key: str, template: str, recipients: int, wait: float) -> int:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        deadline = time.monotonic() + 30
        while http.get("/readyz").status_code != 200:
            if time.monotonic() > deadline:
                click.echo("error: the service did not become ready (is the SMSC up?)", err=True)
                return 1
            time.sleep(0.1)
        body = {
            "name": CAMPAIGN,
            "template": template,
            "sender": "msgbridge",
            "recipients": bundled_recipients(recipients),
        }
        started = time.monotonic()
        answer = http.post("/v1/campaigns", json=body)
        if answer.status_code != 202:
            click.echo(f"error: POST /v1/campaigns answered {answer.status_code}: {answer.text}", err=True)
            return 1
        posted = answer.json()
        click.echo(f"POST /v1/campaigns -> 202: {posted['queued']:,} queued, {posted['skipped']:,} skipped")
        view = http.get(f"/v1/campaigns/{CAMPAIGN}").json()
        shown = -1.0
        while view["done"] < view["total"] and time.monotonic() - started < wait:
            if view["progress"] - shown >= 0.25:
                shown = view["progress"]
                click.echo(f"GET /v1/campaigns/{CAMPAIGN} -> {view['done']:,} of {view['total']:,} final")
            time.sleep(0.25)
            view = http.get(f"/v1/campaigns/{CAMPAIGN}").json()
        seconds = time.monotonic() - started
        click.echo(
            f"GET /v1/campaigns/{CAMPAIGN} -> {view['done']:,} of {view['total']:,} final after {seconds:.1f} s:"
        )
        for line in summary_table(view["counts"], view["total"]):
            click.echo(line)
        page = http.get(f"/v1/campaigns/{CAMPAIGN}/messages", params={"limit": 3}).json()
        click.echo(f"GET /v1/campaigns/{CAMPAIGN}/messages?limit=3 -> next_cursor {page['next_cursor']}:")
        for m in page["messages"]:
            click.echo(
                f"  {m['phone']}  {m['status']:<14} native id {m['native_id']}  {m['segments']} segment(s)"
            )
        for t in http.get("/v1/transports").json()["transports"]:
            click.echo(
                f"GET /v1/transports -> {t['name']} ({t['scheme']}): up {t['up']}, binds {t['binds_up']}/{t['binds']}, "
                f"sent {sum(t['sent'].values()):,}, receipts matched {t['receipts_matched']:,}"
            )
        if view["done"] < view["total"]:
            click.echo(
                f"error: {view['total'] - view['done']:,} messages not final within {wait:g} s", err=True
            )
            return 1
    return 0
