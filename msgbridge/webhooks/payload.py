"""An event as JSON: the one shape both ``GET /v1/events`` and the webhook worker's ``json`` format send.

Written once, so a receiver that catches up by cursor after an outage reads exactly what the callbacks
would have posted, field for field, and dedupes both on ``event_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from msgbridge.core.errors import ErrorInfo
from msgbridge.core.message import InboundMessage
from msgbridge.store.base import StoredEvent


def iso_utc(at: float) -> str:
    """``at`` (seconds since the epoch) as ISO 8601 in UTC, to the millisecond: ``2026-12-03T08:26:33.123Z``."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_json(error: ErrorInfo | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code.value, "native_code": error.native_code, "native_text": error.native_message}


def inbound_json(m: InboundMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "source": m.source,
        "destination": m.destination,
        "text": m.text,
        "link": m.link,
        "received_at": iso_utc(m.received_at),
        "parts": m.parts,
    }


def event_json(event: StoredEvent) -> dict[str, Any]:
    """The event's fields as the issue names them; ``inbound`` too for a ``message.inbound`` event.

    Nothing about its delivery (state, attempts, target) is in it: that is the sender's business, and a
    replayed event must read the same as the first time.
    """
    out: dict[str, Any] = {
        "event_id": event.id,
        "type": event.type,
        "message_id": event.message_id,
        "reference": event.reference,
        "campaign": event.campaign,
        "to": event.to,
        "status": event.status.value if event.status is not None else None,
        "native_status": event.native_status,
        "error": error_json(event.error),
        "segments": event.segments,
        "occurred_at": iso_utc(event.occurred_at),
    }
    if event.inbound is not None:
        out["inbound"] = inbound_json(event.inbound)
    return out
