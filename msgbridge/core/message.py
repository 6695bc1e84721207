"""The messages, results and receipts every transport exchanges with the core.

Immutable pydantic models: a Message is written to the store before it is
sent, and nothing downstream may change it behind the store's back.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from msgbridge.core.errors import ErrorInfo
from msgbridge.core.status import DeliveryStatus


def new_id() -> str:
    """Our stable message id: time-ordered so store pages and logs sort by creation."""
    return f"{time.time_ns():x}{uuid.uuid4().hex[:12]}"


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=new_id)
    channel: Channel = Channel.SMS
    to: str
    sender: str | None = None
    text: str
    subject: str | None = None
    html: str | None = None
    validity: timedelta | None = None
    scheduled_at: datetime | None = None
    # The caller's id; also the idempotency key: one reference is sent once.
    reference: str | None = None
    campaign: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class Recipient(BaseModel):
    model_config = ConfigDict(frozen=True)

    phone: str
    fields: dict[str, str] = Field(default_factory=dict)
    row: int | None = None


class Campaign(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    template: str
    recipients: tuple[Recipient, ...] = ()
    sender: str | None = None
    transport: str | None = None
    scheduled_at: datetime | None = None
    options: dict[str, str] = Field(default_factory=dict)


class SendResult(BaseModel):
    """What the transport learnt from handing over one message.

    ``status`` is SUBMITTED (or ACCEPTED where the peer says so) on success,
    FAILED/REJECTED with ``error`` set on a definite refusal, and
    MAYBE_SUBMITTED when the request went out and no answer came back.
    ``native_ids`` holds one id per segment where the peer gives one each
    (SMPP); ``native_id`` is the id receipts will name for the whole message
    (the last segment's for SMPP, the provider's message id for HTTP).
    """

    model_config = ConfigDict(frozen=True)

    message_id: str
    status: DeliveryStatus
    native_id: str | None = None
    native_ids: tuple[str, ...] = ()
    segments: int = 1
    error: ErrorInfo | None = None
    warnings: tuple[str, ...] = ()
    raw: dict[str, object] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class DeliveryReceipt(BaseModel):
    """A status report about something we sent, pushed or polled."""

    model_config = ConfigDict(frozen=True)

    native_id: str
    status: DeliveryStatus
    native_status: str = ""
    error: ErrorInfo | None = None
    message_id: str | None = None
    # Which link it came from: native ids are only unique per provider/link.
    link: str = ""
    received_at: float = Field(default_factory=time.time)
    raw: dict[str, object] | None = None


class InboundMessage(BaseModel):
    """A mobile-originated message (or an inbound mail turned into one)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=new_id)
    source: str
    destination: str
    text: str
    link: str = ""
    received_at: float = Field(default_factory=time.time)
    parts: int = 1
    raw: dict[str, object] | None = None
