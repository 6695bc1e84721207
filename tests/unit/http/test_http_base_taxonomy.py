"""The cross-provider table is rendered from the adapters' tables, row for row."""

from __future__ import annotations

from types import SimpleNamespace

from msgbridge.adapters.http import bsg, selzy, taxonomy
from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import DeliveryStatus


def row(text: str, first_cell: str) -> list[str]:
    for line in text.splitlines():
        if line.startswith(f"| `{first_cell}` |"):
            return [c.strip() for c in line.strip("|").split(" | ")]
    raise AssertionError(f"no row for {first_cell}")


def test_every_selzy_and_bsg_row_is_in_its_cell() -> None:
    text = taxonomy.render()
    columns = ["ours", "retry", "http", "Selzy", "BSG", "SMSC.ru", "Mobizon"]
    for native, ours in selzy.ERRORS.items():
        assert f"`{native}`" in row(text, ours.value)[columns.index("Selzy")]
    for native, ours in bsg.HTTP_ERRORS.items():
        assert f"HTTP {native}" in row(text, ours.value)[columns.index("BSG")]
    for native, ours in bsg.ERRORS.items():
        assert f"legacy {native}" in row(text, ours.value)[columns.index("BSG")].split(", ")
    status_columns = ["ours", "final", "Selzy", "BSG", "SMSC.ru", "Mobizon"]
    for native, status in selzy.STATUSES.items():
        assert f"`{native}`" in row(text, status.value)[status_columns.index("Selzy")]
    for native, status in bsg.STATUSES.items():
        assert f"`{native}`" in row(text, status.value)[status_columns.index("BSG")]


def test_one_row_per_code_and_status() -> None:
    text = taxonomy.render()
    for code in ErrorCode:
        assert row(text, code.value)[1] == ("yes" if code.retryable else "no")
    for status in DeliveryStatus:
        assert row(text, status.value)[1] == ("yes" if status.is_final else "no")


def test_missing_module_and_tuple_values() -> None:
    fake = SimpleNamespace(
        ERRORS={7: ErrorCode.DUPLICATE},
        CONTACT_ERRORS={},
        DELIVERY_ERRORS={220: (ErrorCode.QUEUE_FULL, "queue overflow")},
        STATUSES={-1: DeliveryStatus.QUEUED},
    )
    text = taxonomy.render({"selzy": None, "bsg": None, "smsc": fake, "mobizon": None})  # type: ignore[dict-item]
    assert "Not available when generated: Selzy, BSG, Mobizon." in text
    assert row(text, "DUPLICATE")[5] == "7"
    assert row(text, "QUEUE_FULL")[5] == "status err 220"
    assert row(text, "QUEUED")[4] == "-1"
