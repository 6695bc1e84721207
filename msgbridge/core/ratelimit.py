"""Rate caps and retry delays shared by the dispatcher, transports, gateway and simulators."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass


class TokenBucket:
    """A token bucket that an asyncio task awaits before each send.

    ``rate`` tokens per second, at most ``burst`` saved up. Acquiring many
    tokens at once (a whole batch) is allowed and simply waits longer, so a
    batch of 1,000 at 500 TPS takes about two seconds whatever its shape.
    ``rate`` may be changed at run time (slow down on throttling, recover later).
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate / 10))
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_acquire(self, tokens: float = 1.0) -> bool:
        self._refill()
        if self._tokens >= tokens:
            self._tokens -= tokens
            return True
        return False

    async def acquire(self, tokens: float = 1.0) -> None:
        async with self._lock:
            self._refill()
            self._tokens -= tokens
            if self._tokens < 0:
                await asyncio.sleep(-self._tokens / self.rate)


# Longest wait a peer may ask of us (Retry-After and the like) before we give up instead of waiting:
# long enough for any per-minute quota, short enough that a `send` never blocks for days.
DEFAULT_MAX_RETRY_WAIT = 300.0


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, capped; ``retry_after`` from the peer wins when larger."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 60.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before retry number ``attempt`` (1 = first retry)."""
        raw = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        wait = random.uniform(raw / 2, raw) if self.jitter else raw
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait

    def delay_within(self, attempt: int, retry_after: float | None, limit: float) -> float | None:
        """The delay before retry ``attempt``, or None when the peer asks for a wait longer than ``limit``.

        A peer's ``Retry-After: 999999`` is a request to stop, not a plan: waiting it out would block
        a send for 11.6 days. The caller reports the refusal (naming the asked wait) instead; our own
        backoff is simply cut to ``limit``.
        """
        if retry_after is not None and retry_after > limit:
            return None
        return min(self.delay(attempt, retry_after), max(limit, retry_after or 0.0))


def describe_wait(seconds: float) -> str:
    """``999999`` -> ``"999999 s (11.6 days)"``: a wait a user can judge at a glance."""
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds:g} s ({seconds / size:.1f} {unit})"
    return f"{seconds:g} s"
