"""SMSC.ru HTTP API (``https://smsc.ru/sys/{send,status,balance,phones}.php``): the provider's public names.

- ``tables.py``: error codes, statuses, reply columns and limits;
- ``replies.py``: replies in any ``fmt`` read to one shape;
- ``payload.py``: request builders, reply parsers and :class:`SmscPayload`;
- ``client.py``: URL options, credentials, backup hosts and how a call is made;
- ``contacts.py``: contacts and groups (``phones.php``);
- ``transport.py``: :class:`SmscTransport`, the ``smsc://`` transport.
"""

from __future__ import annotations

from msgbridge.adapters.http.smsc.contacts import ContactResult, contacts_request, parse_contacts
from msgbridge.adapters.http.smsc.payload import (
    SmscConfig,
    SmscPayload,
    _post,
    balance_request,
    format_time,
    format_validity,
    native_id,
    parse_balance,
    parse_send,
    parse_status,
    plan_batches,
    receipt_from_row,
    send_params,
    send_request,
    split_native_id,
    status_request,
)
from msgbridge.adapters.http.smsc.replies import SmscReply, error_info, parse_reply
from msgbridge.adapters.http.smsc.tables import (
    CONTACT_ERRORS,
    DELIVERY_ERRORS,
    ERRORS,
    STATUS_ERRORS,
    STATUSES,
)
from msgbridge.adapters.http.smsc.transport import SmscTransport
from msgbridge.core.url import Secret

__all__ = [
    "CONTACT_ERRORS",
    "DELIVERY_ERRORS",
    "ERRORS",
    "STATUSES",
    "STATUS_ERRORS",
    "ContactResult",
    "Secret",
    "SmscConfig",
    "SmscPayload",
    "SmscReply",
    "SmscTransport",
    "_post",
    "balance_request",
    "contacts_request",
    "error_info",
    "format_time",
    "format_validity",
    "native_id",
    "parse_balance",
    "parse_contacts",
    "parse_reply",
    "parse_send",
    "parse_status",
    "plan_batches",
    "receipt_from_row",
    "send_params",
    "send_request",
    "split_native_id",
    "status_request",
]
