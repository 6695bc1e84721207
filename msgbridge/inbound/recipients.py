"""``RCPT TO`` addresses -> phone numbers, or the SMTP refusal that keeps us from being an open relay.

Only ``<digits>@<our domain>`` (with an optional ``+`` and the separators
people type: ``- . space``) is a recipient; every other address is refused
at RCPT time, so no mail for anyone else is ever accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from msgbridge.core.errors import MessagingError
from msgbridge.core.phone import normalize

RELAY_DENIED = "550 5.7.1 Relaying denied"
BAD_SYNTAX = "553 5.1.3 Bad destination mailbox address syntax"
BAD_NUMBER = "550 5.1.1 Bad destination mailbox address"
COUNTRY_DENIED = "550 5.7.1 Destination country not allowed"
SEPARATORS = str.maketrans("", "", "-. ()")


@dataclass(frozen=True)
class Refused:
    """An address we will not take, with the reply that says why."""

    reply: str


def country_of(e164: str) -> str | None:
    """ISO country code of a number (``KZ``), or None when the numbering plan does not say."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None
    return str(region) if region and region != "ZZ" else None


def phone_for(
    address: str,
    domains: frozenset[str],
    default_region: str | None = None,
    countries: frozenset[str] = frozenset(),
) -> str | Refused:
    """The E.164 number ``address`` names, or why it is refused; ``countries`` (if any) limits destinations."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or domain.lower().rstrip(".") not in domains:
        return Refused(RELAY_DENIED)
    plus = local.startswith("+")
    digits = local[1:] if plus else local
    digits = digits.translate(SEPARATORS)
    if not digits.isascii() or not digits.isdigit():
        return Refused(BAD_SYNTAX)
    if not 8 <= len(digits) <= 15:
        return Refused(BAD_NUMBER)
    try:
        phone = normalize(("+" if plus or default_region is None else "") + digits, default_region)
    except MessagingError:
        return Refused(BAD_NUMBER)
    if countries and country_of(phone) not in countries:
        return Refused(COUNTRY_DENIED)
    return phone
