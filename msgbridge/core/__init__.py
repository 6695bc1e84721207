"""The protocol-agnostic model every transport speaks."""

from __future__ import annotations

from msgbridge.core.errors import (
    ConfigError,
    ErrorCode,
    ErrorInfo,
    InvalidDestination,
    MessagingError,
    TemplateError,
    UnsupportedFeature,
)
from msgbridge.core.message import (
    Campaign,
    Channel,
    DeliveryReceipt,
    InboundMessage,
    Message,
    Recipient,
    SendResult,
)
from msgbridge.core.status import DeliveryStatus, aggregate, merge

__all__ = [
    "Campaign",
    "Channel",
    "ConfigError",
    "DeliveryReceipt",
    "DeliveryStatus",
    "ErrorCode",
    "ErrorInfo",
    "InboundMessage",
    "InvalidDestination",
    "Message",
    "MessagingError",
    "Recipient",
    "SendResult",
    "TemplateError",
    "UnsupportedFeature",
    "aggregate",
    "merge",
]
