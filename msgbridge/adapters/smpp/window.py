"""The submit_sm window of one bind: what is in flight, until when, and how much more may go.

Pure bookkeeping, no sockets and no clock of its own (every call that needs
the time takes ``now``), so its rules are tested directly
(tests/unit/smpp/test_window.py) and :class:`~msgbridge.adapters.smpp.session.Session`
only frames PDUs and reports outcomes. The shape follows cloudhopper-smpp's
``Window``: requests keyed by sequence number, offered when written,
completed by their response or expired past their deadline.

The rules (SMPP 3.4 §2.2-2.8 leave them to the ESME):
- at most ``effective`` submit_sm are unanswered; it starts at ``size``;
- an ESME_RTHROTTLED / ESME_RMSGQFUL answer halves ``effective`` (at least 1)
  and pauses writing, once per burst of such answers: ``pause`` seconds
  first, doubling per consecutive burst up to ``pause_cap``;
- after throttling, each window's worth of clean answers grows ``effective``
  back by one slot, and ends the streak of doubling pauses;
- a PDU unanswered past ``timeout``, or in flight when the link is lost, is
  given up (its outcome unknown); with ``late_of`` the window keeps a token
  for it (``late_of(entry)``), which takes the message_id if the answer
  comes late anyway.

What is *not* here: when to write or wait, the bucket and the hook
(:mod:`~msgbridge.adapters.smpp.pump`, one per bind), and framing
(:mod:`~msgbridge.adapters.smpp.session`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

E = TypeVar("E")  # what the owner keeps per PDU in flight
L = TypeVar("L")  # what it keeps per PDU given up, for a late answer

MAX_SEQ = 0x7FFFFFFF
LATE_KEPT = 100_000  # tokens for late answers kept at most, oldest forgotten first


class Window(Generic[E, L]):
    """In-flight PDUs by sequence number, their deadlines, the effective size, the pause, late tokens."""

    __slots__ = (
        "_clean",
        "_deadlines",
        "_late",
        "_streak",
        "effective",
        "inflight",
        "late_kept",
        "late_of",
        "pause",
        "pause_cap",
        "pause_until",
        "recovering",
        "size",
        "timeout",
    )

    def __init__(
        self,
        size: int,
        timeout: float,
        pause: float = 1.0,
        pause_cap: float = 30.0,
        late_kept: int = LATE_KEPT,
        late_of: Callable[[E], L] | None = None,
    ) -> None:
        self.size = max(1, size)
        self.effective = self.size
        self.timeout = timeout
        self.pause = pause
        self.pause_cap = pause_cap
        self.late_kept = late_kept
        self.late_of = late_of  # the token to keep for a given-up entry; None: keep none
        # Read by the owner's response path (``len``, membership); changed only through the methods here.
        self.inflight: dict[int, E] = {}
        self._deadlines: deque[tuple[float, int]] = deque()
        self._late: dict[int, L] = {}
        self.pause_until = 0.0
        self.recovering = False  # throttled lately: clean answers count towards regrowing
        self._streak = 0
        self._clean = 0

    def __len__(self) -> int:
        return len(self.inflight)

    # --- room ----------------------------------------------------------------

    def room(self, clock: Callable[[], float]) -> int:
        """How many more PDUs may be written now: 0 while paused or full.

        Takes the clock rather than the time: it is read only while a pause is
        set, as this runs after every batch of answers.
        """
        if self.pause_until and clock() < self.pause_until:
            return 0
        return self.effective - len(self.inflight)

    def pause_left(self, now: float) -> float:
        return max(0.0, self.pause_until - now)

    def reset(self) -> None:
        """A new bind starts with the full window (pause and streak carry over: the SMSC is the same)."""
        self.effective = self.size

    # --- offer / complete / expire -------------------------------------------

    def offer(self, written: dict[int, E], last_seq: int, now: float) -> None:
        """Take the PDUs of one write, by sequence number; they share one deadline, kept with ``last_seq``."""
        self.inflight.update(written)
        if self.pause_until and now >= self.pause_until:
            self.pause_until = 0.0
        self._deadlines.append((now + self.timeout, last_seq))

    def complete(self, seq: int) -> E | None:
        """The PDU a response answers, no longer in flight; None if it is not (unknown or given up)."""
        return self.inflight.pop(seq, None)

    def clean(self) -> None:
        """One clean answer while recovering: a window's worth of them ends the streak and grows the window."""
        self._clean += 1
        if self._clean >= self.effective:
            self._clean = 0
            self._streak = 0
            if self.effective < self.size:
                self.effective += 1
            else:
                self.recovering = False

    def throttled(self, now: float) -> float | None:
        """A throttle answer: shrink, and pause unless already paused; returns the new pause, if any."""
        self._clean = 0
        self.recovering = True
        self.effective = max(1, self.effective // 2)
        if now < self.pause_until:
            return None  # one pause per burst of throttled answers
        self._streak += 1
        pause: float = min(self.pause_cap, self.pause * float(2 ** (self._streak - 1)))
        self.pause_until = now + pause
        return pause

    def expire(self, now: float, current_seq: int) -> list[tuple[int, E]]:
        """Give up, and return, the PDUs whose write's deadline has passed; ``current_seq`` the last written."""
        deadlines = self._deadlines
        inflight = self.inflight
        expired: list[tuple[int, E]] = []
        while deadlines and deadlines[0][0] <= now:
            _, last_seq = deadlines.popleft()
            # every sequence written up to last_seq in that write shares its deadline
            for seq in [s for s in inflight if seq_before(s, last_seq, current_seq)]:
                expired.append((seq, inflight.pop(seq)))
        if expired and self.late_of is not None:
            for seq, entry in expired:
                self.keep_late(seq, self.late_of(entry))
        return expired

    def lose_all(self) -> dict[int, E]:
        """The link is gone: everything in flight, given up at once."""
        inflight, self.inflight = self.inflight, {}
        self._deadlines.clear()
        if self.late_of is not None:
            for seq, entry in inflight.items():
                self.keep_late(seq, self.late_of(entry))
        return inflight

    # --- late answers --------------------------------------------------------

    def keep_late(self, seq: int, token: L) -> None:
        """Remember a given-up PDU's token, so an answer that comes anyway still reaches its owner."""
        self._late[seq] = token
        if len(self._late) > self.late_kept:
            self._late.pop(next(iter(self._late)))

    def late(self, seq: int) -> L | None:
        """The token for a late answer to ``seq`` (once), or None when nothing was given up under it."""
        return self._late.pop(seq, None)


def seq_before(seq: int, last: int, current: int) -> bool:
    """Whether ``seq`` was written no later than ``last``, allowing for wrap-around at 2**31-1."""
    age = (current - seq) % MAX_SEQ
    last_age = (current - last) % MAX_SEQ
    return age >= last_age
