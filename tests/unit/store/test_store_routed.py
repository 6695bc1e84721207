"""Results that came through a routed transport: the child's link keys their native ids, and the
attempts on other transports before them are on the message's history (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from test_store import entries, receipt
from test_store import store as store  # the fixture: both backends

from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import Attempt, SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.store.base import Store

ROUTE = "route:kz"
PRIMARY, SECONDARY = "smpp://smsc-a:2775", "smpp://smsc-b:2775"
DOWN = ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_code=None, native_message="connection refused")
BROKE = ErrorInfo(code=ErrorCode.AUTH_FAILED, native_code=14, native_message="bind refused")


@pytest.fixture
async def two(store: Store) -> AsyncIterator[tuple[Store, list[str]]]:
    ids = await store.enqueue(entries(2))
    await store.claim(10)
    await store.mark_in_doubt(ids)
    yield store, ids


async def test_one_native_id_on_two_links_matches_each_message_by_its_link(
    two: tuple[Store, list[str]],
) -> None:
    store, (a, b) = two
    # Two SMSCs number their messages alike: one id, two links, through one routed transport.
    await store.record_results(
        [
            SendResult(a, S.SUBMITTED, "77", link=PRIMARY),
            SendResult(b, S.SUBMITTED, "77", link=SECONDARY),
        ],
        link=ROUTE,
    )
    ra, rb = await store.get(a), await store.get(b)
    assert ra is not None and rb is not None and (ra.link, rb.link) == (PRIMARY, SECONDARY)
    assert await store.record_receipts([receipt("77", S.UNDELIVERABLE, link=SECONDARY)]) == 1
    assert await store.record_receipts([receipt("77", S.DELIVERED, link=PRIMARY)]) == 1
    ra, rb = await store.get(a), await store.get(b)
    assert ra is not None and rb is not None
    assert (ra.status, rb.status) == (S.DELIVERED, S.UNDELIVERABLE)
    # Nothing was keyed by the routed transport's own name.
    assert await store.record_receipts([receipt("77", S.EXPIRED, link=ROUTE)]) == 0
    assert await store.pending_native_ids(ROUTE, 10) == []


async def test_parts_are_keyed_by_the_results_link(two: tuple[Store, list[str]]) -> None:
    store, (a, b) = two
    await store.record_results(
        [
            SendResult(a, S.SUBMITTED, "p2", ("p1", "p2"), 2, link=PRIMARY),
            SendResult(b, S.SUBMITTED, "p2", ("p1", "p2"), 2, link=SECONDARY),
        ],
        link=ROUTE,
    )
    await store.record_receipts(
        [receipt("p1", S.DELIVERED, link=SECONDARY), receipt("p2", S.DELIVERED, link=SECONDARY)]
    )
    ra, rb = await store.get(a), await store.get(b)
    assert ra is not None and rb is not None
    assert (ra.status, rb.status) == (S.SUBMITTED, S.DELIVERED)


async def test_a_result_without_a_link_of_its_own_is_keyed_by_the_calls(two: tuple[Store, list[str]]) -> None:
    store, (a, b) = two
    await store.record_results(
        [SendResult(a, S.SUBMITTED, "n1"), SendResult(b, S.SUBMITTED, "n2", link=SECONDARY)], link=PRIMARY
    )
    assert await store.pending_native_ids(PRIMARY, 10) == ["n1"]
    assert await store.pending_native_ids(SECONDARY, 10) == ["n2"]


async def test_attempts_are_history_lines_before_the_result_each_at_its_time(
    two: tuple[Store, list[str]],
) -> None:
    store, (a, b) = two
    before = await store.get(a)
    assert before is not None
    t0 = before.created_at + 0.25
    tries = (Attempt("kz_smsc", PRIMARY, DOWN, t0), Attempt("kz_backup", SECONDARY, BROKE, t0 + 0.5))
    await store.record_results(
        [
            SendResult(a, S.SUBMITTED, "n1", link="https://api.mobizon.kz", attempts=tries),
            SendResult(b, S.SUBMITTED, "n2", link=PRIMARY),
        ],
        link=ROUTE,
    )
    rec = await store.get(a)
    assert rec is not None
    assert [(s, note) for _, s, note in rec.history] == [
        (S.QUEUED, "enqueued"),
        (S.MAYBE_SUBMITTED, "attempt via kz_smsc: NETWORK_ERROR: connection refused"),
        (S.MAYBE_SUBMITTED, "attempt via kz_backup: AUTH_FAILED [14]: bind refused"),
        (S.SUBMITTED, "result"),
    ]
    # Each at its own time (kept to the microsecond: a float of 1.8e9 s is exact to 0.24 µs).
    assert [
        abs(at - want) < 2e-6 for (at, _, _), want in zip(rec.history[1:3], (t0, t0 + 0.5), strict=True)
    ] == [
        True,
        True,
    ]
    assert rec.tried() == [
        (rec.history[1][0], "kz_smsc", "NETWORK_ERROR: connection refused"),
        (rec.history[2][0], "kz_backup", "AUTH_FAILED [14]: bind refused"),
    ]
    other = await store.get(b)
    assert other is not None and other.tried() == [] and len(other.history) == 2
    # Later lines still follow: the receipt comes after the result.
    await store.record_receipts([receipt("n1", S.DELIVERED, link="https://api.mobizon.kz")])
    rec = await store.get(a)
    assert rec is not None and [note for _, _, note in rec.history][-1] == "receipt DELIVER"


async def test_an_attempt_without_an_error_and_a_failed_result_after_attempts(
    two: tuple[Store, list[str]],
) -> None:
    store, (a, _) = two
    rec = await store.get(a)
    assert rec is not None
    tries = (Attempt("kz_smsc", PRIMARY, None, rec.created_at + 0.1),)
    await store.record_results([SendResult(a, S.FAILED, error=DOWN, attempts=tries)], link=ROUTE)
    rec = await store.get(a)
    assert rec is not None and rec.status is S.FAILED
    assert [note for _, _, note in rec.history][1:] == [
        "attempt via kz_smsc",
        "result: NETWORK_ERROR: connection refused",
    ]
    assert rec.tried() == [(rec.history[1][0], "kz_smsc", "")]


async def test_a_history_time_reads_back_exactly_whatever_the_enqueue_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trail line holds microseconds since created_at, subtracted in SQL and added back in Python: the two
    must round created_at alike. At 1.8e9 s a float times 10**6 can end in exactly .5 (its spacing there is
    0.25), which SQLite's round() takes up and Python's round() to the even neighbour."""
    import msgbridge.store.sql as sql

    halfway = 1796590000.0000005  # times 10**6: 1796590000000000.5
    assert halfway * 1_000_000 % 1 == 0.5
    monkeypatch.setattr(sql.time, "time", lambda: halfway)
    [mid] = await store.enqueue(entries(1))
    monkeypatch.undo()
    at = 1796590001.0
    attempt = Attempt("kz_smsc", PRIMARY, DOWN, at)
    await store.record_results([SendResult(mid, S.SUBMITTED, "n1", link=PRIMARY, attempts=(attempt,))], link=ROUTE)
    rec = await store.get(mid)
    assert rec is not None
    assert rec.history[1][0] == at
