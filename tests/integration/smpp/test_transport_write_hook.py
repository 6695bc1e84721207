"""smpp:// with ``before_write``: every submit_sm is announced before it is written, a window at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from smpp_helpers import messages, smpp_url

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.smpp.transport import SmppTransport
from msgbridge.core.errors import ErrorCode
from msgbridge.core.message import SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.simulators.smsc import SmscSimulator


def opened(url: str) -> SmppTransport:
    t = open_transport(url)
    assert isinstance(t, SmppTransport)
    return t


class Marks:
    """A before_write hook that checks the SMSC has seen none of a group before the hook returns."""

    def __init__(self, smsc: SmscSimulator) -> None:
        self.smsc = smsc
        self.groups: list[list[str]] = []
        self.answered: list[SendResult] = []
        self.seen_before: list[int] = []
        self.texts: dict[str, str] = {}

    async def __call__(self, ids: Sequence[str], answered: Sequence[SendResult]) -> None:
        await asyncio.sleep(0)  # a real store call yields too
        arrived = {s.short_message.decode() for s in self.smsc.submitted}
        self.seen_before.append(sum(self.texts[i] in arrived for i in ids))
        self.groups.append(list(ids))
        self.answered.extend(answered)


@pytest.mark.parametrize(("window", "binds", "senders"), [(10, 1, 1), (7, 2, 3)])
async def test_each_write_group_is_announced_first_and_at_most_a_window(
    smsc: SmscSimulator, window: int, binds: int, senders: int
) -> None:
    hook = Marks(smsc)
    calls = [messages(40, text=f"c{c} {{i}}") for c in range(senders)]
    hook.texts = {m.id: m.text for msgs in calls for m in msgs}
    async with opened(smpp_url(smsc, window=window, binds=binds)) as t:
        assert t.writes_in_groups
        results = await asyncio.gather(*(t.send(msgs, before_write=hook) for msgs in calls))
    assert all(r.status is DeliveryStatus.SUBMITTED for batch in results for r in batch)
    written = [i for g in hook.groups for i in g]
    assert sorted(written) == sorted(hook.texts)  # each message announced exactly once
    assert max(len(g) for g in hook.groups) <= window  # never more than the room in one bind's window
    assert hook.seen_before == [0] * len(hook.groups)  # and before any of it reached the SMSC
    assert len(hook.groups) > senders  # window by window, not once per send() call
    # accepted messages are handed over early, each once, as the results send() returns for them
    early = {r.message_id: r for r in hook.answered}
    assert len(early) == len(hook.answered) > 0
    final = {r.message_id: r for batch in results for r in batch}
    assert all(final[i].native_ids == r.native_ids for i, r in early.items())


async def test_a_hook_that_refuses_means_nothing_is_written(smsc: SmscSimulator) -> None:
    calls = 0

    async def refuse_second(ids: Sequence[str], answered: Sequence[SendResult]) -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise RuntimeError("stop requested")

    async with opened(smpp_url(smsc, window=5)) as t:
        results = await t.send(messages(30), before_write=refuse_second)
    sent = [r for r in results if r.status is DeliveryStatus.SUBMITTED]
    assert len(sent) == smsc.stats.submit_sm == 5  # only the first group went out
    refused = [r for r in results if r.status is not DeliveryStatus.SUBMITTED]
    assert len(refused) == 25
    assert all(r.error is not None and r.error.code is ErrorCode.TEMPORARY_FAILURE for r in refused)
    assert all(r.status is not DeliveryStatus.MAYBE_SUBMITTED for r in refused)  # never written: not in doubt
