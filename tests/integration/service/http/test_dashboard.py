"""The dashboard over a real uvicorn and the real runtime: login, the session cookie, the headers, its JSON."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
import uvicorn
from api_helpers import Api, api, make_keys, until

from msgbridge.cli.serve import _Server
from msgbridge.config import ServeSettings
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.apikeys import KeyRing, revoke_key
from msgbridge.service.http import create_app
from msgbridge.service.http.dashboard.sessions import COOKIE
from msgbridge.service.runtime import Runtime
from msgbridge.simulators.smsc import SmscSimulator


def set_cookie(response: httpx.Response) -> SimpleCookie:
    jar = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    return jar


async def sign_in(a: Api, name: str = "full") -> httpx.AsyncClient:
    """A browser-like client of its own (its own cookie jar), signed in with the key ``name``."""
    client = httpx.AsyncClient(base_url=a.url, timeout=30)
    r = await client.post("/login", data={"key": a.tokens[name]}, headers={"Origin": a.url})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return client


async def get_with_cookie(a: Api, path: str, cookie: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=a.url, cookies={COOKIE: cookie}) as client:
        return await client.get(path)


def assert_page_headers(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_login_sets_a_strict_http_only_cookie_and_the_page_names_only_the_key(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with api(tmp_path, sim) as a:
        r = await a.client.get("/")
        assert (
            r.status_code == 200
            and 'action="/login"' in r.text
            and COOKIE not in r.headers.get("set-cookie", "")
        )
        assert_page_headers(r)
        assert "<script>" not in r.text  # no inline script: the CSP would refuse it anyway

        r = await a.client.post("/login", data={"key": a.tokens["full"]}, headers={"Origin": a.url})
        assert r.status_code == 303 and r.headers["location"] == "/"
        morsel = set_cookie(r)[COOKIE]
        assert morsel["httponly"] is True and morsel["samesite"] == "strict" and morsel["path"] == "/"
        assert not morsel["secure"]  # plain HTTP here; over TLS the cookie is Secure (scheme https)
        assert int(morsel["max-age"]) > 0
        assert a.tokens["full"] not in morsel.value

        page = await get_with_cookie(a, "/", morsel.value)
        assert page.status_code == 200 and 'id="transports"' in page.text
        assert_page_headers(page)
        assert 'signed in as <strong id="key-name">full</strong>' in page.text
        for token in a.tokens.values():
            assert token not in page.text and token[:8] not in page.text  # not even a key's hint
        assert '<script src="/dashboard/static/dashboard.js" defer></script>' in page.text


async def test_bad_keys_and_foreign_origins_are_refused_without_a_cookie(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with api(tmp_path, sim) as a:
        for form in ({"key": "mbk_not-a-key"}, {"key": ""}, {}):
            r = await a.client.post("/login", data=form, headers={"Origin": a.url})
            assert r.status_code == 401 and "unknown or revoked API key" in r.text, form
            assert "set-cookie" not in r.headers
            assert_page_headers(r)
        for foreign in ("https://evil.example", "null", a.url.replace("127.0.0.1", "127.0.0.2")):
            r = await a.client.post("/login", data={"key": a.tokens["full"]}, headers={"Origin": foreign})
            assert r.status_code == 403 and "set-cookie" not in r.headers, foreign
        r = await a.client.post("/logout", headers={"Origin": "https://evil.example"})
        assert r.status_code == 403
        r = await a.client.get("/dashboard/state.json")
        assert r.status_code == 401 and r.json()["error"]["code"] == "AUTH_FAILED"
        r = await get_with_cookie(a, "/dashboard/state.json", "made-up")
        assert r.status_code == 401
        r = await a.client.get("/dashboard/state.json", headers=a.auth())
        assert r.status_code == 401  # a bearer key is for /v1; the page reads through its session only
        behind_proxy = a.url.replace("http://", "https://")  # a proxy ended TLS: the host is what counts
        async with httpx.AsyncClient(base_url=a.url) as browser:
            r = await browser.post("/login", data={"key": a.tokens["full"]}, headers={"Origin": behind_proxy})
            assert r.status_code == 303 and COOKIE in r.headers["set-cookie"]


async def test_logout_and_revocation_end_the_session(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        first = await sign_in(a)
        second = await sign_in(a, "backup-only")
        try:
            assert (await first.get("/dashboard/state.json")).json()["key"] == "full"
            cookie = first.cookies[COOKIE]
            r = await first.post("/logout", headers={"Origin": a.url})
            assert r.status_code == 303 and first.cookies.get(COOKIE) is None
            stale = await get_with_cookie(a, "/dashboard/state.json", cookie)
            assert stale.status_code == 401  # the old cookie is worth nothing after the logout

            assert (await second.get("/dashboard/state.json")).status_code == 200
            revoke_key(tmp_path / "keys.toml", "backup-only")

            async def refused() -> bool:
                return (await second.get("/dashboard/state.json")).status_code == 401

            await until(refused, what="the revoked key's session to end")
            page = await second.get("/")
            assert 'action="/login"' in page.text
        finally:
            await first.aclose()
            await second.aclose()


async def test_static_files_have_their_types_and_unknown_ones_are_404(
    sim: SmscSimulator, tmp_path: Path
) -> None:
    async with api(tmp_path, sim) as a:
        js = await a.client.get("/dashboard/static/dashboard.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
        assert "fetch(STATE_URL" in js.text
        css = await a.client.get("/dashboard/static/dashboard.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        for name in ("nope.js", "..%2Froutes.py", "%2E%2E%2Fsessions.py"):
            assert (await a.client.get(f"/dashboard/static/{name}")).status_code == 404, name


async def test_state_json_matches_the_api(sim: SmscSimulator, tmp_path: Path) -> None:
    async with api(tmp_path, sim) as a:
        browser = await sign_in(a)
        try:
            recipients = [{"phone": f"+7701200{i:04d}"} for i in range(20)]
            r = await a.client.post(
                "/v1/campaigns", headers=a.auth(),
                json={"name": "spring", "template": "hi", "transport": "sms", "recipients": recipients},
            )  # fmt: skip
            assert r.status_code == 202, r.text

            async def finished() -> bool:
                view = await a.runtime.campaign("spring")
                return view is not None and view.counts.get(DeliveryStatus.DELIVERED) == 20

            await until(finished, what="the campaign delivered")

            async def receipts_in() -> bool:
                state = (await browser.get("/dashboard/state.json")).json()
                return bool(state["receipts"]["matched"] == 20)

            await until(receipts_in, what="20 receipts matched")
            r = await browser.get("/dashboard/state.json")
            assert_page_headers(r)
            state = r.json()
            campaign = (await a.client.get("/v1/campaigns/spring", headers=a.auth())).json()
            # The same, less the costs: only GET /v1/campaigns/{name} reads them (a listing would read
            # every listed campaign's rows once more on each refresh).
            assert state["campaigns"][0] == {**campaign, "costs": None} and campaign["costs"] == []
            transports = (await a.client.get("/v1/transports", headers=a.auth())).json()["transports"]
            assert (
                [t["name"] for t in state["transports"]]
                == [t["name"] for t in transports]
                == ["sms", "backup"]
            )
            assert state["transports"][0]["sent"] == transports[0]["sent"] == {"SUBMITTED": 20}
            assert sum(state["throughput"]["sent"]) == 20  # the chart counts every result recorded
            assert sum(state["throughput"]["receipts"]) == 20
            assert len(state["throughput"]["sent"]) == 900
            assert state["receipts"] == {"matched": 20, "parked": 0}
            # No message named a callback: nothing waits (the store's event backlog, as the page shows it).
            assert state["backlog"] == {"pending": 0, "failed": 0, "oldest_pending_at": None}
            assert state["key"] == "full"
        finally:
            await browser.aclose()


async def test_over_tls_the_cookie_is_secure(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await asyncio.to_thread(
        subprocess.run,
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    tokens = make_keys(tmp_path / "keys.toml")
    runtime = Runtime(store=str(tmp_path / "tls.db"), transports={"sms": "memory://"})
    app = create_app(runtime, keys=KeyRing.load(tmp_path / "keys.toml"), settings=ServeSettings())
    sock = socket.create_server(("127.0.0.1", 0))
    server = _Server(
        uvicorn.Config(app, log_config=None, lifespan="off", ssl_certfile=str(cert), ssl_keyfile=str(key))
    )
    async with runtime:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:

            async def started() -> bool:
                return bool(server.started)

            await until(started, what="the TLS server up")
            url = f"https://127.0.0.1:{sock.getsockname()[1]}"
            trust = ssl.create_default_context(cafile=str(cert))
            async with httpx.AsyncClient(base_url=url, verify=trust) as client:
                r = await client.post("/login", data={"key": tokens["full"]}, headers={"Origin": url})
                assert r.status_code == 303
                morsel = set_cookie(r)[COOKIE]
                assert (
                    morsel["secure"] is True and morsel["httponly"] is True and morsel["samesite"] == "strict"
                )
                assert (await client.get("/dashboard/state.json")).json()["key"] == "full"
        finally:
            server.should_exit = True
            await task
            sock.close()
