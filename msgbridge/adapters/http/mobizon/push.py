"""Mobizon's webhooks into receipts: ``POST /v1/providers/NAME/callback`` for a ``mobizon://`` transport.

Documented (Mobizon's webhook documentation, ``mobizon/mobizon-api-docs``):

- the account's webhook POSTs JSON ``{"eventId", "eventType": "sms-delivery-report", "eventCreateTs",
  "webhookId", "attempt", "data": {"campaignId", "messageId", "segNum", "statusUpdateTs", "status", "to"},
  "sign"}``, one event per whole message, final statuses only;
- ``sign = sha1(eventId|attempt|eventCreateTs|secretKey)``, checked by :func:`verify_webhook`;
- "A 2xx within 5 s acknowledges it"; otherwise up to 10 retries with the same ``eventId`` (we answer 200 ``OK``).

Our reading: ``secretKey`` is the webhook's secret from the account, given to us as the transport URL's
``push_secret``; an event of another ``eventType`` is acknowledged and ignored (a non-2xx would only make
Mobizon retry it ten times); ``eventId`` names the push, so a retry of one already recorded is answered
2xx and recorded no second time.
"""

from __future__ import annotations

from msgbridge.adapters.base import Transport
from msgbridge.adapters.http.mobizon.webhooks import receipt_from_webhook, verify_webhook
from msgbridge.adapters.pushes import Push, PushRefused, PushReply, PushRequest, push_secret

# "A 2xx within 5 s acknowledges it": what we answer once the receipt is stored.
ACK = PushReply(200, "OK", "text/plain")


class MobizonPushes:
    """The receiver of Mobizon's ``sms-delivery-report`` webhooks (see the module docstring)."""

    methods = frozenset({"POST"})

    def read(self, request: PushRequest, transport: Transport) -> Push:
        payload = request.json()
        if not verify_webhook(payload, push_secret(transport)):
            raise PushRefused(
                "the webhook's sign does not match (sha1 of eventId|attempt|eventCreateTs|secret)"
            )
        event_id = payload.get("eventId")
        receipt = receipt_from_webhook(payload, transport.link)
        return Push(
            receipts=(receipt,) if receipt is not None else (),
            push_id=f"{event_id}" if event_id not in (None, "") else None,
            reply=ACK,
        )


RECEIVER = MobizonPushes()
