from __future__ import annotations

import pytest

from msgbridge.core.status import FINAL, DeliveryStatus, aggregate, merge

S = DeliveryStatus
ABBREV = {
    "Q": S.QUEUED,
    "S": S.SUBMITTED,
    "M": S.MAYBE_SUBMITTED,
    "A": S.ACCEPTED,
    "D": S.DELIVERED,
    "P": S.PARTIALLY_DELIVERED,
    "U": S.UNDELIVERABLE,
    "R": S.REJECTED,
    "E": S.EXPIRED,
    "X": S.DELETED,
    "C": S.CANCELED,
    "F": S.FAILED,
    "K": S.UNKNOWN,
}
COLUMNS = "Q S M A D P U R E X C F K".split()

# merge(current=row, incoming=column), written out by hand from the documented rule:
# non-final statuses move forward by rank (QUEUED < MAYBE_SUBMITTED < SUBMITTED < UNKNOWN < ACCEPTED),
# any final status wins over a non-final one, a final status stays, except the documented
# replacements PARTIALLY_DELIVERED -> D/U/R/E/X and CANCELED -> DELIVERED.
EXPECTED = {
    "Q": "Q S M A D P U R E X C F K",
    "S": "S S S A D P U R E X C F K",
    "M": "M S M A D P U R E X C F K",
    "A": "A A A A D P U R E X C F A",
    "K": "K K K A D P U R E X C F K",
    "D": "D D D D D D D D D D D D D",
    "P": "P P P P D P U R E X P P P",
    "U": "U U U U U U U U U U U U U",
    "R": "R R R R R R R R R R R R R",
    "E": "E E E E E E E E E E E E E",
    "X": "X X X X X X X X X X X X X",
    "C": "C C C C D C C C C C C C C",
    "F": "F F F F F F F F F F F F F",
}
PAIRS = [
    (ABBREV[row], ABBREV[col], ABBREV[out])
    for row, line in EXPECTED.items()
    for col, out in zip(COLUMNS, line.split(), strict=True)
]


def test_table_covers_every_pair() -> None:
    assert set(ABBREV.values()) == set(DeliveryStatus)
    assert len(PAIRS) == len(DeliveryStatus) ** 2


@pytest.mark.parametrize(("current", "incoming", "expected"), PAIRS, ids=[f"{c}+{i}" for c, i, _ in PAIRS])
def test_merge(current: DeliveryStatus, incoming: DeliveryStatus, expected: DeliveryStatus) -> None:
    assert merge(current, incoming) is expected


def test_final_never_goes_back_to_non_final() -> None:
    for current in FINAL:
        for incoming in DeliveryStatus:
            assert merge(current, incoming).is_final


def test_final_set() -> None:
    assert {s.name for s in FINAL} == {
        "DELIVERED",
        "PARTIALLY_DELIVERED",
        "UNDELIVERABLE",
        "REJECTED",
        "EXPIRED",
        "DELETED",
        "CANCELED",
        "FAILED",
    }


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ("", "Q"),
        ("D", "D"),
        ("D D D", "D"),
        ("D E", "P"),
        ("E D", "P"),
        ("P U", "P"),
        ("U E", "U"),
        ("E U", "E"),
        ("D S", "A"),  # one part delivered, one still on its way
        ("S A", "S"),
        ("M S", "M"),
        ("U S", "S"),
        ("D K", "A"),
        ("A A", "A"),
    ],
)
def test_aggregate(parts: str, expected: str) -> None:
    assert aggregate(ABBREV[p] for p in parts.split()) is ABBREV[expected]
