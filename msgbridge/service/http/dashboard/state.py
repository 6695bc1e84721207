"""What the dashboard shows, as one JSON document (``GET /dashboard/state.json``), built from the Gateway.

Everything in it comes from the contract's records through the API's own ``from_*`` mappings, so a number
on the page is the number ``/v1/transports`` or ``/v1/campaigns/{name}`` gives, never a second count.
The webhook backlog comes from a provider handed in by whoever builds the app (the store's event backlog
where it has one); without it the document says ``null`` and the page "n/a".
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from pydantic import BaseModel, Field

from msgbridge.service.contract import Gateway
from msgbridge.service.http.models import (
    CampaignOut,
    ErrorOut,
    TransportOut,
    from_error,
    from_health,
    from_view,
)

CAMPAIGNS = 10  # the newest campaigns shown
RATE_SECONDS = 10  # messages/s on the page: the mean over this many complete seconds


class Backlog(Protocol):
    """Callback events not delivered yet (the store's event backlog has this shape)."""

    @property
    def pending(self) -> int: ...

    @property
    def failed(self) -> int: ...

    @property
    def oldest_pending_at(self) -> float | None: ...


BacklogSource = Callable[[], Awaitable[Backlog]]


class ThroughputOut(BaseModel):
    start: float = Field(description="The first bucket's second (Unix time); one bucket per second after it.")
    sent: list[int] = Field(description="Send results recorded in each second.")
    receipts: list[int] = Field(description="Receipts stored in each second.")
    sent_per_second: float = Field(description=f"Mean of the last {RATE_SECONDS} complete seconds.")


class ReceiptsOut(BaseModel):
    matched: int
    parked: int


class ErrorLineOut(BaseModel):
    transport: str
    at: float | None
    error: ErrorOut


class BacklogOut(BaseModel):
    pending: int
    failed: int
    oldest_pending_at: float | None


class DashboardOut(BaseModel):
    generated_at: float
    key: str = Field(description="The name of the API key this session logged in with.")
    transports: list[TransportOut]
    campaigns: list[CampaignOut]
    throughput: ThroughputOut
    receipts: ReceiptsOut
    errors: list[ErrorLineOut] = Field(description="Each transport's last error, the newest first.")
    backlog: BacklogOut | None = Field(description="Webhook events not delivered yet; null: not known here.")


def throughput_out(series: list[tuple[float, int, int]]) -> ThroughputOut:
    complete = series[-1 - RATE_SECONDS : -1]  # the current second is still filling
    return ThroughputOut(
        start=series[0][0] if series else time.time(),
        sent=[s for _, s, _ in series],
        receipts=[r for _, _, r in series],
        sent_per_second=sum(s for _, s, _ in complete) / RATE_SECONDS,
    )


async def build_state(
    gateway: Gateway, *, key: str, backlog: BacklogSource | None = None, campaigns: int = CAMPAIGNS
) -> DashboardOut:
    health = gateway.health()
    errors = sorted(
        (
            ErrorLineOut(transport=h.name, at=h.last_error_at, error=out)
            for h in health
            if (out := from_error(h.last_error)) is not None
        ),
        key=lambda line: line.at or 0.0,
        reverse=True,
    )
    events = await backlog() if backlog is not None else None
    return DashboardOut(
        generated_at=time.time(),
        key=key,
        transports=[from_health(h) for h in health],
        campaigns=[from_view(v) for v in await gateway.campaigns(campaigns)],
        throughput=throughput_out(list(gateway.throughput())),
        receipts=ReceiptsOut(
            matched=sum(h.receipts_matched for h in health), parked=sum(h.receipts_parked for h in health)
        ),
        errors=errors,
        backlog=(
            BacklogOut(
                pending=events.pending, failed=events.failed, oldest_pending_at=events.oldest_pending_at
            )
            if events is not None
            else None
        ),
    )
