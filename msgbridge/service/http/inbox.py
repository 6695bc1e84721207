"""``GET /v1/inbox``: mobile-originated messages, oldest first, a page at a time."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from msgbridge.service.apikeys import ApiKey
from msgbridge.service.http.auth import api_key
from msgbridge.service.http.errors import ERRORS
from msgbridge.service.http.models import MAX_PAGE, InboxPage, from_inbound
from msgbridge.service.http.state import service

router = APIRouter(tags=["inbox"], responses=ERRORS)


@router.get("/v1/inbox", response_model=InboxPage)
async def inbox(
    request: Request,
    cursor: int | None = Query(default=None, ge=0, le=2**62),
    limit: int = Query(default=100, ge=1, le=MAX_PAGE),
    key: ApiKey = Depends(api_key),
) -> InboxPage:
    """MO messages received through any transport (``next_cursor`` continues; null: no more yet)."""
    messages, following = await service(request).gateway.inbox(after=cursor, limit=limit)
    return InboxPage(messages=[from_inbound(m) for m in messages], next_cursor=following)
