"""Per-origin queues: an origin never runs more than its limit, and a stuck one does not hold the others."""

from __future__ import annotations

import asyncio

import pytest

from msgbridge.webhooks.limiter import OriginQueues, origin_of


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Hooks.Example/a?b=1", "https://hooks.example:443"),
        ("http://hooks.example:8080/x", "http://hooks.example:8080"),
        ("http://[::1]/x", "http://::1:80"),
        ("http://user:pw@h.example/%d", "http://h.example:80"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


async def test_a_stuck_origin_holds_only_its_own_slots() -> None:
    stuck = asyncio.Event()
    running: dict[str, int] = {"dead": 0, "live": 0}
    peak: dict[str, int] = {"dead": 0, "live": 0}
    done: list[int] = []

    async def handle(origin: str, item: int) -> None:
        running[origin] += 1
        peak[origin] = max(peak[origin], running[origin])
        try:
            if origin == "dead":
                await stuck.wait()
            else:
                await asyncio.sleep(0)
            done.append(item)
        finally:
            running[origin] -= 1

    queues: OriginQueues[int] = OriginQueues(handle, concurrency=4, depth=10)
    for i in range(10):
        assert queues.put("dead", i)
    assert not queues.put("dead", 10)  # full: left where it is
    for i in range(100, 110):
        assert queues.put("live", i)
    async with asyncio.timeout(10):  # the live origin's ten finish while the dead one is stuck
        while len(done) < 10:  # noqa: ASYNC110 -- a test polling its own counter
            await asyncio.sleep(0.001)
    assert sorted(done) == list(range(100, 110))
    assert peak == {"dead": 4, "live": 4}
    assert queues.held == 10 and queues.held_for("dead") == 10
    stuck.set()
    await asyncio.wait_for(queues.idle(), 10)
    assert sorted(done) == [*range(10), *range(100, 110)] and queues.held == 0


async def test_close_cancels_what_runs_and_forgets_what_waits() -> None:
    async def handle(origin: str, item: int) -> None:
        await asyncio.Event().wait()

    queues: OriginQueues[int] = OriginQueues(handle, concurrency=2, depth=10)
    for i in range(5):
        queues.put("o", i)
    await asyncio.sleep(0)
    await queues.close()
    assert queues.held == 0
