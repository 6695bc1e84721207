"""The operator's dashboard at ``GET /``: transports, campaigns, messages/s, receipts, errors, webhook backlog.

:func:`install` adds it to the API's app; ``backlog`` is where the webhook backlog comes from (None: the
page says "n/a").
"""

from __future__ import annotations

from fastapi import FastAPI

from msgbridge.service.http.dashboard.routes import Dashboard, router
from msgbridge.service.http.dashboard.state import BacklogSource

__all__ = ["Dashboard", "install"]


def install(app: FastAPI, *, backlog: BacklogSource | None = None) -> Dashboard:
    """Route ``/``, ``/login``, ``/logout`` and ``/dashboard/*`` of ``app`` to the dashboard."""
    board = Dashboard(backlog=backlog)
    app.state.dashboard = board
    app.include_router(router)
    return board
