"""The submit_sm window's rules on their own: offer, complete, expire, throttle and regrow, late answers."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from msgbridge.adapters.smpp.window import MAX_SEQ, Window, seq_before


def at(t: float) -> Callable[[], float]:
    return lambda: t


def window(size: int = 4, timeout: float = 10.0) -> Window[str, str]:
    return Window(size, timeout, pause=1.0, pause_cap=4.0)


def test_offer_fills_the_window_and_complete_frees_it() -> None:
    w = window(3)
    assert w.room(at(0.0)) == 3
    w.offer({1: "a", 2: "b"}, 2, 0.0)
    assert (len(w), w.room(at(0.0))) == (2, 1)
    assert w.complete(1) == "a"
    assert w.complete(1) is None  # answered once
    assert w.complete(99) is None
    assert w.room(at(0.0)) == 2


def test_size_is_at_least_one() -> None:
    assert window(0).room(at(0.0)) == 1


def test_expire_gives_up_each_write_at_its_own_deadline() -> None:
    w = window(10, timeout=5.0)
    w.offer({1: "a", 2: "b"}, 2, 0.0)
    w.offer({3: "c"}, 3, 2.0)
    assert w.expire(4.9, 3) == []
    assert w.expire(5.0, 3) == [(1, "a"), (2, "b")]
    assert w.complete(3) == "c"
    assert w.expire(100.0, 3) == []  # answered before its deadline: nothing to give up


def test_expire_across_the_sequence_wrap() -> None:
    w = window(10, timeout=1.0)
    w.offer({MAX_SEQ - 1: "a", MAX_SEQ: "b"}, MAX_SEQ, 0.0)
    w.offer({1: "c"}, 1, 0.5)
    assert w.expire(1.0, 1) == [(MAX_SEQ - 1, "a"), (MAX_SEQ, "b")]
    assert w.expire(1.5, 1) == [(1, "c")]


def test_throttle_halves_and_pauses_once_per_burst_with_doubling_pauses() -> None:
    w = window(8)
    assert w.throttled(0.0) == 1.0
    assert w.effective == 4
    assert w.room(at(0.5)) == 0 and w.pause_left(0.5) == 0.5
    assert w.throttled(0.5) is None  # same burst: shrinks, no new pause
    assert w.effective == 2
    assert w.room(at(1.0)) == 2
    assert w.throttled(1.0) == 2.0  # next burst: double
    assert w.throttled(3.0) == 4.0
    assert w.throttled(7.0) == 4.0  # capped
    assert w.effective == 1  # never below one


def test_offer_after_the_pause_clears_it() -> None:
    w = window(4)
    w.throttled(0.0)
    w.offer({1: "a"}, 1, 2.0)
    assert w.pause_until == 0.0
    assert w.pause_left(2.0) == 0.0


def test_clean_answers_regrow_one_slot_per_window_and_end_the_streak() -> None:
    w = window(4)
    w.throttled(0.0)
    assert (w.effective, w.recovering) == (2, True)
    for _ in range(2):
        w.clean()
    assert w.effective == 3
    for _ in range(3):
        w.clean()
    assert w.effective == 4 and w.recovering
    for _ in range(4):
        w.clean()
    assert not w.recovering
    assert w.throttled(10.0) == 1.0  # the streak ended: the first pause again


def test_reset_restores_the_full_window() -> None:
    w = window(6)
    w.throttled(0.0)
    w.reset()
    assert w.effective == 6


def test_lose_all_gives_everything_up_and_forgets_deadlines() -> None:
    w = window(4, timeout=1.0)
    w.offer({1: "a", 2: "b"}, 2, 0.0)
    assert w.lose_all() == {1: "a", 2: "b"}
    assert len(w) == 0
    assert w.expire(5.0, 2) == []


def test_late_tokens_are_taken_once_and_the_oldest_forgotten() -> None:
    w: Window[str, str] = Window(4, 1.0, late_kept=2)
    w.keep_late(1, "one")
    w.keep_late(2, "two")
    w.keep_late(3, "three")
    assert w.late(1) is None
    assert w.late(2) == "two"
    assert w.late(2) is None
    assert w.late(3) == "three"


def test_given_up_entries_leave_their_late_token_with_the_window() -> None:
    """Expired or lost with the link: either way an answer that comes anyway finds its token."""
    w: Window[str, str] = Window(4, 1.0, late_of=str.upper)
    w.offer({1: "a"}, 1, 0.0)
    w.offer({2: "b", 3: "c"}, 3, 0.5)
    assert w.expire(1.0, 3) == [(1, "a")]
    assert (w.late(1), w.late(2)) == ("A", None)
    assert w.lose_all() == {2: "b", 3: "c"}
    assert (w.late(3), w.late(2), w.late(2)) == ("C", "B", None)
    plain: Window[str, str] = Window(4, 1.0)  # no late_of: nothing kept
    plain.offer({1: "a"}, 1, 0.0)
    assert plain.expire(1.0, 1) == [(1, "a")]
    assert plain.late(1) is None


@given(st.integers(1, MAX_SEQ), st.integers(0, 1000), st.integers(0, 1000))
def test_seq_before_follows_write_order_across_the_wrap(start: int, a: int, b: int) -> None:
    """Writing goes start, start+1, ... wrapping from MAX_SEQ to 1; the current is the last written."""

    def nth(n: int) -> int:
        return (start - 1 + n) % MAX_SEQ + 1

    current = nth(max(a, b))
    assert seq_before(nth(a), nth(b), current) == (a <= b)
