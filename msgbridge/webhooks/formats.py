"""What a stored event becomes on the wire, per callback format: the request, or None when it is not wanted.

``FORMATS`` maps a :class:`~msgbridge.core.callbacks.CallbackTarget`'s ``format`` to its builder. A format
builds the whole request (method, URL, headers, body), so one that fills the event into the URL (Kannel's
``dlr-url``) and one that posts a signed JSON body go through the same worker, retries and breaker.

``json`` is msgbridge's own: the event as ``GET /v1/events`` shows it (``payload.event_json``), POSTed as
UTF-8 JSON and signed (``signing``): ``Msgbridge-Signature: t=<unix>,v1=<hex>``, one ``v1`` per secret
while a secret is being rotated. ``Msgbridge-Event-Id`` repeats the event id so a receiver can drop a
duplicate before it parses anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.service.kannel.dlr import JASMIN, KANNEL
from msgbridge.store.base import MessageRecord, StoredEvent
from msgbridge.webhooks.payload import event_json
from msgbridge.webhooks.request import CallbackFormat, CallbackRequest
from msgbridge.webhooks.signing import HEADER, sign

EVENT_ID_HEADER = "Msgbridge-Event-Id"
USER_AGENT = "msgbridge-webhooks/1"


class JsonFormat:
    """msgbridge's signed JSON event, POSTed (a target's ``method`` is for the URL-filling formats)."""

    name = "json"
    needs_message = False  # everything is in the event

    def request(
        self, event: StoredEvent, message: MessageRecord | None, target: CallbackTarget, secret: bytes | None
    ) -> CallbackRequest | None:
        return self.signed(event, target, (secret,) if secret else ())

    def signed(
        self,
        event: StoredEvent,
        target: CallbackTarget,
        secrets: Sequence[bytes],
        *,
        now: float | None = None,
    ) -> CallbackRequest:
        """The request signed with every one of ``secrets`` (none: unsigned)."""
        body = json.dumps(event_json(event), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, EVENT_ID_HEADER: event.id}
        if secrets:
            headers[HEADER] = sign(body, secrets, time.time() if now is None else now)
        return CallbackRequest("POST", target.url, headers, body)


JSON = JsonFormat()

FORMATS: dict[str, CallbackFormat] = {fmt.name: fmt for fmt in (JSON, KANNEL, JASMIN)}

__all__ = ["FORMATS", "JSON", "CallbackFormat", "CallbackRequest", "JsonFormat"]
