"""The collector's pace during a campaign: changed by the first use, restored by the last, cycles still collected."""

from __future__ import annotations

import gc

from msgbridge.dispatch.heap import YOUNG_THRESHOLD, fewer_collections


def test_overlapping_uses_restore_the_settings_only_when_the_last_ends() -> None:
    before = gc.get_threshold()
    outer = fewer_collections()
    inner = fewer_collections()
    outer.__enter__()
    assert gc.get_threshold()[0] == max(YOUNG_THRESHOLD, before[0]) and gc.get_freeze_count() > 0
    inner.__enter__()
    outer.__exit__(None, None, None)  # the first to start ends first (two tasks on one loop)
    assert gc.get_threshold()[0] == max(YOUNG_THRESHOLD, before[0])
    inner.__exit__(None, None, None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_cycle_made_during_a_campaign_is_still_collected() -> None:
    class Node:
        other: object = None

    with fewer_collections():
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = [id(a)]
        del a, b
        gc.collect()
        assert not any(id(o) in gone for o in gc.get_objects() if isinstance(o, Node))


def test_an_error_inside_restores_the_settings() -> None:
    before = gc.get_threshold()
    try:
        with fewer_collections():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_settled_process_keeps_its_pace_through_campaigns() -> None:
    # What serve does once started: the campaigns and lanes it runs leave the collector as settle() set it.
    from msgbridge.dispatch import heap

    before = gc.get_threshold()
    try:
        heap.settle()
        settled = gc.get_threshold()
        assert settled[0] == YOUNG_THRESHOLD and gc.get_freeze_count() > 0
        with fewer_collections():
            pass
        assert gc.get_threshold() == settled and gc.get_freeze_count() > 0
    finally:
        heap._settled = False
        gc.set_threshold(*before)
        gc.unfreeze()
