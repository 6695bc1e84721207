"""msgbridge: one model for SMS and email over SMPP, HTTP providers and SMTP.

``async with msgbridge.Client(via="smpp://...") as client: await client.send(to=..., text=...)``, or,
from a script without an event loop, ``msgbridge.send("smpp://...", to=..., text=...)``
(docs/python-api.md).
"""

from __future__ import annotations

from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.client import Client
from msgbridge.service.contract import Event, InvalidSubmission, Submission
from msgbridge.service.runtime import Runtime
from msgbridge.service.sync import send
from msgbridge.webhooks.signing import InvalidSignature, verify_signature

__version__ = "0.1.0"

__all__ = [
    "Client",
    "DeliveryReceipt",
    "DeliveryStatus",
    "ErrorCode",
    "Event",
    "InvalidSignature",
    "InvalidSubmission",
    "Message",
    "MessagingError",
    "Runtime",
    "SendResult",
    "Submission",
    "__version__",
    "send",
    "verify_signature",
]
