"""The SMPP front's ``msgbridge_smpp_front_*`` metric families, read from its counters at scrape time.

A collector of its own, registered only when ``serve`` runs a front, so an API without one shows no empty
front families. As :class:`~msgbridge.service.metrics.GatewayCollector`, it reads plain counters the
front keeps (:class:`~msgbridge.service.contract.FrontHealth`); the one store query, the receipts held
for the front, is made (async) just before the scrape. Label values are account names (system_id), bind
types, throttle reasons and command_status values: nothing secret, and bounded by the accounts file.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from msgbridge.service.contract import FrontMonitor, Gateway
from msgbridge.service.validation import FRONT_FORMAT

PREFIX = "msgbridge_smpp_front_"


def command_status(status: int) -> str:
    """A command_status as SMPP tools print it (0x00000058)."""
    return f"0x{status:08X}"


class FrontCollector(Collector):
    def __init__(self, gateway: Gateway, front: FrontMonitor) -> None:
        self.gateway = gateway
        self.front = front
        self.held = 0

    async def refresh(self) -> None:
        self.held = (await self.gateway.event_backlog(formats=(FRONT_FORMAT,))).pending

    def describe(self) -> Iterator[Metric]:
        yield from self._families(filled=False)

    def collect(self) -> Iterator[Metric]:
        yield from self._families(filled=True)

    def _families(self, *, filled: bool) -> Iterator[Metric]:
        """Every family; ``filled`` from the front's counters (describe asks for the empty families)."""
        h = self.front.health() if filled else None

        def gauge(name: str, text: str, labels: list[str] | None = None) -> GaugeMetricFamily:
            return GaugeMetricFamily(PREFIX + name, text, labels=labels)

        def counter(name: str, text: str, labels: list[str] | None = None) -> CounterMetricFamily:
            return CounterMetricFamily(PREFIX + name, text, labels=labels)

        sessions = gauge("sessions", "SMPP connections open to the front, bound or not.")
        binds = gauge(
            "binds", "Binds up now, by account and bind type (tx, rx, trx).", ["account", "bind_type"]
        )
        bind_failures = counter("bind_failures", "Binds refused (wrong password, unknown account, limits).")
        submitted = counter(
            "submits_accepted", "Messages submitted and committed to the outbox.", ["account"]
        )
        throttled = counter(
            "submits_throttled",
            "Submits answered ESME_RTHROTTLED, by reason (tps, window).",
            ["account", "reason"],
        )
        refused = counter("submits_refused", "Other refused submits, by command_status.", ["command_status"])
        held = gauge("receipts_held", "Receipt events pending in the store for the front's accounts.")
        sent = counter("receipts_sent", "deliver_sm receipts written (resends included).")
        acked = counter("receipts_acked", "deliver_sm receipts answered deliver_sm_resp OK.")
        waiting = gauge("receipts_waiting", "deliver_sm receipts written and not answered yet.")
        mo = counter("mo_delivered", "MO messages delivered to an account's receiver (deliver_sm_resp OK).")
        slow = counter("slow_readers_dropped", "Receivers dropped for not reading what was written.")
        if h is not None:
            sessions.add_metric([], h.sessions)
            for account, by_type in sorted(h.binds.items()):
                for bind_type, n in sorted(by_type.items()):
                    binds.add_metric([account, bind_type], n)
            bind_failures.add_metric([], h.bind_failures)
            for account, n in sorted(h.submitted.items()):
                submitted.add_metric([account], n)
            for account, by_reason in sorted(h.throttled.items()):
                for reason, n in sorted(by_reason.items()):
                    throttled.add_metric([account, reason], n)
            for status, n in sorted(h.refused.items()):
                refused.add_metric([command_status(status)], n)
            held.add_metric([], self.held)
            sent.add_metric([], h.receipts_sent)
            acked.add_metric([], h.receipts_acked)
            waiting.add_metric([], h.receipts_waiting)
            mo.add_metric([], h.mo_delivered)
            slow.add_metric([], h.slow_readers_dropped)
        yield from (
            sessions,
            binds,
            bind_failures,
            submitted,
            throttled,
            refused,
            held,
            sent,
            acked,
            waiting,
            slow,
        )
