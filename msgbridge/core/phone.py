"""Phone numbers in, E.164 out.

Every transport wants a different spelling (with or without ``+``, with a
national prefix, digits only); the core keeps one canonical E.164 form and
adapters derive theirs from it.
"""

from __future__ import annotations

import phonenumbers

from msgbridge.core.errors import InvalidDestination


def normalize(raw: str, default_region: str | None = None) -> str:
    """Return ``raw`` as E.164 (``+77011234567``) or raise :class:`InvalidDestination` naming it."""
    text = (raw or "").strip()
    if not text:
        raise InvalidDestination("empty phone number")
    candidate = text
    if default_region is None and not text.startswith("+"):
        digits = "".join(ch for ch in text if ch.isdigit())
        if text.startswith("00"):
            digits = digits[2:]
        candidate = "+" + digits
    try:
        parsed = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidDestination(f"invalid phone number {raw!r}: {exc}") from exc
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise InvalidDestination(f"invalid phone number {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def digits(e164: str) -> str:
    """The international digits without ``+``: what most HTTP APIs and SMPP TON=1 want."""
    return e164.lstrip("+")
