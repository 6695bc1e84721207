"""Delivery status and the one rule that merges receipts.

Receipts arrive late, twice and out of order (an SMSC may send DELIVRD before
the ENROUTE it queued earlier, a poll may race a push). The store calls
:func:`merge` for every one of them, so the recorded status only ever moves
forward and a final status is never undone, except where a provider documents
that one final status is later replaced by another.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class DeliveryStatus(StrEnum):
    QUEUED = "QUEUED"
    SUBMITTED = "SUBMITTED"
    MAYBE_SUBMITTED = "MAYBE_SUBMITTED"
    ACCEPTED = "ACCEPTED"
    DELIVERED = "DELIVERED"
    PARTIALLY_DELIVERED = "PARTIALLY_DELIVERED"
    UNDELIVERABLE = "UNDELIVERABLE"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_final(self) -> bool:
        return self in FINAL

    @property
    def is_success(self) -> bool:
        return self is DeliveryStatus.DELIVERED


# Handed over, no final word yet: what a status poller asks about and collect_receipts waits on.
AWAITING_RECEIPT: frozenset[DeliveryStatus] = frozenset(
    {DeliveryStatus.SUBMITTED, DeliveryStatus.ACCEPTED, DeliveryStatus.UNKNOWN}
)

FINAL: frozenset[DeliveryStatus] = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.PARTIALLY_DELIVERED,
        DeliveryStatus.UNDELIVERABLE,
        DeliveryStatus.REJECTED,
        DeliveryStatus.EXPIRED,
        DeliveryStatus.DELETED,
        DeliveryStatus.CANCELED,
        DeliveryStatus.FAILED,
    }
)

# Progress among non-final statuses. UNKNOWN ("the provider does not know
# yet") ranks above a bare submit but below anything the network confirmed.
# MAYBE_SUBMITTED ranks below SUBMITTED: a later answer that the message was
# in fact submitted resolves the doubt.
RANK: dict[DeliveryStatus, int] = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.MAYBE_SUBMITTED: 1,
    DeliveryStatus.SUBMITTED: 2,
    DeliveryStatus.UNKNOWN: 3,
    DeliveryStatus.ACCEPTED: 4,
}

# The only documented final -> final replacements:
# - PARTIALLY_DELIVERED: Mobizon's PDLIVRD "later takes the first segment's
#   status when its lifetime expires"; an SMPP long message whose remaining
#   segments report late likewise settles to DELIVERED.
# - CANCELED -> DELIVERED: a stop request races messages already handed to the
#   network (BSG "stop" cancels only unsent messages); delivery is a fact.
FINAL_REPLACEMENTS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.PARTIALLY_DELIVERED: frozenset(
        {
            DeliveryStatus.DELIVERED,
            DeliveryStatus.UNDELIVERABLE,
            DeliveryStatus.EXPIRED,
            DeliveryStatus.REJECTED,
            DeliveryStatus.DELETED,
        }
    ),
    DeliveryStatus.CANCELED: frozenset({DeliveryStatus.DELIVERED}),
}


def merge(current: DeliveryStatus, incoming: DeliveryStatus) -> DeliveryStatus:
    """Return the status to record when ``incoming`` is reported for a message at ``current``."""
    if current.is_final:
        if incoming in FINAL_REPLACEMENTS.get(current, frozenset()):
            return incoming
        return current
    if incoming.is_final:
        return incoming
    return incoming if RANK[incoming] > RANK[current] else current


def aggregate(segments: Iterable[DeliveryStatus]) -> DeliveryStatus:
    """The status of a long message from the statuses of its segments.

    Each SMPP segment gets its own message_id and its own receipt. The message
    is DELIVERED when every segment is, PARTIALLY_DELIVERED when all are final
    and some but not all were delivered, the first failure when none was, and
    otherwise the least advanced non-final status (still on its way).
    """
    parts = list(segments)
    if not parts:
        return DeliveryStatus.QUEUED
    if all(s.is_final for s in parts):
        if all(s is DeliveryStatus.DELIVERED for s in parts):
            return DeliveryStatus.DELIVERED
        if any(s is DeliveryStatus.DELIVERED or s is DeliveryStatus.PARTIALLY_DELIVERED for s in parts):
            return DeliveryStatus.PARTIALLY_DELIVERED
        return next(s for s in parts if s is not DeliveryStatus.DELIVERED)
    pending = [s for s in parts if not s.is_final]
    least = min(pending, key=lambda s: RANK[s])
    if any(s is DeliveryStatus.DELIVERED for s in parts):
        return merge(least, DeliveryStatus.ACCEPTED)
    return least
