"""What the simulator counts and records, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple


@dataclass
class SmscStats:
    """Counters; ``cpu_seconds`` is this process's CPU time since the simulator was created."""

    connections: int = 0
    binds: int = 0
    bind_failures: int = 0
    unbinds: int = 0
    submit_sm: int = 0
    submit_sm_ok: int = 0
    throttled: int = 0
    queue_full: int = 0
    rejected_bind_state: int = 0
    dropped: int = 0
    late: int = 0
    receipts_sent: int = 0
    receipts_pending: int = 0
    redelivered: int = 0
    deliver_sm_resp: int = 0
    deliver_sm_refused: int = 0
    enquire_link: int = 0
    enquire_link_sent: int = 0
    enquire_link_resp: int = 0
    query_sm: int = 0
    malformed_sent: int = 0
    malformed_received: int = 0
    generic_nack_sent: int = 0
    generic_nack_received: int = 0
    unknown_commands: int = 0
    mo_sent: int = 0
    cpu_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class Submitted(NamedTuple):
    """One accepted submit_sm, as :attr:`SmscSimulator.submitted` reports it."""

    system_id: str
    message_id: str
    destination: str
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]
