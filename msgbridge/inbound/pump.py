"""Sends what the gateway queued: a lane (:mod:`msgbridge.service.lane`) for the ``smtp:`` origin.

The gateway answers 250 once the SMS are in the store; from there the usual
dispatcher takes over (claims, TPS cap, retries with backoff, settling
messages a killed run left in doubt), so mail-borne SMS get exactly the same
guarantees as any other. On start the pump sends whatever an earlier run
left queued, which is how a gateway killed right after a 250 still delivers.

It sends only what a gateway queued (idempotency keys ``smtp:...``): every
command shares ``./msgbridge.db`` by default, and a campaign stopped by Ctrl-C
or a ``send`` that failed belongs to its own command, to be resumed or retried
there, never sent by a gateway started later with another ``--via``.
"""

from __future__ import annotations

from msgbridge.adapters.base import Transport
from msgbridge.service.lane import Lane
from msgbridge.store.base import Store

# The idempotency-key prefix of every SMS the gateway queues (see GatewayHandler): what the pump owns.
ORIGIN = "smtp:"


class DispatchPump(Lane):
    """The SMTP gateway's lane: origin ``smtp:``, no MO loop (the gateway takes mail, not SMS, in)."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        *,
        tps: float | None = None,
        concurrency: int = 4,
        idle: float = 5.0,
        receipts: bool = True,
    ) -> None:
        super().__init__(
            store,
            transport,
            origin=ORIGIN,
            name="smtp-gateway",
            tps=tps,
            concurrency=concurrency,
            idle=idle,
            receipts=receipts,
        )
