"""How a request-by-request link is doing: the ``health()`` rule of the HTTP providers.

An SMPP transport knows its link from its binds. A transport that makes one
request at a time (an HTTP provider) has no bind: all it
knows is how its last requests went. :class:`LinkState` keeps that, fed by the
transport around each request it makes (retries included), and turns it into
a :class:`~msgbridge.adapters.base.LinkHealth`:

- ``in_flight``: requests started and not yet finished.
- ``up``: the transport is not closed and not *down*. It is down after
  ``DOWN_AFTER`` requests in a row that got no usable answer (NETWORK_ERROR,
  TIMEOUT, an HTTP 5xx), or at once after an answer that refuses our
  credentials or account (AUTH_FAILED, ACCOUNT_BLOCKED). It is up again on
  the next answer that is neither (any answer of the provider, a refusal of
  one message included: the link works), or ``DOWN_FOR`` seconds after the
  last such failure when no request has failed since: a link nobody uses is
  not known to be down, and a service whose only transport it is must not
  stay unready because its queue is empty (one more failure then puts it
  down again at once).
- ``throttled``: a THROTTLED answer (HTTP 429, a provider's rate-limit code)
  came, and neither its Retry-After (``THROTTLE_HOLD`` seconds when it gives
  none) nor a pause the transport takes for it has passed, and no answer
  that is not THROTTLED has come since.
- ``throttle_events``: THROTTLED answers since the transport was created.
- ``last_error``: why it is down or throttled now (None while it is
  neither), at most ``TEXT_LIMIT`` characters, with every credential the
  transport holds and every secret-looking parameter or header replaced by
  ``***``: a provider's error page may echo the request, key and all.

Which answer is which is decided by the adapters' own classification (the
ErrorCode they already map every failure to); this module only counts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

from msgbridge.adapters.base import LinkHealth
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.redaction import REDACTED, redact_text

# Requests in a row without a usable answer after which the link is down.
DOWN_AFTER = 3
# Seconds a down link stays down without another failure.
DOWN_FOR = 60.0
# Seconds a THROTTLED answer without Retry-After counts as throttling.
THROTTLE_HOLD = 10.0
# Longest last_error text.
TEXT_LIMIT = 200

# Answers that say the link cannot be used with these credentials, whatever is sent.
REFUSALS: frozenset[ErrorCode] = frozenset({ErrorCode.AUTH_FAILED, ErrorCode.ACCOUNT_BLOCKED})


def scrubber(credentials: Callable[[], Iterable[str]]) -> Callable[[str], str]:
    """A function that hides ``credentials()`` (read anew each time: a token changes) in a text.

    Each value is hidden as sent, percent-encoded and JSON-escaped (the forms a
    query, a form body and a JSON body carry), then :func:`redact_text` hides
    secret-looking parameters, auth headers and every secret this process parsed.
    """

    def scrub(text: str) -> str:
        forms: set[str] = set()
        for value in credentials():
            if value:
                forms.update(
                    {value, quote(value, safe=""), quote_plus(value, safe=""), json.dumps(value)[1:-1]}
                )
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, REDACTED)
        return redact_text(text)

    return scrub


class LinkState:
    """The counters behind a request-by-request transport's ``health()``; see the module docstring."""

    def __init__(
        self, scrub: Callable[[str], str] = redact_text, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.scrub = scrub
        self.clock = clock
        self.closed = False
        self.in_flight = 0
        self.failures = 0  # requests in a row without a usable answer
        # The answer that refused the credentials or account, until an answer says otherwise.
        self.refusal: ErrorInfo | None = None
        self.failed_at = 0.0
        self.throttled_until = 0.0
        self.throttle_events = 0
        self._problem: str | None = None  # last_error while down or throttled

    @contextmanager
    def request(self) -> Iterator[None]:
        """Counts one request in flight for as long as the block runs (cancelled or not)."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def outcome(self, error: ErrorInfo | None, *, answered: bool) -> None:
        """One request ended: ``answered`` when the peer gave a usable answer, ``error`` how it failed if it did.

        No usable answer counts towards DOWN_AFTER; an answer resets that count and, unless it refuses
        the credentials or throttles us, ends a refusal and a throttle.
        """
        now = self.clock()
        if not answered:
            self.failures += 1
            self.failed_at = now
            if error is not None:
                self._note(error)
            return
        self.failures = 0
        if error is None or (error.code not in REFUSALS and error.code is not ErrorCode.THROTTLED):
            self.refusal = None
            self.throttled_until = 0.0
            return
        self.said(error)

    def said(self, error: ErrorInfo) -> None:
        """What the peer said in an answer already counted by :meth:`outcome` (a provider's code in a body):
        a refusal of the credentials or account puts the link down, a rate limit is a throttle event;
        anything else changes nothing."""
        now = self.clock()
        if error.code in REFUSALS:
            self.refusal = error
            self.failed_at = now
            self._note(error)
        elif error.code is ErrorCode.THROTTLED:
            self.throttle_events += 1
            hold = error.retry_after if error.retry_after is not None else THROTTLE_HOLD
            self.throttled_until = max(self.throttled_until, now + hold)
            self._note(error)

    def pausing(self, seconds: float) -> None:
        """The transport waits ``seconds`` before asking again after a THROTTLED answer: throttled meanwhile."""
        self.throttled_until = max(self.throttled_until, self.clock() + seconds)

    def _note(self, error: ErrorInfo) -> None:
        text = self.scrub(str(error))
        self._problem = text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"

    def down(self) -> bool:
        """Refused, or DOWN_AFTER requests in a row unanswered, within DOWN_FOR seconds of the last failure."""
        if self.refusal is None and self.failures < DOWN_AFTER:
            return False
        return self.clock() - self.failed_at < DOWN_FOR

    def throttled(self) -> bool:
        return self.clock() < self.throttled_until

    def health(self) -> LinkHealth:
        """The link now, as ``ReportsHealth.health()`` returns it."""
        down = self.down()
        throttled = self.throttled()
        return LinkHealth(
            up=not self.closed and not down,
            in_flight=self.in_flight,
            throttled=throttled,
            throttle_events=self.throttle_events,
            last_error=self._problem if down or throttled else None,
        )
