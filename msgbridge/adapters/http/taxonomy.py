"""One table across providers, rendered from the adapters' own mapping tables.

``python -m msgbridge.adapters.http.taxonomy > docs/http-taxonomy.md``

The documentation table is generated rather than written so that it cannot
drift from the code: each provider module's tables (ERRORS, STATUSES and the
secondary ones listed in SOURCES) are read, and every native code lands in
the row of the ErrorCode or DeliveryStatus it maps to. A module that cannot
be imported is shown as missing rather than breaking the page.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import ModuleType

from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import FINAL, DeliveryStatus

PROVIDERS: tuple[tuple[str, str], ...] = (
    ("selzy", "Selzy"),
    ("bsg", "BSG"),
    ("smsc", "SMSC.ru"),
    ("mobizon", "Mobizon"),
)


@dataclass(frozen=True)
class Source:
    """One table in a provider module and how its keys are spelled in the docs."""

    attribute: str
    label: str  # format string with {key}


# Error tables per provider, in the order they are listed in a cell.
ERROR_SOURCES: dict[str, tuple[Source, ...]] = {
    "selzy": (Source("ERRORS", "`{key}`"), Source("TEXT_RULES", "`{key[0]}` with text ~ `{key[1]}`")),
    "bsg": (
        Source("HTTP_ERRORS", "HTTP {key}"),
        Source("FIELD_ERRORS", "422 on `{key}`"),
        Source("TEXT_RULES", "422 `{key[0]}` ~ `{key[1]}`"),
        Source("ERRORS", "legacy {key}"),
    ),
    "smsc": (
        Source("ERRORS", "{key}"),
        Source("STATUS_ERRORS", "status.php {key}"),
        Source("CONTACT_ERRORS", "contacts {key}"),
        Source("DELIVERY_ERRORS", "status err {key}"),
    ),
    "mobizon": (
        Source("ERRORS", "{key}"),
        Source("FIELD_ERRORS", "1 on `{key}`"),
        Source("RECIPIENT_ERRORS", "item {key}"),
    ),
}

STATUS_SOURCES: dict[str, tuple[Source, ...]] = {
    "selzy": (Source("STATUSES", "`{key}`"),),
    "bsg": (Source("STATUSES", "`{key}`"),),
    "smsc": (Source("STATUSES", "{key}"),),
    "mobizon": (Source("STATUSES", "`{key}`"),),
}

# Failures of the HTTP exchange itself, shared by every provider (msgbridge.adapters.http.base).
TRANSPORT_LEVEL: dict[ErrorCode, str] = {
    ErrorCode.THROTTLED: "HTTP 429 whatever the body (Retry-After honoured up to max_retry_wait)",
    ErrorCode.TEMPORARY_FAILURE: "HTTP 5xx, HTML error page (after a send: MAYBE_SUBMITTED, BSG resends)",
    ErrorCode.PROTOCOL_ERROR: "unparsable, truncated, empty or over-nested body",
    ErrorCode.TIMEOUT: "no complete answer within `timeout`, connection dropped after sending (outcome unknown)",
    ErrorCode.NETWORK_ERROR: "connect refused / connect timeout (request never left)",
}


def load(provider: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"msgbridge.adapters.http.{provider}")
    except Exception:  # a broken or missing adapter must not hide the others
        return None


def _value(mapped: object) -> Enum | None:
    """Table values are an enum member, or a tuple whose first item is one."""
    if isinstance(mapped, tuple) and mapped and isinstance(mapped[0], Enum):
        return mapped[0]
    return mapped if isinstance(mapped, Enum) else None


def collect(
    modules: Mapping[str, ModuleType | None], sources: Mapping[str, tuple[Source, ...]]
) -> dict[str, dict[str, list[str]]]:
    """{our value: {provider: [native labels]}}."""
    out: dict[str, dict[str, list[str]]] = {}
    for provider, module in modules.items():
        if module is None:
            continue
        for source in sources.get(provider, ()):
            table = getattr(module, source.attribute, None)
            if not isinstance(table, Mapping):
                continue
            for key, mapped in table.items():
                ours = _value(mapped)
                if ours is None:
                    continue
                out.setdefault(str(ours.value), {}).setdefault(provider, []).append(
                    source.label.format(key=key)
                )
    return out


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def render(modules: Mapping[str, ModuleType | None] | None = None) -> str:
    mods = dict(modules) if modules is not None else {p: load(p) for p, _ in PROVIDERS}
    names = [name for _, name in PROVIDERS]
    missing = [name for (p, name) in PROVIDERS if mods.get(p) is None]
    lines = [
        "# HTTP providers: one taxonomy",
        "",
        "Generated from the adapters' mapping tables by "
        "`python -m msgbridge.adapters.http.taxonomy`; do not edit by hand.",
        "Each cell lists the provider's native codes that map to our value. "
        "Every row here is a row of a table in code, and every one of those has a test.",
        "",
    ]
    if missing:
        lines += [f"Not available when generated: {', '.join(missing)}.", ""]
    errors = collect(mods, ERROR_SOURCES)
    lines += [
        "## Errors",
        "",
        _row(["ErrorCode", "retry", "any provider (HTTP layer)", *names]),
        _row(["---"] * (3 + len(names))),
    ]
    for code in ErrorCode:
        cells = [f"`{code.value}`", "yes" if code.retryable else "no", TRANSPORT_LEVEL.get(code, "")]
        cells += [", ".join(errors.get(code.value, {}).get(p, [])) for p, _ in PROVIDERS]
        lines.append(_row(cells))
    statuses = collect(mods, STATUS_SOURCES)
    lines += [
        "",
        "## Delivery statuses",
        "",
        _row(["DeliveryStatus", "final", *names]),
        _row(["---"] * (2 + len(names))),
    ]
    for status in DeliveryStatus:
        cells = [f"`{status.value}`", "yes" if status in FINAL else "no"]
        cells += [", ".join(statuses.get(status.value, {}).get(p, [])) for p, _ in PROVIDERS]
        lines.append(_row(cells))
    lines += [
        "",
        "Rules that are not a lookup (see each adapter): Selzy maps unlisted `err_*` to FAILED and other "
        "unlisted values to UNKNOWN; BSG reports the unsent messages of a stopped campaign as CANCELED; "
        "a status never moves back from a final one except where `msgbridge.core.status` allows it.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    import sys

    sys.stdout.write(render())


if __name__ == "__main__":
    main()
