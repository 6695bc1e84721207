"""The phones a campaign's plan has met so far, and the line each was first on, in 16 bytes a phone.

``campaign run`` sends a phone once however far apart its lines are: the outbox key (campaign + E.164)
finds the earlier row. A plan has no outbox, and a ``dict`` of E.164 strings costs over 100 bytes an entry
(a million-row file: more than the plan itself). An E.164 number is at most 15 digits, so its digits are
an integer below 10**15, never 0 (no calling code starts with 0): the key itself, exact, with no hash to
collide. Keys and lines live in two flat ``array('q')`` tables probed linearly (open addressing, at most
half full), so memory is 32 bytes per slot, 64 at most per phone, and no Python object per entry.
"""

from __future__ import annotations

from array import array

_EMPTY = 0
_START = 1 << 12  # slots to begin with; doubled whenever half are used
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads consecutive numbers over the table


class SeenPhones:
    __slots__ = ("_keys", "_lines", "_mask", "_used")

    def __init__(self) -> None:
        self._keys = array("q", bytes(8 * _START))
        self._lines = array("q", bytes(8 * _START))
        self._mask = _START - 1
        self._used = 0

    def __len__(self) -> int:
        return self._used

    def first(self, e164: str, line: int | None) -> int | None:
        """Record ``e164`` first met on ``line``; if it was met before, its first line (-1: none known).

        Returns None the first time a number is met, else the line it was first met on, -1 for a row
        that had no line (an API caller's recipient).
        """
        key = int(e164.removeprefix("+"))
        keys, mask = self._keys, self._mask
        slot = ((key * _MIX) >> 17) & mask
        while True:
            held = keys[slot]
            if held == key:
                return self._lines[slot]
            if held == _EMPTY:
                break
            slot = (slot + 1) & mask
        keys[slot] = key
        self._lines[slot] = -1 if line is None else line
        self._used += 1
        if self._used * 2 > mask:
            self._grow()
        return None

    def _grow(self) -> None:
        old_keys, old_lines = self._keys, self._lines
        size = 2 * len(old_keys)
        self._keys = keys = array("q", bytes(8 * size))
        self._lines = lines = array("q", bytes(8 * size))
        self._mask = mask = size - 1
        for key, line in zip(old_keys, old_lines, strict=True):
            if key == _EMPTY:
                continue
            slot = ((key * _MIX) >> 17) & mask
            while keys[slot] != _EMPTY:
                slot = (slot + 1) & mask
            keys[slot] = key
            lines[slot] = line
