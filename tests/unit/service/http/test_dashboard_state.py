"""The dashboard's state document built over a real runtime (memory:// transport, a SQLite store)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from msgbridge.core.status import DeliveryStatus
from msgbridge.service.contract import CampaignSubmission
from msgbridge.service.http.dashboard.routes import REUSE, Dashboard
from msgbridge.service.http.dashboard.state import RATE_SECONDS, build_state, throughput_out
from msgbridge.service.runtime import Runtime


@dataclass(frozen=True)
class Backlog:
    pending: int
    failed: int
    oldest_pending_at: float | None


async def settled(runtime: Runtime, name: str, total: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        view = await runtime.campaign(name)
        if view is not None and view.counts.get(DeliveryStatus.DELIVERED, 0) == total:
            return
        assert time.monotonic() < deadline, f"campaign {name} did not settle: {view}"
        await asyncio.sleep(0.02)


async def test_state_holds_campaigns_newest_first_transports_throughput_and_the_backlog(
    tmp_path: Path,
) -> None:
    runtime = Runtime(
        store=str(tmp_path / "s.db"), transports={"sms": "memory://?dlr_delay_ms=1", "mail": "memory://"}
    )
    async with runtime:
        assert await runtime.wait_ready()
        for name, n in (("first", 3), ("second", 5)):
            await runtime.start_campaign(
                CampaignSubmission(name=name, template="hi"),
                [(i + 1, f"+7701300{i:04d}", {}, None) for i in range(n)],
            )
            await settled(runtime, name, n)
            await asyncio.sleep(0.01)  # created_at apart

        async def backlog() -> Backlog:
            return Backlog(pending=4, failed=1, oldest_pending_at=123.5)

        state = await build_state(runtime, key="ops", backlog=backlog)
        assert state.key == "ops"
        assert [c.name for c in state.campaigns] == ["second", "first"]
        assert [(c.total, c.done, c.progress) for c in state.campaigns] == [(5, 5, 1.0), (3, 3, 1.0)]
        assert [t.name for t in state.transports] == ["sms", "mail"]
        assert state.transports[0].sent == {DeliveryStatus.SUBMITTED: 8}
        assert sum(state.throughput.sent) == 8 and len(state.throughput.sent) == 900
        assert sum(state.throughput.receipts) == state.receipts.matched + state.receipts.parked
        assert state.backlog is not None and (state.backlog.pending, state.backlog.failed) == (4, 1)
        assert state.errors == []

        one = await build_state(runtime, key="ops", campaigns=1)
        assert [c.name for c in one.campaigns] == ["second"] and one.backlog is None
        assert one.model_dump(mode="json")["backlog"] is None


def test_the_rate_is_the_mean_of_the_last_complete_seconds() -> None:
    series = [(float(t), 1, 0) for t in range(100)]
    series[-1] = (99.0, 500, 0)  # the second still filling is left out
    series[-2] = (98.0, 11, 2)
    out = throughput_out(series)
    assert out.start == 0.0 and out.sent_per_second == (11 + (RATE_SECONDS - 1)) / RATE_SECONDS
    assert out.receipts[-2] == 2


async def test_open_pages_share_one_build_for_a_moment(tmp_path: Path) -> None:
    now = [100.0]
    board = Dashboard(clock=lambda: now[0])
    async with Runtime(store=str(tmp_path / "s.db"), transports={"sms": "memory://"}) as runtime:
        first = await board.state(runtime, "ops")
        assert await board.state(runtime, "ops") is first
        other = await board.state(runtime, "audit")
        assert (
            other.key == "audit" and other.generated_at == first.generated_at
        )  # the same build, its own key
        now[0] += REUSE
        assert (await board.state(runtime, "ops")) is not first
