"""How ``campaign plan`` (and ``campaign run --dry-run``) prints a plan: a table per route, transport
and country, the encodings with the characters that forced UCS-2, and what transliteration would save.

The numbers come from :class:`msgbridge.dispatch.plan.CampaignPlan`; this module only lays them out.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from msgbridge.core.encoding import Encoding
from msgbridge.core.encodingreport import char_line
from msgbridge.core.money import format_micros
from msgbridge.core.terminal import markup, printable
from msgbridge.dispatch.plan import CampaignPlan

SHOW_CHARACTERS = 10
ENCODING_NAMES = {Encoding.GSM7: "GSM-7", Encoding.UCS2: "UCS-2", Encoding.LATIN1: "Latin-1"}


def money(amounts: Counter[str], unpriced: int = 0) -> str:
    """``12.34 EUR + 1.50 USD``; ``-`` for nothing priced, with ``(n unpriced)`` where some are not."""
    shown = " + ".join(format_micros(m, c) for c, m in sorted(amounts.items())) or "-"
    return shown + (f" ({unpriced:,} unpriced)" if unpriced and amounts else "")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def groups_table(plan: CampaignPlan) -> Table:
    table = Table(title=f"plan for campaign {markup(plan.campaign)}")
    for name, justify in (
        ("route", "left"),
        ("transport", "left"),
        ("country", "left"),
        ("messages", "right"),
        ("segments", "right"),
        ("price", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for (route, transport, country), group in sorted(plan.groups.items()):
        table.add_row(
            markup(route or "-"),
            markup(transport or "(no route)"),
            country,
            f"{group.messages:,}",
            f"{group.segments:,}",
            money(group.price, group.unpriced),
        )
    report = plan.report
    table.add_row(
        "total", "", "", f"{report.queued:,}", f"{report.segments:,}", money(plan.price, plan.unpriced), style="bold"
    )
    return table


def print_plan(plan: CampaignPlan, console: Console | None = None) -> None:
    console = console or Console()
    report, enc = plan.report, plan.encodings
    console.print(groups_table(plan))

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say(f"via {printable(plan.via or '(none)')}")
    repeated = f", {report.repeated:,} repeated in the file" if report.repeated else ""
    say(
        f"rows {report.rows:,}: {_plural(report.queued, 'message')} ({_plural(report.segments, 'segment')}), "
        f"{report.skipped:,} skipped{repeated}."
    )
    if plan.unrouted:
        say(f"{_plural(plan.unrouted, 'message')} match no route: the run cannot send them.")
    if enc.messages:
        say(
            "encodings: "
            + "; ".join(
                f"{ENCODING_NAMES[e]} {_plural(n, 'message')}, {_plural(enc.segments[e], 'segment')}"
                for e, n in sorted(enc.messages.items())
            )
            + "."
        )
    groups = enc.costliest(grouped=True)
    for group, cost in groups[:SHOW_CHARACTERS]:
        say(f"  {printable(char_line(group, cost, enc.members(group)))}")
    if len(groups) > SHOW_CHARACTERS:
        say(f"  ... and {len(groups) - SHOW_CHARACTERS:,} more (--json lists every character)")
    if plan.transliterate:
        before, after = enc.total_segments, enc.transliterated_segments
        # Longer replacements (``щ`` -> ``shch``, ``…`` -> ``...``) can add a segment where the text stays
        # UCS-2 or was near a limit: then it says "more".
        change = f"{before - after:,} fewer" if after <= before else f"{after - before:,} more"
        saving = "".join(
            f", {format_micros(abs(m), c)} {'less' if m > 0 else 'more'}"
            for c, m in sorted(plan.saving.items())
            if m
        )
        say(
            f"transliterated: {_plural(enc.transliterated_rows, 'row')} change, {enc.transliterated_to_gsm:,} of "
            f"them to GSM-7; {_plural(before, 'segment')} would be {after:,} ({change}{saving})."
        )
    say(f"planned in {report.seconds:.2f} s ({report.rate:,.0f} rows/s); nothing was sent or queued.")
