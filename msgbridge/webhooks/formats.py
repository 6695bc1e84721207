"""What a stored event becomes on the wire, per callback format: the request, or None when it is not wanted.

``FORMATS`` maps a :class:`~msgbridge.core.callbacks.CallbackTarget`'s ``format`` to its builder. A format
builds the whole request (method, URL, headers, body) so one that fills the event into the URL (Kannel's
``dlr-url``) and one that posts a signed JSON body go through the same worker, retries and breaker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
