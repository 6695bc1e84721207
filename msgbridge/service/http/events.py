"""``GET /v1/events``: the stored status and inbound events in commit order, for a receiver catching up.

A receiver that was down pages from the last cursor it kept and reads each event exactly as the callback
would have posted it (``webhooks.payload.event_json``), so it handles both with one parser and dedupes both
on ``event_id``. The cursor follows commit order (``Store.events_page``): paging on never skips an event
committed meanwhile.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from msgbridge.service.apikeys import ApiKey
from msgbridge.service.http.auth import api_key
from msgbridge.service.http.errors import ERRORS
from msgbridge.service.http.models import MAX_PAGE, EventPage
from msgbridge.service.http.state import service
from msgbridge.webhooks.payload import event_json

router = APIRouter(tags=["events"], responses=ERRORS)


@router.get("/v1/events", response_class=JSONResponse, responses={200: {"model": EventPage}})
async def events(
    request: Request,
    cursor: int | None = Query(default=None, ge=0, le=2**62),
    limit: int = Query(default=100, ge=1, le=MAX_PAGE),
    message_id: str | None = Query(default=None, min_length=1, max_length=128),
    key: ApiKey = Depends(api_key),
) -> JSONResponse:
    """Events after ``cursor`` (none: from the first), oldest first; ``message_id``: that message's only."""
    page = await service(request).gateway.events_page(cursor, limit, message_id=message_id)
    following = page[-1].n if page else (cursor or 0)
    return JSONResponse({"events": [event_json(e) for e in page], "next_cursor": following})
