"""The ``Msgbridge-Signature`` header: HMAC-SHA256 over ``"<unix time>." + body``, and its check.

``t=1764720000,v1=5257a8...``: the time the request was signed and one ``v1`` value per secret. The time is
inside what is signed, so a receiver that refuses a header older than a few minutes (``tolerance``) refuses a
request an eavesdropper replays later, and the body cannot be moved under another time. Several ``v1``
values let a secret be rotated without a window where requests fail: the sender signs with the new and the
old secret while receivers move over, and a receiver accepts a header if any value matches any secret it
knows.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

from msgbridge.core.errors import ErrorCode, MessagingError

HEADER = "Msgbridge-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300.0  # seconds: how old (or how far ahead) a signature a receiver accepts by default

Secret = str | bytes
Secrets = Secret | Sequence[Secret]


class InvalidSignature(MessagingError):
    """A callback's signature is missing, malformed, made with another secret, or too old to trust."""

    default_code = ErrorCode.AUTH_FAILED


def _secrets(secret: Secrets) -> list[bytes]:
    items = [secret] if isinstance(secret, str | bytes) else list(secret)
    keys = [s.encode() if isinstance(s, str) else bytes(s) for s in items]
    if not keys or not all(keys):
        raise ValueError("a webhook secret must be a non-empty string or bytes")
    return keys


def _digest(body: bytes, key: bytes, timestamp: int) -> str:
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: Secrets, timestamp: int | float) -> str:
    """The header value for ``body`` sent at ``timestamp`` (unix seconds): ``t=<t>,v1=<hex>[,v1=<hex>]``.

    ``secret`` is one secret or several (rotation: one ``v1`` for each, in the order given).
    """
    t = int(timestamp)
    return ",".join([f"t={t}", *(f"{SCHEME}={_digest(body, key, t)}" for key in _secrets(secret))])


def _parse(header: str) -> tuple[int, list[str]]:
    stamp: int | None = None
    values: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise InvalidSignature(f"{HEADER} is malformed: {part.strip()[:40]!r} is not name=value")
        if name == "t":
            if not value.isdigit():
                raise InvalidSignature(f"{HEADER} is malformed: t={value[:20]!r} is not a unix time")
            stamp = int(value)
        elif name == SCHEME:
            values.append(value)
    if stamp is None:
        raise InvalidSignature(f"{HEADER} has no t= timestamp")
    if not values:
        raise InvalidSignature(f"{HEADER} has no {SCHEME}= signature")
    return stamp, values


def verify_signature(
    body: bytes,
    header: str | None,
    secret: Secrets,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Return if ``header`` signs ``body`` with ``secret`` (one or several) within ``tolerance`` seconds of
    ``now``; raise :class:`InvalidSignature` saying what is wrong otherwise.

    ``body`` must be the raw bytes received, before any JSON parsing: a re-encoded body does not match.
    """
    if not header:
        raise InvalidSignature(f"no {HEADER} header: the request is not signed")
    stamp, values = _parse(header)
    age = (time.time() if now is None else now) - stamp
    if abs(age) > tolerance:
        when = "old" if age > 0 else "ahead of this clock"
        raise InvalidSignature(
            f"{HEADER} is {abs(age):.0f} s {when}, beyond the {tolerance:g} s tolerance: a replay, or a clock off"
        )
    matched = False
    for key in _secrets(secret):
        expected = _digest(body, key, stamp)
        for value in values:
            matched |= hmac.compare_digest(expected, value)
    if not matched:
        raise InvalidSignature(f"{HEADER} does not match the body with this secret")
