"""Mobizon HTTP API (``https://api.mobizon.{tld}/service/{module}/{method}``): the provider's public names.

- ``tables.py``: answer codes, per-recipient codes, statuses and limits;
- ``payload.py``: request builders, the ``{"code", "data", "message"}`` envelope and :class:`MobizonPayload`;
- ``client.py``: URL options, the account's regional server and how a call is made;
- ``campaigns.py``: provider campaigns and background tasks;
- ``links.py``: short links;
- ``webhooks.py``: webhook signatures and delivery reports;
- ``transport.py``: :class:`MobizonTransport`, the ``mobizon://`` transport.
"""

from __future__ import annotations

from msgbridge.adapters.http.mobizon.campaigns import (
    TaskState,
    parse_add_recipients,
    parse_task,
    template_fields,
)
from msgbridge.adapters.http.mobizon.payload import (
    Envelope,
    MobizonPayload,
    acceptable_domain,
    api_request,
    check_message,
    envelope_error,
    flatten,
    parse_envelope,
    parse_send,
    parse_status,
    receipt_from_item,
    send_params,
    status_params,
    wrong_server_domain,
)
from msgbridge.adapters.http.mobizon.tables import (
    ERRORS,
    FIELD_ERRORS,
    RECIPIENT_ERRORS,
    STATUS_ERRORS,
    STATUSES,
    TASK_STATUSES,
)
from msgbridge.adapters.http.mobizon.transport import MobizonTransport
from msgbridge.adapters.http.mobizon.webhooks import receipt_from_webhook, verify_webhook, webhook_signature

__all__ = [
    "ERRORS",
    "FIELD_ERRORS",
    "RECIPIENT_ERRORS",
    "STATUSES",
    "STATUS_ERRORS",
    "TASK_STATUSES",
    "Envelope",
    "MobizonPayload",
    "MobizonTransport",
    "TaskState",
    "acceptable_domain",
    "api_request",
    "check_message",
    "envelope_error",
    "flatten",
    "parse_add_recipients",
    "parse_envelope",
    "parse_send",
    "parse_status",
    "parse_task",
    "receipt_from_item",
    "receipt_from_webhook",
    "send_params",
    "status_params",
    "template_fields",
    "verify_webhook",
    "webhook_signature",
    "wrong_server_domain",
]
