"""The dashboard's routes: the page at ``/``, login and logout, its JSON state, its script and style.

The page is a server-rendered shell (:mod:`string.Template`) and one small script that polls
``/dashboard/state.json`` every second and draws the tables and SVG charts; no inline script, no build
step. Every answer carries the headers in :data:`PAGE_HEADERS`: a Content-Security-Policy that allows
scripts, styles and requests to this origin only, no framing (clickjacking), and no caching of what a
session saw. The API key is read from the login form once and never written into any page.

Login and logout are form POSTs refused when a browser says they come from another origin; the session
cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), and Secure
when the server speaks TLS.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from msgbridge.service.apikeys import ApiKey
from msgbridge.service.contract import Gateway
from msgbridge.service.http.dashboard.sessions import COOKIE, Sessions
from msgbridge.service.http.dashboard.state import BacklogSource, DashboardOut, build_state
from msgbridge.service.http.errors import ApiError
from msgbridge.service.http.state import service

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make the login form's Origin "null"
    "Cache-Control": "no-store",
}
# What each static file is served as, by its suffix; a file of another suffix is not served.
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
STATIC: dict[str, tuple[bytes, str]] = {
    p.name: (p.read_bytes(), MEDIA_TYPES[p.suffix])
    for p in sorted((HERE / "static").iterdir())
    if p.suffix in MEDIA_TYPES
}
REUSE = 0.5  # seconds a built state document is served again (the page polls every second)
TEMPLATES = {
    name: Template((HERE / "templates" / f"{name}.html").read_text("utf-8")) for name in ("login", "page")
}

router = APIRouter(include_in_schema=False)


class Dashboard:
    """The dashboard's own state in ``app.state.dashboard``: its sessions, where the backlog comes from, and
    the state document last built, served again for :data:`REUSE` seconds so that any number of open pages
    cost the store no more reads than two would."""

    def __init__(
        self,
        *,
        backlog: BacklogSource | None = None,
        sessions: Sessions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backlog = backlog
        self.sessions = sessions or Sessions()
        self.clock = clock
        self._built: DashboardOut | None = None
        self._built_at = 0.0

    async def state(self, gateway: Gateway, key: str) -> DashboardOut:
        now = self.clock()
        if self._built is None or now - self._built_at >= REUSE:
            self._built = await build_state(gateway, key=key, backlog=self.backlog)
            self._built_at = now
        return self._built if self._built.key == key else self._built.model_copy(update={"key": key})


def dashboard(request: Request) -> Dashboard:
    found: Dashboard = request.app.state.dashboard
    return found


def signed_in(request: Request) -> ApiKey | None:
    return dashboard(request).sessions.find(request.cookies.get(COOKIE), service(request).keys)


def render(name: str, status: int = 200, **values: str) -> HTMLResponse:
    text = TEMPLATES[name].substitute({k: html.escape(v) for k, v in values.items()})
    return HTMLResponse(text, status_code=status, headers=PAGE_HEADERS)


def same_origin(request: Request) -> bool:
    """False when the browser names another host than this server's (a cross-site form post). The host
    alone is compared: behind a proxy that ends TLS the scheme the server sees is not the browser's."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site request: browsers send Origin on every POST
    return urlsplit(origin).netloc == request.headers.get("host", "")


def home() -> RedirectResponse:
    return RedirectResponse("/", status_code=303, headers=PAGE_HEADERS)


@router.get("/", response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    key = signed_in(request)
    if key is None:
        return render("login", problem="")
    return render("page", key_name=key.name)


@router.post("/login")
async def login(request: Request) -> Response:
    if not same_origin(request):
        return render("login", 403, problem="this form may be sent from this server's own page only")
    form = await request.form()
    token = form.get("key")
    key = (
        service(request).keys.authenticate(token.strip())
        if isinstance(token, str) and token.strip()
        else None
    )
    if key is None:
        return render("login", 401, problem="unknown or revoked API key")
    response = home()
    response.set_cookie(
        COOKIE,
        dashboard(request).sessions.open(key),
        max_age=int(dashboard(request).sessions.lifetime),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    if not same_origin(request):
        return render("login", 403, problem="this form may be sent from this server's own page only")
    dashboard(request).sessions.close(request.cookies.get(COOKIE))
    response = home()
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response


@router.get("/dashboard/state.json")
async def state(request: Request) -> JSONResponse:
    key = signed_in(request)
    if key is None:
        raise ApiError(401, "not signed in: log in at / with an API key", headers=PAGE_HEADERS)
    body = await dashboard(request).state(service(request).gateway, key.name)
    return JSONResponse(body.model_dump(mode="json"), headers=PAGE_HEADERS)


@router.get("/dashboard/static/{name}")
async def static(name: str) -> Response:
    found = STATIC.get(name)
    if found is None:
        raise ApiError(404, f"no dashboard file named {name!r}")
    body, media_type = found
    headers = {**PAGE_HEADERS, "Cache-Control": "no-cache"}
    return Response(body, media_type=media_type, headers=headers)
