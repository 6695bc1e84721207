"""Exit codes of ``send`` and ``campaign run``: what a script needs to know without parsing the output.

The code is decided from the store, over the whole campaign (not only what
this run did): a re-run after a crash that leaves messages in doubt must not
say "success" because this run itself had nothing to do. Precedence, first
match wins: bad input, then in doubt (it needs a decision: settle or resend),
then nothing accepted, then partly refused, then success.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum

from msgbridge.core.status import DeliveryStatus


class ExitCode(IntEnum):
    OK = 0  # every message accepted by the provider, none reported undelivered
    SOME_REFUSED = 1  # some accepted; others refused or undelivered, skipped as bad rows, or still queued
    BAD_INPUT = 2  # nothing queued: command line, URL, CSV or template is wrong (or --strict found a bad row)
    IN_DOUBT = 3  # some messages may or may not have been sent (MAYBE_SUBMITTED); see docs/reliability.md
    NOTHING_SENT = 4  # no message accepted and none in doubt: all refused, all skipped, or the peer unusable
    INTERRUPTED = 130  # Ctrl-C


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused or undelivered"
    IN_DOUBT = "in doubt"
    UNSENT = "not sent yet"


# What each stored status says about the hand-over. A receipt that says "not delivered" (UNDELIVERABLE,
# EXPIRED, DELETED) counts with the refusals: the provider took the message, but the recipient did not get it,
# and that is what a script checking the exit code after --wait-receipts wants to know.
OUTCOMES: dict[DeliveryStatus, Outcome] = {
    DeliveryStatus.QUEUED: Outcome.UNSENT,
    DeliveryStatus.SUBMITTED: Outcome.ACCEPTED,
    DeliveryStatus.MAYBE_SUBMITTED: Outcome.IN_DOUBT,
    DeliveryStatus.ACCEPTED: Outcome.ACCEPTED,
    DeliveryStatus.DELIVERED: Outcome.ACCEPTED,
    DeliveryStatus.PARTIALLY_DELIVERED: Outcome.ACCEPTED,
    DeliveryStatus.UNDELIVERABLE: Outcome.REFUSED,
    DeliveryStatus.REJECTED: Outcome.REFUSED,
    DeliveryStatus.EXPIRED: Outcome.REFUSED,
    DeliveryStatus.DELETED: Outcome.REFUSED,
    DeliveryStatus.CANCELED: Outcome.REFUSED,
    DeliveryStatus.FAILED: Outcome.REFUSED,
    DeliveryStatus.UNKNOWN: Outcome.ACCEPTED,
}


def tally(counts: Mapping[DeliveryStatus, int]) -> dict[Outcome, int]:
    """Messages by outcome (every outcome present, zero or not)."""
    out = dict.fromkeys(Outcome, 0)
    for status, n in counts.items():
        out[OUTCOMES[status]] += n
    return out


def exit_code(counts: Mapping[DeliveryStatus, int], *, skipped: int = 0, elsewhere: int = 0) -> ExitCode:
    """The exit code for a campaign (or one message) whose messages are in ``counts``.

    ``skipped`` is the bad rows that never became messages. ``elsewhere`` is
    the QUEUED ones another live run of the campaign has claimed: not unsent
    (that run sends them), not settled either, so like in-doubt ones they say
    "look before you send again" (3), never "some were refused" (1).
    """
    by = tally(counts)
    if by[Outcome.IN_DOUBT] or elsewhere:
        return ExitCode.IN_DOUBT
    if not by[Outcome.ACCEPTED]:
        return ExitCode.NOTHING_SENT
    if by[Outcome.REFUSED] or by[Outcome.UNSENT] or skipped:
        return ExitCode.SOME_REFUSED
    return ExitCode.OK
