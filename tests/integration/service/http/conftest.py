"""The SMSC simulator for the HTTP API tests: receipts after 20 ms, all delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_helpers import USERS

from msgbridge.simulators.smsc import SmscSimulator


@pytest.fixture
async def sim() -> AsyncIterator[SmscSimulator]:
    simulator = SmscSimulator(users=USERS, dlr_delay_ms=20, seed=5)
    async with simulator.serve("127.0.0.1", 0):
        yield simulator
