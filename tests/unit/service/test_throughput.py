"""The per-second ring of results and receipts behind the dashboard's chart (a settable clock, no sleeping)."""

from __future__ import annotations

import pytest

from msgbridge.service.throughput import WINDOW, Throughput


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_counts_land_in_their_second_and_the_series_covers_the_window() -> None:
    clock = Clock(1000.2)
    meter = Throughput(clock=clock)
    meter.add_sent(3)
    meter.add_receipts(1)
    clock.now = 1000.9
    meter.add_sent(2)
    clock.now = 1002.5
    meter.add_receipts(4)
    series = meter.series()
    assert len(series) == WINDOW
    assert series[-1] == (1002.0, 0, 4) and series[-2] == (1001.0, 0, 0) and series[-3] == (1000.0, 5, 1)
    assert series[0][0] == 1002.0 - WINDOW + 1
    assert [t for t, _, _ in series] == sorted(t for t, _, _ in series)


def test_a_second_older_than_the_window_reads_as_zero_and_its_slot_is_reused() -> None:
    clock = Clock(50.0)
    meter = Throughput(window=10, clock=clock)
    meter.add_sent(7)
    clock.now = 59.0
    assert meter.series()[0] == (50.0, 7, 0)  # still inside: 50..59
    clock.now = 60.0
    assert sum(s for _, s, _ in meter.series()) == 0  # 50 fell out; slot 0 now stands for 60
    meter.add_sent(1)
    assert meter.series()[-1] == (60.0, 1, 0)  # not 8: the old count was not carried over
    clock.now = 75.0
    assert meter.series() == [(float(t), 0, 0) for t in range(66, 76)]


def test_zero_adds_nothing_and_a_window_must_be_positive() -> None:
    meter = Throughput(window=3, clock=Clock(5.0))
    meter.add_sent(0)
    meter.add_receipts(0)
    assert meter.series() == [(3.0, 0, 0), (4.0, 0, 0), (5.0, 0, 0)]
    with pytest.raises(ValueError):
        Throughput(window=0)
