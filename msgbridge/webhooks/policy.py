"""When a failed delivery is tried again, and when msgbridge stops trying.

What an answer means is a table (:data:`VERDICTS`), not a chain of ifs:

- any 2xx: delivered;
- 410 Gone: the receiver says the URL is gone for good, so the event is given up at once (``failed``);
- everything else (3xx, other 4xx, 5xx, no answer at all): tried again. A 400, 401 or 404 from a receiver is
  nearly always its own deploy or configuration mistake (a route not mounted, a secret not rolled out)
  that is fixed within hours, and giving up would lose every event sent meanwhile; the 24 hours of retries
  are what carries an event across such a mistake. Redirects are not followed (the target could be an
  address a callback may not reach), so a 301 is a failure too, until the URL is corrected.

Retries back off exponentially with full jitter (a delay drawn from 0 to ``base * 2**(attempt - 1)``, at
most ``cap``), so the events a receiver's outage held back come back spread out rather than all at once.
A 429 or 503 with ``Retry-After`` (seconds or an HTTP date) is honoured as given instead. An event is
given up once ``max_age`` has passed since it occurred: the last try is made at that moment, not skipped.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_MAX_AGE = 24 * 3600.0
DEFAULT_BASE = 1.0
DEFAULT_CAP = 600.0
RETRY_AFTER_STATUSES: frozenset[int] = frozenset({429, 503})


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"


# HTTP statuses whose verdict is not "retry"; any 2xx is delivered (see verdict()).
VERDICTS: Mapping[int, Verdict] = {410: Verdict.GONE}


def verdict(status: int | None) -> Verdict:
    """What the answer ``status`` (None: no answer) means for the event."""
    if status is not None and 200 <= status < 300:
        return Verdict.DELIVERED
    return VERDICTS.get(status, Verdict.RETRY) if status is not None else Verdict.RETRY


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff and the age after which an event is given up (``[webhooks] max_age``)."""

    max_age: float = DEFAULT_MAX_AGE
    base: float = DEFAULT_BASE
    cap: float = DEFAULT_CAP

    def backoff(self, attempts: int, rng: random.Random | None = None) -> float:
        """The wait after the ``attempts``-th failed try (1: the first): full jitter under the exponential."""
        ceiling = min(self.cap, self.base * 2.0 ** min(max(0, attempts - 1), 64))
        return (rng or random).uniform(0.0, ceiling)

    def next_try(
        self,
        *,
        attempts: int,
        occurred_at: float,
        now: float,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """When to try again after the ``attempts``-th failure at ``now``, or None: give the event up.

        ``retry_after`` is the receiver's own wait, honoured as given; when it reaches past ``max_age`` the
        receiver has asked for more than is left, and the event is given up rather than tried early.
        """
        deadline = occurred_at + self.max_age
        if now >= deadline:
            return None
        if retry_after is not None:
            at = now + max(0.0, retry_after)
            return at if at <= deadline else None
        return min(now + self.backoff(attempts, rng), deadline)
