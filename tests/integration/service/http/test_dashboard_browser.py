"""The dashboard in headless Chromium (Debian's ``chromium``) during a running campaign.

A real runtime and uvicorn on a free port, the SMSC simulator with slow receipts, a campaign paced so it
runs for several seconds; the browser signs in through the form and must show the transports, a progress
bar and the chart with the numbers the JSON API gives, and show them changing while the campaign runs.
A screenshot is kept in the test's folder, or at ``$DASHBOARD_SCREENSHOT`` when set (``make screenshot``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_helpers import USERS, http_server, make_keys, sim_url, until

from msgbridge.config import ServeSettings
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.apikeys import KeyRing
from msgbridge.service.http import create_app
from msgbridge.service.runtime import Runtime
from msgbridge.simulators.smsc import SmscSimulator

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "the dashboard's browser test needs Debian's chromium package at /usr/bin/chromium "
        "(`make test` installs it when run as root: apt-get install chromium)",
        allow_module_level=True,
    )
playwright = pytest.importorskip("playwright.async_api", reason="pip install -e '.[dev]' brings playwright")

RECIPIENTS = 180
TPS = 30.0  # about 6 s of sending: time to watch the numbers move
CAMPAIGN = "autumn-sale"


@pytest.fixture
async def slow_sim() -> AsyncIterator[SmscSimulator]:
    simulator = SmscSimulator(users=USERS, dlr_delay_ms=1000, seed=7)
    async with simulator.serve("127.0.0.1", 0):
        yield simulator


async def test_the_dashboard_shows_a_running_campaign_live(slow_sim: SmscSimulator, tmp_path: Path) -> None:
    tokens = make_keys(tmp_path / "keys.toml")
    runtime = Runtime(
        store=str(tmp_path / "dash.db"),
        transports={"sms": sim_url(slow_sim), "backup": "memory://?dlr_delay_ms=5"},
        tps={"sms": TPS},
    )
    app = create_app(runtime, keys=KeyRing.load(tmp_path / "keys.toml"), settings=ServeSettings())
    bearer = {"Authorization": f"Bearer {tokens['full']}"}
    async with runtime:
        assert await runtime.wait_ready()
        async with (
            http_server(app) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as api,
            playwright.async_playwright() as pw,
        ):
            # The package's own browser, never a downloaded one; as root Chromium runs only without its sandbox.
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                problems: list[str] = []
                page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
                page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)

                await page.goto(url + "/")
                await page.fill("#key", tokens["full"])
                await page.click("button[type=submit]")
                await page.wait_for_selector('#transports tr[data-transport="sms"]')
                assert await page.text_content("#key-name") == "full"
                assert tokens["full"] not in await page.content()
                sms_cells = await page.locator('#transports tr[data-transport="sms"] td').all_text_contents()
                assert sms_cells[:4] == ["sms", "smpp", "up", "1/1"]  # name, scheme, up, binds up/binds
                backup_cells = await page.locator(
                    '#transports tr[data-transport="backup"] td'
                ).all_text_contents()
                assert backup_cells[:3] == ["backup", "memory", "up"]

                # Live: the campaign starts with the page open; its progress bar and the chart move as it sends.
                assert await page.text_content("#campaigns") == "No campaign yet."
                assert await page.get_attribute("#chart", "data-sent") == "0"
                recipients = [{"phone": f"+7701400{i:04d}"} for i in range(RECIPIENTS)]
                r = await api.post(
                    "/v1/campaigns", headers=bearer,
                    json={"name": CAMPAIGN, "template": "Hello, autumn is here", "transport": "sms", "recipients": recipients},
                )  # fmt: skip
                assert r.status_code == 202, r.text
                campaign = page.locator(f'.campaign[data-campaign="{CAMPAIGN}"]')
                await campaign.locator("progress").wait_for()
                first = int(await campaign.get_attribute("data-done") or 0)
                sent_first = int(await page.get_attribute("#chart", "data-sent") or 0)
                assert first < RECIPIENTS, "the campaign ended before the page showed it running"
                await page.wait_for_function(
                    f"""() => {{
                        const c = document.querySelector('.campaign[data-campaign="{CAMPAIGN}"]');
                        const sent = Number(document.getElementById('chart').dataset.sent);
                        return c && Number(c.dataset.done) > Math.max({first}, {RECIPIENTS // 3})
                            && sent > {sent_first};
                    }}""",
                    timeout=15_000,
                )
                assert await page.locator("#chart polygon").count() == 1
                assert await page.get_attribute("#chart", "data-points") == "900"
                shot = os.environ.get("DASHBOARD_SCREENSHOT") or str(tmp_path / "dashboard.png")
                assert await page.screenshot(path=shot, full_page=True)

                # Settled: every message sent and every receipt in; the page must agree with the JSON API.
                async def all_delivered() -> bool:
                    view = await runtime.campaign(CAMPAIGN)
                    return view is not None and view.counts.get(DeliveryStatus.DELIVERED) == RECIPIENTS

                await until(all_delivered, seconds=30, what="every message delivered")
                await page.wait_for_function(
                    f"""() => {{
                        const c = document.querySelector('.campaign[data-campaign="{CAMPAIGN}"]');
                        return c && c.dataset.done === '{RECIPIENTS}'
                            && document.getElementById('receipts-matched').textContent === '{RECIPIENTS}';
                    }}""",
                    timeout=10_000,
                )
                state = await (await page.request.get(url + "/dashboard/state.json")).json()
                v1 = (await api.get(f"/v1/campaigns/{CAMPAIGN}", headers=bearer)).json()
                # The page leaves a campaign's costs out (null) so a refresh reads no rows; the rest is the API's.
                assert state["campaigns"][0] == {**v1, "costs": None} and v1["done"] == v1["total"] == RECIPIENTS
                assert await campaign.get_attribute("data-total") == str(v1["total"])
                assert await campaign.locator("progress").evaluate("p => [p.value, p.max]") == [
                    RECIPIENTS,
                    RECIPIENTS,
                ]
                assert await campaign.locator("svg.mix rect.ok").count() == 1  # all DELIVERED: one colour
                sms = state["transports"][0]
                assert (
                    await page.get_attribute('#transports tr[data-transport="sms"]', "data-results")
                    == str(sum(sms["sent"].values()))
                    == str(RECIPIENTS)
                )
                assert await page.get_attribute("#chart", "data-sent") == str(
                    sum(state["throughput"]["sent"])
                )
                assert await page.text_content("#receipts-matched") == str(state["receipts"]["matched"])
                assert await page.text_content("#receipts-parked") == str(state["receipts"]["parked"])
                assert await page.text_content("#backlog-pending") == str(state["backlog"]["pending"])
                assert problems == []  # no script error, no CSP refusal
            finally:
                await browser.close()
