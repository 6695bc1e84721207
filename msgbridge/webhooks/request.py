"""The shape every callback format builds: one HTTP request, and the Protocol a format meets.

Kept apart from the formats themselves so a format that lives with its front (Kannel's and Jasmin's
in :mod:`msgbridge.service.kannel.dlr`) and the worker that sends it share one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.store.base import MessageRecord, StoredEvent


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """What the worker sends: a format decides all of it, the worker only the retries."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


class CallbackFormat(Protocol):
    """A callback format: its name (a target's ``format``) and how an event becomes a request."""

    @property
    def name(self) -> str: ...

    @property
    def needs_message(self) -> bool:
        """True when the request reads the message row too (the worker loads it only then)."""
        ...

    def request(
        self, event: StoredEvent, message: MessageRecord | None, target: CallbackTarget, secret: bytes | None
    ) -> CallbackRequest | None:
        """The request for ``event`` to ``target``; None: this event is not wanted (a mask said no)."""
        ...
