"""A campaign's plan: what ``campaign run`` would queue, where it would go and what it would cost, unsent.

The plan reads the CSV with the run's own reader (:func:`msgbridge.dispatch.run.csv_rows`) and judges
the rows with the run's own :func:`~msgbridge.dispatch.campaign.judge_chunk`, in chunks of the run's
size, so a row is bad, a phone a repeat, and a text so many segments exactly when the run would say so.
Nothing is written to an outbox, no transport is opened, nothing is sent.

Each message then gets what routing would give it: the route (``RoutingConfig.route_for`` with
``--via auto``, the one named by ``route:NAME``, none with a plain transport), the transport that route
tries first (``candidates(...)[0]``), the destination's country, and the price per segment of that
transport for that number (``Prices.price``) times the segments. These are added up per route,
transport and country, with the encodings (:class:`~msgbridge.core.encodingreport.EncodingTally`) and,
on request, what transliteration would save. Memory holds counters and one chunk, never the recipients;
``recipients`` (an open text file) gets one CSV row per message as it is planned.

A phone repeated after its first line is a repeat as in the run: within a chunk ``judge_chunk`` finds it,
across chunks (where the run finds the earlier row by its outbox key) :class:`~msgbridge.dispatch.seen.SeenPhones`
does, at 16-64 bytes a phone and exact (the key is the number's digits). One limit of a plan without a store:

- A ``weighted`` route picks by a hash of the message id, and ids are made afresh by each pass: the plan's
  split between that route's transports is the weights' split, not the one message by message the run
  will make. Messages, segments and the per-route totals do not depend on it.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import IO

from msgbridge.core.encodingreport import EncodingTally, describe, explain
from msgbridge.core.errors import ConfigError
from msgbridge.core.message import Campaign, Message
from msgbridge.core.money import amount, format_micros
from msgbridge.core.phone import PhoneCheck
from msgbridge.core.template import check as check_template
from msgbridge.dispatch.campaign import (
    ENQUEUE_CHUNK,
    Judged,
    PrepareReport,
    ProblemSink,
    Row,
    RowRepeat,
    chunks,
    judge_chunk,
    message_of,
    transport_identity,
)
from msgbridge.dispatch.heap import fewer_collections
from msgbridge.dispatch.run import RunRequest, csv_rows, problem_sink
from msgbridge.dispatch.seen import SeenPhones
from msgbridge.routing import numbers
from msgbridge.routing.choose import candidates
from msgbridge.routing.config import Route, RoutingConfig, Strategy
from msgbridge.routing.open import routed_via
from msgbridge.routing.prices import Price
from msgbridge.routing.transport import AUTO

NO_ROUTE = ""  # the route of a message sent through a plain transport, or one no route matches
UNKNOWN_COUNTRY = "?"
RECIPIENT_COLUMNS = ("line", "phone", "country", "route", "transport", "encoding", "segments", "price", "currency")


@dataclass(frozen=True)
class PlanVia:
    """How ``--via`` sends each message: through the first matching route (``auto``), one named route
    (``route:NAME``), or one transport (a configured name, or a URL shown as ``label``)."""

    label: str
    routing: RoutingConfig
    route: Route | None = None
    auto: bool = False
    transport: str = ""  # the plain transport's name in the price tables ("" for a URL: unpriced)

    @property
    def routed(self) -> bool:
        return self.auto or self.route is not None

    def destination(self, message: Message) -> tuple[str, str]:
        """(route name, transport) of ``message``; ("", "") when no route matches it."""
        if not self.routed:
            return NO_ROUTE, self.transport or self.label
        route = self.route or self.routing.route_for(message)
        if route is None:
            return NO_ROUTE, ""
        return route.name, candidates(route, message, self.routing.prices)[0]

    def price(self, transport: str, e164: str) -> Price | None:
        """The price per segment on ``transport`` (as ``destination`` named it); None for a URL."""
        if not transport or not (self.routed or self.transport):
            return None
        return self.routing.prices.price(transport, e164)

    def expected_price(self, message: Message, segments: int) -> tuple[int, str] | None:
        """What ``campaign run`` records as the message's expected price (``RunRequest.price``): the price
        per segment of the transport it is planned on, times its segments; the plan adds up the same."""
        _, transport = self.destination(message)
        return total(self.price(transport, message.to), segments)


def total(per: Price | None, segments: int) -> tuple[int, str] | None:
    """(micros, currency) of ``segments`` segments at ``per`` each."""
    return (per.micros * segments, per.currency) if per is not None else None


# Most (leading digits, country) pairs whose decision a plan remembers: a price table of 7-digit prefixes
# could make millions, and past this bound a new pair is decided without being kept.
DECISIONS = 65_536


class Decisions:
    """Route, transport and price per segment of each message, remembered by what decides them.

    In one campaign every message has the same sender, campaign, channel and tags; only ``to`` differs.
    A route's match then depends on the number's leading digits (``prefixes``, as long as the longest),
    its country, and its number type; the ``failover`` and ``cheapest`` orders and a price table on the
    leading digits (``PriceTable.longest_prefix`` of them) and the country. So where no route matches on
    number types and none splits by weight (which hashes the message id), the answer for one message is
    the answer for every number with the same country and the same ``digits`` leading digits, and
    remembering it by that pair is exact. Otherwise every message is decided on its own.
    """

    def __init__(self, via: PlanVia) -> None:
        self.via = via
        routes = via.routing.routes if via.auto else (via.route,) if via.route is not None else ()
        cacheable = not any(
            r.match.number_types or (r.strategy is Strategy.WEIGHTED and len(r.transports) > 1) for r in routes
        )
        self.digits: int | None = None
        if cacheable:
            lengths = [len(p) for r in routes for p in r.match.prefixes]
            lengths += [t.longest_prefix for t in via.routing.prices.values()]
            self.digits = max(lengths, default=0)
        self.memo: dict[tuple[str, str | None], tuple[str, str, Price | None]] = {}

    def decide(self, campaign: Campaign, judged: Judged, country: str | None) -> tuple[str, str, Price | None]:
        """(route name, transport, price per segment) of the campaign's message for ``judged``, whose
        number is in ``country``. The message itself is made only when the memo does not answer."""
        return self._remembered(judged.to, country, lambda: message_of(campaign, judged))

    def expected_price(self, message: Message, segments: int) -> tuple[int, str] | None:
        """``PlanVia.expected_price`` for the messages of one campaign (``RunRequest.price``), remembered as
        the plan remembers it: the same answer, without routing and pricing every message anew."""
        to = message.to
        country = numbers.country(to) if self.digits is not None else None
        _, _, per = self._remembered(to, country, lambda: message)
        return total(per, segments)

    def _remembered(
        self, to: str, country: str | None, message: Callable[[], Message]
    ) -> tuple[str, str, Price | None]:
        if self.digits is None:
            return self._decide(message())
        key = (to[1 : 1 + self.digits], country)
        got = self.memo.get(key)
        if got is None:
            got = self._decide(message())
            if len(self.memo) < DECISIONS:
                self.memo[key] = got
        return got

    def _decide(self, message: Message) -> tuple[str, str, Price | None]:
        route, transport = self.via.destination(message)
        return route, transport, self.via.price(transport, message.to)


def plan_via(via: str | None, routing: RoutingConfig, transports: Iterable[str]) -> PlanVia:
    """``--via`` as the plan reads it (``auto`` and ``route:NAME`` as ``open_via`` reads them); ConfigError
    for an unknown route or transport name.

    Without ``--via``: ``auto`` when routes are configured, else no transport at all (the plan then has
    rows, segments and encodings, without prices).
    """
    names = {t.lower() for t in transports}
    if via is None:
        return PlanVia(AUTO, routing, auto=True) if routing.routes else PlanVia("", routing)
    routed, route = routed_via(via)
    if routed and route is not None:
        return PlanVia(via, routing, route=routing.route(route))
    if routed:
        if not routing.routes:
            raise ConfigError("--via auto needs routes ([[routes]] in msgbridge.toml); none are configured")
        return PlanVia(via, routing, auto=True)
    if "://" in via:
        return PlanVia(transport_identity(via) or via, routing)
    if via.lower() not in names:
        shown = ", ".join(sorted(names)) or "none configured"
        raise ConfigError(f"unknown transport name {via!r} (configured: {shown})")
    return PlanVia(via, routing, transport=via.lower())


@dataclass
class GroupTally:
    """Messages of one (route, transport, country): how many, their segments, their price per currency."""

    messages: int = 0
    segments: int = 0
    price: Counter[str] = field(default_factory=Counter)  # currency -> micros
    unpriced: int = 0  # messages whose transport has no price for the number


@dataclass
class CampaignPlan:
    """What the plan found. ``report`` is the run's own report (rows, bad rows and repeats with their lines,
    ``queued``: the messages the run would queue, their segments and encodings)."""

    campaign: str
    via: str
    report: PrepareReport
    groups: dict[tuple[str, str, str], GroupTally] = field(default_factory=dict)
    encodings: EncodingTally = field(default_factory=EncodingTally)
    transliterate: bool = False
    saving: Counter[str] = field(default_factory=Counter)  # currency -> micros transliteration would save
    unrouted: int = 0  # messages no route matches (the run cannot send them)

    @property
    def price(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for group in self.groups.values():
            total.update(group.price)
        return total

    @property
    def unpriced(self) -> int:
        return sum(g.unpriced for g in self.groups.values())

    def to_json(self) -> dict[str, object]:
        report, enc = self.report, self.encodings
        return {
            "campaign": self.campaign,
            "via": self.via,
            "rows": report.rows,
            "messages": report.queued,
            "segments": report.segments,
            "skipped": [
                {"line": p.line, "phone": p.phone, "code": p.code.value, "reason": p.reason} for p in report.problems
            ],
            "skipped_total": report.skipped,
            "repeated": [{"line": r.line, "first_line": r.first_line, "phone": r.phone} for r in report.repeats],
            "repeated_total": report.repeated,
            "unrouted": self.unrouted,
            "groups": [
                {
                    "route": route,
                    "transport": transport,
                    "country": country,
                    "messages": g.messages,
                    "segments": g.segments,
                    "price_micros": dict(sorted(g.price.items())),
                    "unpriced": g.unpriced,
                }
                for (route, transport, country), g in sorted(self.groups.items())
            ],
            "price_micros": dict(sorted(self.price.items())),
            "price": [format_micros(m, c) for c, m in sorted(self.price.items())],
            "unpriced": self.unpriced,
            "encodings": {
                e.value: {"messages": n, "segments": enc.segments[e]} for e, n in sorted(enc.messages.items())
            },
            "forcing": [
                {
                    "char": ch,
                    "code": f"U+{ord(ch):04X}",
                    "shown": describe(ch),
                    "rows": cost.rows,
                    "alone": cost.alone,
                    "segments": cost.segments,
                    "gsm_segments": cost.gsm_segments,
                }
                for ch, cost in enc.costliest()
            ],
            "forcing_groups": [
                {
                    "group": group,
                    "chars": "".join(enc.members(group)),
                    "rows": cost.rows,
                    "alone": cost.alone,
                    "segments": cost.segments,
                    "gsm_segments": cost.gsm_segments,
                }
                for group, cost in enc.costliest(grouped=True)
            ],
            "transliterated": {
                "rows": enc.transliterated_rows,
                "to_gsm7": enc.transliterated_to_gsm,
                "segments": enc.transliterated_segments,
                "segments_saved": enc.total_segments - enc.transliterated_segments,
                "saving_micros": dict(sorted(self.saving.items())),
                "saving": [format_micros(m, c) for c, m in sorted(self.saving.items())],
            }
            if self.transliterate
            else None,
            "prepare_seconds": round(report.seconds, 3),
        }


class _Planner:
    """The per-message part of a plan: one call per message the run would queue."""

    def __init__(self, campaign: Campaign, plan: CampaignPlan, via: PlanVia, recipients: IO[str] | None) -> None:
        self.campaign = campaign
        self.plan = plan
        self.via = via
        self.decisions = Decisions(via)
        self.writer = csv.writer(recipients) if recipients is not None else None
        if self.writer is not None:
            self.writer.writerow(RECIPIENT_COLUMNS)

    def add(self, judged: Judged) -> None:
        plan = self.plan
        to, measured, line = judged.to, judged.measured, judged.line
        region = numbers.country(to)
        route, transport, per = self.decisions.decide(self.campaign, judged, region)
        if not transport and self.via.routed:
            plan.unrouted += 1
        country = region or UNKNOWN_COUNTRY
        key = (route, transport, country)
        group = plan.groups.get(key)
        if group is None:
            group = plan.groups[key] = GroupTally()
        segments = measured.segments
        group.messages += 1
        group.segments += segments
        priced = total(per, segments)
        if priced is None:
            group.unpriced += 1
        else:
            group.price[priced[1]] += priced[0]
        facts = explain(judged.text, measured)
        plan.encodings.add(facts)
        if plan.transliterate and per is not None and facts.transliterated != segments:
            plan.saving[per.currency] += per.micros * (segments - facts.transliterated)
        if self.writer is not None:
            self.writer.writerow(
                (
                    line if line is not None else "",
                    to,
                    country,
                    route,
                    transport,
                    measured.encoding.value,
                    segments,
                    amount(priced[0]) if priced is not None else "",
                    priced[1] if priced is not None else "",
                )
            )


def plan_campaign(
    request: RunRequest,
    via: PlanVia,
    *,
    transliterate: bool = False,
    recipients: IO[str] | None = None,
) -> CampaignPlan:
    """Plan ``request`` as ``campaign run`` would prepare it; bad input raises ConfigError as the run does.

    ``request.problems_path`` gets every bad row and repeat, as the run writes them.
    """
    check_template(request.template)
    with ExitStack() as files:
        files.enter_context(fewer_collections())  # as the run prepares (heap.py)
        rows = files.enter_context(csv_rows(request))
        return plan_rows(
            request.campaign(),
            rows,
            via,
            region=request.region,
            phone_check=request.phone_check,
            transliterate=transliterate,
            recipients=recipients,
            sink=problem_sink(files, request.problems_path),
        )


def plan_rows(
    campaign: Campaign,
    rows: Iterable[Row],
    via: PlanVia,
    *,
    region: str | None = None,
    phone_check: PhoneCheck = PhoneCheck.STRICT,
    transliterate: bool = False,
    recipients: IO[str] | None = None,
    sink: ProblemSink | None = None,
) -> CampaignPlan:
    """Plan a campaign's rows from any source (a CSV, an API caller's recipients), chunk by chunk as
    ``write_rows`` builds them."""
    report = PrepareReport(campaign=campaign.name, sink=sink)
    plan = CampaignPlan(campaign=campaign.name, via=via.label, report=report, transliterate=transliterate)
    planner = _Planner(campaign, plan, via, recipients)
    seen = SeenPhones()
    started = time.monotonic()
    for chunk in chunks(rows, ENQUEUE_CHUNK):
        judged, problems, repeats = judge_chunk(campaign, chunk, region=region, phone_check=phone_check)
        report.rows += len(chunk)
        for problem in problems:
            report.add_problem(problem)
        for repeat in repeats:
            report.add_repeat(repeat)
        for one in judged:
            earlier = seen.first(one.to, one.line)
            if earlier is not None:
                report.add_repeat(RowRepeat(one.line, None if earlier < 0 else earlier, one.to))
                continue
            report.queued += 1
            report.segments += one.measured.segments
            report.encodings[one.measured.encoding.value] += 1
            planner.add(one)
    report.seconds = time.monotonic() - started
    report.done = True
    return plan
