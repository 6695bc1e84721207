"""``GET /metrics``: the gateway's counters in the Prometheus text format, read at scrape time.

The runtime already counts what matters per transport (:class:`~msgbridge.service.contract.TransportHealth`)
and the store knows the queue; a custom collector turns those into metric families when Prometheus
scrapes, so the hot path keeps its own plain counters and pays nothing for Prometheus. Only the HTTP
requests are counted here, by a middleware, labelled by the *route template*
(``/v1/messages/{message_id}``), never the raw path, so a scanner cannot grow the series without end.

Each app has its own :class:`CollectorRegistry`: several apps (tests, two instances in one process) never
share or collide on a series. No label value is a secret: transport names and statuses only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from msgbridge.core.status import DeliveryStatus
from msgbridge.service.contract import FrontMonitor, Gateway, TransportHealth
from msgbridge.service.front_metrics import FrontCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"  # the route label of a request no route took (404s of made-up paths)

# Request durations: an accept is a group commit (milliseconds); a campaign upload may take seconds.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Every metric family the gateway collector yields: name (without _total), type, help.
FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("msgbridge_messages", "counter", "Send results recorded by this process, by transport and status."),
    (
        "msgbridge_submit_latency_seconds",
        "histogram",
        "Seconds from handing a message to the transport to its answer.",
    ),
    ("msgbridge_window_in_flight", "gauge", "Requests written to the transport and not answered yet."),
    ("msgbridge_throttle_events", "counter", "Times the peer throttled us."),
    ("msgbridge_throttled", "gauge", "1 while the peer is throttling us."),
    ("msgbridge_receipts", "counter", "Delivery receipts by result: matched to a message, or parked."),
    ("msgbridge_transport_up", "gauge", "1 while the transport is open and usable (SMPP: a bind is up)."),
    ("msgbridge_binds_up", "gauge", "SMPP binds up."),
    ("msgbridge_queue_depth", "gauge", "Messages in the store by status (the whole store)."),
    ("msgbridge_circuit_state", "gauge", "A routed-to transport's circuit: 0 closed, 1 half-open, 2 open."),
    ("msgbridge_circuit_opened", "counter", "Times a routed-to transport's circuit opened."),
)
# msgbridge_circuit_state's values: alerting on ``> 0`` catches a circuit that is not closed.
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}


def _families() -> dict[str, Metric]:
    made: dict[str, Metric] = {}
    for name, kind, text in FAMILIES:
        labels = ["status"] if name == "msgbridge_queue_depth" else ["transport"]
        if name == "msgbridge_messages":
            labels = ["transport", "status"]
        elif name == "msgbridge_receipts":
            labels = ["transport", "result"]
        if kind == "counter":
            made[name] = CounterMetricFamily(name, text, labels=labels)
        elif kind == "gauge":
            made[name] = GaugeMetricFamily(name, text, labels=labels)
        else:
            made[name] = HistogramMetricFamily(name, text, labels=labels)
    return made


class GatewayCollector(Collector):
    """Reads ``gateway.health()`` when scraped; the queue depth is fetched (async) just before."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.depth: Mapping[DeliveryStatus, int] = {}

    async def refresh(self) -> None:
        self.depth = await self.gateway.queue_depth()

    def describe(self) -> Iterator[Metric]:
        yield from _families().values()

    def collect(self) -> Iterator[Metric]:
        made = _families()
        for health in self.gateway.health():
            self._transport(made, health)
        depth = made["msgbridge_queue_depth"]
        assert isinstance(depth, GaugeMetricFamily)
        for status in DeliveryStatus:
            depth.add_metric([status.value], self.depth.get(status, 0))
        yield from made.values()

    @staticmethod
    def _transport(made: dict[str, Metric], h: TransportHealth) -> None:
        def add(name: str, labels: list[str], value: float) -> None:
            family = made[name]
            assert isinstance(family, CounterMetricFamily | GaugeMetricFamily)
            family.add_metric(labels, value)

        for status, n in h.sent.items():
            add("msgbridge_messages", [h.name, status.value], n)
        add("msgbridge_window_in_flight", [h.name], h.in_flight)
        add("msgbridge_throttle_events", [h.name], h.throttle_events)
        add("msgbridge_throttled", [h.name], 1 if h.throttled else 0)
        add("msgbridge_receipts", [h.name, "matched"], h.receipts_matched)
        add("msgbridge_receipts", [h.name, "parked"], h.receipts_parked)
        add("msgbridge_transport_up", [h.name], 1 if h.up else 0)
        if h.binds_up is not None:
            add("msgbridge_binds_up", [h.name], h.binds_up)
        if h.circuit is not None:
            add("msgbridge_circuit_state", [h.name], CIRCUIT_STATES[h.circuit.state])
            add("msgbridge_circuit_opened", [h.name], h.circuit.opened)
        latency = h.submit_latency
        hist = made["msgbridge_submit_latency_seconds"]
        assert isinstance(hist, HistogramMetricFamily)
        buckets = [(repr(float(b)), float(c)) for b, c in zip(latency.bounds, latency.counts, strict=True)]
        buckets.append(("+Inf", float(latency.total)))
        hist.add_metric([h.name], buckets, latency.sum)


class Metrics:
    """One app's registry: the gateway's families, the SMPP front's (with one) and the request counters."""

    def __init__(self, gateway: Gateway, front: FrontMonitor | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.gateway_collector = GatewayCollector(gateway)
        self.registry.register(self.gateway_collector)
        self.front_collector = FrontCollector(gateway, front) if front is not None else None
        if self.front_collector is not None:
            self.registry.register(self.front_collector)
        self.requests = Counter(
            "msgbridge_http_requests", "HTTP requests answered, by route and status code.",
            ["route", "code"], registry=self.registry,
        )  # fmt: skip
        self.duration = Histogram(
            "msgbridge_http_request_duration_seconds", "Seconds from a request's arrival to the end of its answer.",
            ["route"], buckets=REQUEST_BUCKETS, registry=self.registry,
        )  # fmt: skip

    async def render(self) -> bytes:
        await self.gateway_collector.refresh()
        if self.front_collector is not None:
            await self.front_collector.refresh()
        return generate_latest(self.registry)

    def observe(self, route: str, code: int, seconds: float) -> None:
        self.requests.labels(route, str(code)).inc()
        self.duration.labels(route).observe(seconds)


class RequestMetrics:
    """Outermost middleware: every answer is counted, the 500s, 413s and 503s of the inner layers too."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500

        async def tracking(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.observe(route, code, time.perf_counter() - started)
