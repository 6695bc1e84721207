"""A circuit breaker per receiver origin: stop calling a receiver that keeps failing, probe it now and then.

Without it a dead receiver costs every one of its events a full timeout on every retry, and those waits
hold worker slots. After ``failures`` consecutive failures the origin's circuit opens for ``cooldown``
seconds: its events are put back for later without a request. Once the cool-down is over one request goes
through (half-open, the probe); success closes the circuit, failure opens it for another cool-down. While
the probe is out, the origin's other events wait ``probe_wait`` seconds (about one request's timeout) and
look again.

A receiver's ``Retry-After`` pauses its whole origin (:meth:`Breaker.pause`): a receiver that says "slow
down" to one request means all of them.

Times are the caller's wall clock (the store's ``next_at`` is one); the breaker reads no clock itself.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_FAILURES = 5
DEFAULT_COOLDOWN = 30.0
DEFAULT_PROBE_WAIT = 10.0


@dataclass(slots=True)
class _Circuit:
    failures: int = 0  # consecutive
    open_until: float | None = None  # None: closed
    probing: bool = False  # the half-open probe is in flight


class Breaker:
    def __init__(
        self,
        *,
        failures: int = DEFAULT_FAILURES,
        cooldown: float = DEFAULT_COOLDOWN,
        probe_wait: float = DEFAULT_PROBE_WAIT,
    ) -> None:
        if failures < 1 or cooldown < 0 or probe_wait < 0:
            raise ValueError("breaker failures must be >= 1, cooldown and probe_wait >= 0")
        self.failures = failures
        self.cooldown = cooldown
        self.probe_wait = probe_wait
        self._circuits: dict[str, _Circuit] = {}
        self.opened = 0  # how many times a circuit opened, for stats and tests

    def blocked_until(self, origin: str, now: float) -> float | None:
        """None when a request to ``origin`` may go now (perhaps as the probe); else when to look again."""
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

    def succeeded(self, origin: str) -> None:
        self._circuits.pop(origin, None)  # closed circuits are not kept: an origin seen once costs nothing

    def failed(self, origin: str, now: float) -> None:
        circuit = self._circuits.setdefault(origin, _Circuit())
        circuit.failures += 1
        if circuit.probing or circuit.failures >= self.failures:
            if circuit.open_until is None:
                self.opened += 1
            circuit.open_until = now + self.cooldown
            circuit.probing = False

    def pause(self, origin: str, until: float) -> None:
        """The receiver asked for a wait (Retry-After): nothing goes to ``origin`` before ``until``."""
        circuit = self._circuits.setdefault(origin, _Circuit())
        circuit.open_until = max(circuit.open_until or 0.0, until)
        circuit.probing = False
