"""A circuit breaker per key: stop calling a peer that keeps failing, probe it now and then.

Two users key it differently: the webhook worker by receiver origin (scheme://host:port), a routed
transport (``msgbridge.routing.transport``) by child transport name. Without it a dead receiver costs
every one of its events a full timeout on every retry, and a dead SMSC costs every message a failed
attempt before it moves on to the next transport.

A circuit opens for ``cooldown`` seconds after ``failures`` consecutive failures, or, where
``error_rate`` is given, once at least ``min_calls`` calls within the last ``window`` seconds failed at
that rate or more (a peer that fails every other call never fails 5 in a row, yet is no better). While
it is open its key is skipped. Once the cool-down is over one call goes through (half-open, the probe);
success closes the circuit, failure opens it for another cool-down. While the probe is out, the key's
other calls wait ``probe_wait`` seconds and look again. A probe that was granted and never made (its
send was cancelled) is handed back with :meth:`Breaker.abandoned`, or the key would stay half-open.

A peer's ``Retry-After`` pauses its whole key (:meth:`Breaker.pause`): a receiver that says "slow down"
to one request means all of them.

States are named as health reports show them: ``closed``, ``open``, ``half_open``.

Times are the caller's clock (the webhook worker's wall clock, the store's ``next_at`` is one; a routed
transport's monotonic clock); the breaker reads no clock itself.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_FAILURES = 5
DEFAULT_COOLDOWN = 30.0
DEFAULT_PROBE_WAIT = 10.0


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"  # the cool-down is over: the next call is (or is out as) the probe


@dataclass(slots=True)
class _Circuit:
    failures: int = 0  # consecutive
    open_until: float | None = None  # None: closed
    probing: bool = False  # the half-open probe is in flight
    opened: int = 0  # times this circuit opened
    calls: deque[tuple[float, bool]] = field(default_factory=deque)  # (when, failed) within the window


@dataclass(frozen=True, slots=True)
class CircuitInfo:
    """One key's circuit as health and metrics show it."""

    name: str
    state: CircuitState
    failures: int  # consecutive
    opened: int  # times it opened
    open_until: float | None = None


class Breaker:
    def __init__(
        self,
        *,
        failures: int = DEFAULT_FAILURES,
        cooldown: float = DEFAULT_COOLDOWN,
        probe_wait: float = DEFAULT_PROBE_WAIT,
        error_rate: float | None = None,
        window: float = 30.0,
        min_calls: int = 20,
        keep_closed: bool = False,
    ) -> None:
        """``keep_closed``: keep a closed circuit's counters (a routed transport's few children, shown by
        health); without it a closed circuit is forgotten (a webhook origin seen once costs nothing).
        The error-rate rule needs the successes too, so it keeps them either way."""
        if failures < 1 or cooldown < 0 or probe_wait < 0:
            raise ValueError("breaker failures must be >= 1, cooldown and probe_wait >= 0")
        if error_rate is not None and not (0 < error_rate <= 1 and window > 0 and min_calls >= 1):
            raise ValueError("breaker error_rate must be in (0, 1], window > 0 and min_calls >= 1")
        self.failures = failures
        self.cooldown = cooldown
        self.probe_wait = probe_wait
        self.error_rate = error_rate
        self.window = window
        self.min_calls = min_calls
        self.keep_closed = keep_closed or error_rate is not None
        self._circuits: dict[str, _Circuit] = {}
        self.opened = 0  # how many times a circuit opened, for stats and tests

    def blocked_until(self, origin: str, now: float) -> float | None:
        """None when a call to ``origin`` may go now (perhaps as the probe); else when to look again."""
        circuit = self._circuits.get(origin)
        if circuit is None or circuit.open_until is None:
            return None
        if now < circuit.open_until:
            return circuit.open_until
        if circuit.probing:
            return now + self.probe_wait
        circuit.probing = True
        return None

    def open_until(self, origin: str) -> float | None:
        """When ``origin``'s open circuit (or pause) ends; None when closed. Looks only: grants no probe."""
        circuit = self._circuits.get(origin)
        return circuit.open_until if circuit is not None else None

    def is_open(self, origin: str) -> bool:
        circuit = self._circuits.get(origin)
        return circuit is not None and circuit.open_until is not None

    def state(self, origin: str, now: float) -> CircuitState:
        """Looks only: grants no probe."""
        circuit = self._circuits.get(origin)
        if circuit is None or circuit.open_until is None:
            return CircuitState.CLOSED
        return CircuitState.OPEN if now < circuit.open_until else CircuitState.HALF_OPEN

    def info(self, origin: str, now: float) -> CircuitInfo:
        circuit = self._circuits.get(origin) or _Circuit()
        return CircuitInfo(
            origin, self.state(origin, now), circuit.failures, circuit.opened, circuit.open_until
        )

    def succeeded(self, origin: str, now: float | None = None) -> None:
        """A call went through. ``now`` is needed by the error-rate rule (it counts successes too)."""
        if not self.keep_closed:
            self._circuits.pop(origin, None)
            return
        circuit = self._circuits.setdefault(origin, _Circuit())
        if circuit.open_until is not None:
            circuit.calls.clear()  # the probe closed it: the calls that opened it are history
        circuit.failures = 0
        circuit.open_until = None
        circuit.probing = False
        if self.error_rate is not None and now is not None:
            self._count(circuit, now, failed=False)

    def failed(self, origin: str, now: float) -> None:
        circuit = self._circuits.setdefault(origin, _Circuit())
        circuit.failures += 1
        too_often = self.error_rate is not None and self._count(circuit, now, failed=True)
        if circuit.probing or circuit.failures >= self.failures or too_often:
            if circuit.open_until is None:
                self.opened += 1
                circuit.opened += 1
            circuit.open_until = now + self.cooldown
            circuit.probing = False

    def abandoned(self, origin: str) -> None:
        """A granted probe was never made (the call was cancelled): the next call may probe."""
        circuit = self._circuits.get(origin)
        if circuit is not None:
            circuit.probing = False

    def pause(self, origin: str, until: float) -> None:
        """The peer asked for a wait (Retry-After): nothing goes to ``origin`` before ``until``."""
        circuit = self._circuits.setdefault(origin, _Circuit())
        circuit.open_until = max(circuit.open_until or 0.0, until)
        circuit.probing = False

    def _count(self, circuit: _Circuit, now: float, *, failed: bool) -> bool:
        """Record a call in the window; True when the window's failure share reaches ``error_rate``."""
        calls = circuit.calls
        calls.append((now, failed))
        while calls and calls[0][0] <= now - self.window:
            calls.popleft()
        if self.error_rate is None or len(calls) < self.min_calls:
            return False
        bad = sum(1 for _, f in calls if f)
        return bad >= self.error_rate * len(calls)
