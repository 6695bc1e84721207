"""What one dispatcher counts: the CLI's progress bar, its summary and ``--json`` read these."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from msgbridge.core.errors import ErrorCode


@dataclass
class DispatchStats:
    """Counters for one dispatcher; the CLI's progress bar and summary read them."""

    claimed: int = 0
    submitted: int = 0
    failed: int = 0
    retried: int = 0
    in_doubt: int = 0  # left MAYBE_SUBMITTED by this run
    released: int = 0  # claimed, never written, given back to the queue (a stop, an error)
    interrupted: bool = False  # a stop was requested before everything was sent
    settled_sent: int = 0  # MAYBE_SUBMITTED found at the peer on start
    settled_unsent: int = 0  # MAYBE_SUBMITTED the peer never saw, queued again
    resent_maybe: int = 0  # MAYBE_SUBMITTED queued again because the user asked
    receipts: int = 0
    receipts_matched: int = 0
    batches: int = 0
    slowed: int = 0  # times the TPS cap was halved because the peer throttled
    errors: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    send_seconds: float = 0.0  # from the start until nothing was left to send

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def done(self) -> int:
        """Messages this run finished with (accepted, refused or left in doubt)."""
        return self.submitted + self.failed + self.in_doubt

    def count_error(self, code: ErrorCode) -> None:
        self.errors[code.value] = self.errors.get(code.value, 0) + 1


ProgressCallback = Callable[[DispatchStats], None]
