"""Event ids: ``evt_`` and 26 lower-case base32 characters, every character of the alphabet used, none repeated."""

from __future__ import annotations

import re

from msgbridge.store.events import new_event_id


def test_event_ids_are_lower_case_base32_and_distinct() -> None:
    ids = [new_event_id() for _ in range(5000)]
    assert all(re.fullmatch(r"evt_[a-z2-7]{26}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert set("".join(i[4:] for i in ids)) == set("abcdefghijklmnopqrstuvwxyz234567")
