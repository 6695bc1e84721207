"""Transports: one per way of reaching a network, chosen by URL scheme."""

from __future__ import annotations

from msgbridge.adapters.base import (
    Capabilities,
    InboundMessages,
    ProviderCampaignResult,
    ProviderCampaigns,
    ReceiptPush,
    ReferenceLookup,
    StatusPolling,
    Transport,
    open_transport,
    registry,
)

__all__ = [
    "Capabilities",
    "InboundMessages",
    "ProviderCampaignResult",
    "ProviderCampaigns",
    "ReceiptPush",
    "ReferenceLookup",
    "StatusPolling",
    "Transport",
    "open_transport",
    "registry",
]
