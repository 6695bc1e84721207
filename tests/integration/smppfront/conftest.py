"""The SMPP server the independent ESMEs bind to (``target``), and a receiver for Kannel's dlr-url calls.

The ESME tests only see ``Target`` (host, port, account, what it received),
so the server behind it can change without touching them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from front_peers import DlrReceiver, Target

from msgbridge.simulators.smsc import SmscSimulator


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    """Our SMSC simulator: account u:p, receipts (delivered) 20 ms after each submit_sm."""
    sim = SmscSimulator(users={"u": "p"}, dlr_delay_ms=20, seed=1)
    async with sim.serve("127.0.0.1", 0):
        yield Target(
            "127.0.0.1",
            sim.port,
            "u",
            "p",
            lambda: [s.short_message for s in sim.submitted],
            lambda: [s.message_id for s in sim.submitted],
        )


@pytest.fixture
def dlr_receiver() -> Iterator[DlrReceiver]:
    receiver = DlrReceiver()
    yield receiver
    receiver.close()
