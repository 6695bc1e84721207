"""Provider pushes: what a provider POSTs (or GETs) to us about messages we sent, read into receipts.

Where a provider documents a push of delivery statuses or inbound messages, ``msgbridge serve`` receives it
at ``/v1/providers/{transport}/callback``. The route knows nothing of any provider: it finds the receiver of
the named transport's scheme in :data:`RECEIVERS` (data, not a chain of ifs: a scheme absent from it has
no pushes, and its callback URL answers 404), hands it the request as it came, and records what comes back.

A receiver (one module per provider, ``adapters/http/<provider>/push.py``) does three things, all pure:
verify the push with the provider's own mechanism (a signature over the payload and a secret from the
transport URL's private ``push_secret`` option), map it through the provider's status table into
:class:`~msgbridge.core.message.DeliveryReceipt` / :class:`~msgbridge.core.message.InboundMessage`, and
say what the provider expects back. A push that does not verify raises :class:`PushRefused` and nothing
is recorded. The signature (or secret) is the only authentication of this route: a provider cannot send
an API key.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl

from msgbridge.adapters.base import Transport
from msgbridge.core import options as opt
from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.core.message import DeliveryReceipt, InboundMessage
from msgbridge.core.options import OptionSet

# The transport URL option holding the secret a provider's pushes are verified with, declared by each
# transport that takes pushes (private: hidden wherever the URL is shown, as a password is).
SECRET_OPTION = "push_secret"
PUSH_OPTIONS = OptionSet(
    opt.text(
        SECRET_OPTION,
        None,
        "the secret the provider's pushes to `/v1/providers/NAME/callback` are verified with; none: pushes refused",
        private=True,
    ),
)

# scheme -> the module attribute holding its receiver, imported on first use (as the transport registry).
RECEIVERS: dict[str, str] = {
    "mobizon": "msgbridge.adapters.http.mobizon.push:RECEIVER",
    "smsc": "msgbridge.adapters.http.smsc.push:RECEIVER",
}


class PushRefused(MessagingError):
    """A push that is not verified or cannot be read: answered ``status``, nothing recorded."""

    default_code = ErrorCode.AUTH_FAILED

    def __init__(self, message: str, *, status: int = 403, code: ErrorCode | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


@dataclass(frozen=True, slots=True)
class PushRequest:
    """One provider request as it arrived: the raw query string and body, decoded by the receiver.

    Raw because the provider picks the encoding (SMSC.ru sends windows-1251 unless its handler URL says
    ``charset=utf-8``): only the receiver knows how to read the bytes.
    """

    method: str
    query: bytes
    body: bytes
    content_type: str = ""

    def fields(self, encoding: str = "utf-8") -> dict[str, str]:
        """Query and body parameters as one mapping, the body's winning: a form, or a JSON object's scalars."""
        out = dict(parse_qsl(self.query.decode("latin-1"), keep_blank_values=True, encoding=encoding))
        out.update(self.body_fields(encoding))
        return out

    def body_fields(self, encoding: str = "utf-8") -> dict[str, str]:
        if not self.body:
            return {}
        if "json" in self.content_type or self.body.lstrip()[:1] == b"{":
            data = self.json(encoding)
            return {
                k: "" if v is None else str(v) for k, v in data.items() if not isinstance(v, (dict, list))
            }
        text = self.body.decode("latin-1")
        return dict(parse_qsl(text, keep_blank_values=True, encoding=encoding))

    def json(self, encoding: str = "utf-8") -> dict[str, object]:
        """The body as a JSON object; PushRefused (400) when it is not one."""
        try:
            data = json.loads(self.body.decode(encoding))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PushRefused(
                f"the body is not JSON: {exc}", status=400, code=ErrorCode.INVALID_ARGUMENT
            ) from None
        if not isinstance(data, dict):
            raise PushRefused("the body is not a JSON object", status=400, code=ErrorCode.INVALID_ARGUMENT)
        return data


@dataclass(frozen=True, slots=True)
class PushReply:
    """What the provider expects back once the push is recorded."""

    status: int = 200
    body: str = "OK"
    media_type: str = "text/plain"


@dataclass(frozen=True, slots=True)
class Push:
    """A verified push: what to record, and the provider's id of it (the same on its retries) if it has one."""

    receipts: tuple[DeliveryReceipt, ...] = ()
    inbound: tuple[InboundMessage, ...] = ()
    push_id: str | None = None
    reply: PushReply = field(default_factory=PushReply)


class PushReceiver(Protocol):
    """One provider's reading of its pushes (see the module docstring)."""

    methods: frozenset[str]  # the HTTP methods the provider pushes with

    def read(self, request: PushRequest, transport: Transport) -> Push:
        """The verified push; raises PushRefused when it does not verify or cannot be read."""
        ...


def receiver_for(scheme: str) -> PushReceiver | None:
    """The receiver of ``scheme``'s pushes, or None when that provider pushes nothing we read."""
    path = RECEIVERS.get(scheme)
    if path is None:
        return None
    module_name, _, attr = path.partition(":")
    found: PushReceiver = getattr(importlib.import_module(module_name), attr)
    return found


def push_secret(transport: Transport) -> str:
    """The transport URL's ``push_secret``; PushRefused (403) when none is configured: nothing to verify with."""
    secret = transport.settings.get_text(SECRET_OPTION) if SECRET_OPTION in transport.settings else None
    if not secret:
        raise PushRefused(
            f"pushes to this transport are not enabled: add {SECRET_OPTION}=... to its URL", status=403
        )
    return secret
