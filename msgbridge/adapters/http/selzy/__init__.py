"""Selzy (ex-Unisender) SMS API: the provider's public names.

- ``payload.py``: the tables, request builders, reply parsers and :class:`SelzyPayload`;
- ``client.py``: URL options and how a call is made;
- ``lists.py``: lists, contact fields and contact import;
- ``campaigns.py``: the provider's campaign objects and their stats;
- ``transport.py``: :class:`SelzyTransport`, the ``selzy://`` transport.
"""

from __future__ import annotations

from msgbridge.adapters.http.selzy.campaigns import (
    create_campaign_request,
    parse_delivery_stats,
    split_campaign_native_id,
)
from msgbridge.adapters.http.selzy.lists import import_request
from msgbridge.adapters.http.selzy.payload import (
    ERRORS,
    STATUSES,
    TEXT_RULES,
    SelzyConfig,
    SelzyPayload,
    api_request,
    check_request,
    error_of,
    map_error,
    map_status,
    parse_check,
    parse_send,
    send_request,
    validate,
    warnings_of,
)
from msgbridge.adapters.http.selzy.transport import SelzyTransport
from msgbridge.core.errors import ConfigError, ErrorInfo
from msgbridge.core.message import DeliveryReceipt

__all__ = [
    "ERRORS",
    "STATUSES",
    "TEXT_RULES",
    "ConfigError",
    "DeliveryReceipt",
    "ErrorInfo",
    "SelzyConfig",
    "SelzyPayload",
    "SelzyTransport",
    "api_request",
    "check_request",
    "create_campaign_request",
    "error_of",
    "import_request",
    "map_error",
    "map_status",
    "parse_check",
    "parse_delivery_stats",
    "parse_send",
    "send_request",
    "split_campaign_native_id",
    "validate",
    "warnings_of",
]
