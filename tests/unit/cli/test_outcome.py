"""The exit-code table: every stored status has an outcome, and each code is reached by its case."""

from __future__ import annotations

import pytest

from msgbridge.cli.outcome import OUTCOMES, ExitCode, Outcome, exit_code, tally
from msgbridge.core.status import DeliveryStatus as S

EXPECTED: dict[S, Outcome] = {
    S.QUEUED: Outcome.UNSENT,
    S.SUBMITTED: Outcome.ACCEPTED,
    S.MAYBE_SUBMITTED: Outcome.IN_DOUBT,
    S.ACCEPTED: Outcome.ACCEPTED,
    S.DELIVERED: Outcome.ACCEPTED,
    S.PARTIALLY_DELIVERED: Outcome.ACCEPTED,
    S.UNDELIVERABLE: Outcome.REFUSED,
    S.REJECTED: Outcome.REFUSED,
    S.EXPIRED: Outcome.REFUSED,
    S.DELETED: Outcome.REFUSED,
    S.CANCELED: Outcome.REFUSED,
    S.FAILED: Outcome.REFUSED,
    S.UNKNOWN: Outcome.ACCEPTED,
}
# The code one message in each status gives: what `send` exits with.
ALONE: dict[Outcome, ExitCode] = {
    Outcome.ACCEPTED: ExitCode.OK,
    Outcome.REFUSED: ExitCode.NOTHING_SENT,
    Outcome.IN_DOUBT: ExitCode.IN_DOUBT,
    Outcome.UNSENT: ExitCode.NOTHING_SENT,
}


@pytest.mark.parametrize("status", list(S))
def test_every_status_has_its_outcome(status: S) -> None:
    assert OUTCOMES[status] is EXPECTED[status]
    assert exit_code({status: 1}) is ALONE[EXPECTED[status]]
    # next to accepted messages: only "in doubt" outranks "some refused"
    beside = exit_code({status: 1, S.DELIVERED: 5})
    assert beside is {Outcome.ACCEPTED: ExitCode.OK, Outcome.IN_DOUBT: ExitCode.IN_DOUBT}.get(
        EXPECTED[status], ExitCode.SOME_REFUSED
    )


@pytest.mark.parametrize(
    ("counts", "skipped", "code"),
    [
        ({S.DELIVERED: 10}, 0, ExitCode.OK),
        ({S.DELIVERED: 10}, 1, ExitCode.SOME_REFUSED),  # a bad row skipped
        ({S.REJECTED: 10}, 0, ExitCode.NOTHING_SENT),  # 100 % refused
        ({S.MAYBE_SUBMITTED: 10}, 0, ExitCode.IN_DOUBT),  # 100 % in doubt
        ({}, 7, ExitCode.NOTHING_SENT),  # every row skipped
        ({S.DELIVERED: 9000, S.MAYBE_SUBMITTED: 1000}, 0, ExitCode.IN_DOUBT),  # left in doubt by a crash
        ({S.REJECTED: 5, S.MAYBE_SUBMITTED: 5}, 0, ExitCode.IN_DOUBT),
        ({S.SUBMITTED: 5, S.QUEUED: 5}, 0, ExitCode.SOME_REFUSED),
    ],
)
def test_exit_code_cases(counts: dict[S, int], skipped: int, code: ExitCode) -> None:
    assert exit_code(counts, skipped=skipped) is code


def test_queued_messages_another_live_run_holds_are_not_unsent() -> None:
    # Two runs of one campaign: the one that ends first sees the other's claims still QUEUED.
    assert exit_code({S.SUBMITTED: 5, S.QUEUED: 5}) is ExitCode.SOME_REFUSED
    assert exit_code({S.SUBMITTED: 5, S.QUEUED: 5}, elsewhere=5) is ExitCode.IN_DOUBT
    assert exit_code({S.SUBMITTED: 5}, elsewhere=0) is ExitCode.OK


def test_codes_are_distinct_and_tally_has_every_outcome() -> None:
    assert len({int(c) for c in ExitCode}) == len(ExitCode)
    assert tally({S.DELIVERED: 2, S.SUBMITTED: 1, S.FAILED: 4}) == {
        Outcome.ACCEPTED: 3,
        Outcome.REFUSED: 4,
        Outcome.IN_DOUBT: 0,
        Outcome.UNSENT: 0,
    }
