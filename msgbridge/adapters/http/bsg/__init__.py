"""BSG one-api: the provider's public names.

- ``payload.py``: the tables, request builders, answer parsers and :class:`BsgPayload`;
- ``client.py``: URL options, the bearer token and how a call is made;
- ``groups.py``: campaigns to Contact Book groups;
- ``campaigns.py``: run, stop and read provider campaigns;
- ``transport.py``: :class:`BsgTransport`, the ``bsg://`` transport.
"""

from __future__ import annotations

from msgbridge.adapters.http.bsg.campaigns import detail_request, stop_request
from msgbridge.adapters.http.bsg.client import login_request, refresh_request, token_expiry
from msgbridge.adapters.http.bsg.groups import groups_request
from msgbridge.adapters.http.bsg.payload import (
    CAMPAIGN_STATUSES,
    ERRORS,
    FIELD_ERRORS,
    HTTP_ERRORS,
    STATUSES,
    TEXT_RULES,
    BsgConfig,
    BsgPayload,
    error_of,
    failed_indexes,
    map_status,
    message_reference,
    messages_request,
    parse_campaign,
    parse_messages,
    reference_id,
    send_payload,
    send_request,
    validate,
)
from msgbridge.adapters.http.bsg.transport import BsgTransport
from msgbridge.core.errors import ErrorInfo

__all__ = [
    "CAMPAIGN_STATUSES",
    "ERRORS",
    "FIELD_ERRORS",
    "HTTP_ERRORS",
    "STATUSES",
    "TEXT_RULES",
    "BsgConfig",
    "BsgPayload",
    "BsgTransport",
    "ErrorInfo",
    "detail_request",
    "error_of",
    "failed_indexes",
    "groups_request",
    "login_request",
    "map_status",
    "message_reference",
    "messages_request",
    "parse_campaign",
    "parse_messages",
    "reference_id",
    "refresh_request",
    "send_payload",
    "send_request",
    "stop_request",
    "token_expiry",
    "validate",
]
