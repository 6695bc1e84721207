"""Mobizon webhooks: the ``sign`` of an event, and the receipt in an ``sms-delivery-report``.

``sign`` is ``sha1(eventId|attempt|eventCreateTs|secretKey)`` (Mobizon's
webhook documentation); comparing it takes constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from msgbridge.adapters.http.mobizon.payload import receipt_from_item
from msgbridge.core.message import DeliveryReceipt


def webhook_signature(payload: Mapping[str, object], secret: str) -> str:
    """``sha1(eventId|attempt|eventCreateTs|secretKey)`` as the webhook's ``sign``."""
    base = "|".join(str(payload.get(k, "")) for k in ("eventId", "attempt", "eventCreateTs")) + "|" + secret
    return hashlib.sha1(base.encode("utf-8")).hexdigest()


def verify_webhook(payload: Mapping[str, object], secret: str) -> bool:
    sign = str(payload.get("sign", ""))
    return bool(sign) and hmac.compare_digest(sign.lower(), webhook_signature(payload, secret))


def receipt_from_webhook(payload: Mapping[str, object], link: str = "") -> DeliveryReceipt | None:
    """The receipt in an ``sms-delivery-report`` event (final statuses only); None for other events."""
    if payload.get("eventType") != "sms-delivery-report" or not isinstance(payload.get("data"), dict):
        return None
    data = payload["data"]
    assert isinstance(data, dict)
    return receipt_from_item({"id": data.get("messageId"), **data}, link)
