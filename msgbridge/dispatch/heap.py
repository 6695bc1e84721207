"""The garbage collector's pace while a campaign runs.

A campaign allocates a few objects per row and per message (rows, records,
futures, PDUs) and keeps few of them: nearly all die young, without forming
cycles, by reference counting. CPython's cyclic collector, at its default
threshold (a young collection every 700 net allocations, a middle one every
ten of those, a full one when enough has survived), still walks them, and
the full collections walk everything alive: phonenumbers' metadata, the
compiled models, the store's cache of written messages, the SMPP receipt
index. Measured on preparation alone (200,000 rows, ``--phone-check
possible``): 27,900 rows/s at the default threshold, 37,400 at 10,000, 40,400
with the collector off.

So while a campaign runs, what was alive before it (the imports) is frozen
out of the collector's way (``gc.freeze``) and the young generation's
threshold is raised. Cycles are still collected, only less often: the
garbage a cycle holds waits for at most YOUNG_THRESHOLD more allocations,
a bounded amount whatever the campaign's size.

A process that runs until it is stopped (``msgbridge serve``) settles the
heap once for good instead (:func:`settle`): what it loaded while starting
(modules, the app and its OpenAPI models, phone metadata) is frozen, and the
campaigns and lanes it runs leave the collector as it is.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 20_000

_depth = 0  # uses open now (several campaigns may run at once on one loop)
_saved: tuple[int, int, int] = gc.get_threshold()
_settled = False  # settle() has run: the pace is this process's for good


def settle(young: int = YOUNG_THRESHOLD) -> None:
    """Freeze what is alive now and collect the young generation every ``young`` allocations, from now on.

    Measured in ``serve`` before this: a full collection walked the start-up heap (a few hundred thousand
    objects) in 90-120 ms, about twice a second under single-message load, stalling every request in
    flight (the p99 of the accept latency); and with 50 requests in flight, a young collection every 700
    allocations found each request's objects alive and promoted them until a full collection ran.
    """
    global _settled
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), older, oldest)
    _settled = True


@contextmanager
def fewer_collections(young: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Freeze the heap as it is and collect the young generation every ``young`` allocations, until exit.

    Uses may overlap (tasks on one loop): the first to enter changes the settings, the last to leave
    restores them.
    """
    global _depth, _saved
    if _settled:  # a service has set the pace for the whole process
        yield
        return
    if _depth == 0:
        _saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(max(young, _saved[0]), _saved[1], _saved[2])
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.set_threshold(*_saved)
            gc.unfreeze()
