"""The SMPP SMSC simulator: ``SmscSimulator(...).serve(host, port)`` runs a real TCP server.

:mod:`core` holds the state and rules (:class:`SmscCore`), :mod:`session` one
connection's protocol, :mod:`server` the listener around them.
"""

from __future__ import annotations

from msgbridge.simulators.smsc.core import SmscCore
from msgbridge.simulators.smsc.malformed import MALFORMED
from msgbridge.simulators.smsc.mo import mo_bodies
from msgbridge.simulators.smsc.receipts import OUTCOMES, receipt_id
from msgbridge.simulators.smsc.server import SmscServer, SmscSimulator, parse_mix, parse_users
from msgbridge.simulators.smsc.session import SmscSession
from msgbridge.simulators.smsc.stats import SmscStats, Submitted

__all__ = [
    "MALFORMED",
    "OUTCOMES",
    "SmscCore",
    "SmscServer",
    "SmscSession",
    "SmscSimulator",
    "SmscStats",
    "Submitted",
    "mo_bodies",
    "parse_mix",
    "parse_users",
    "receipt_id",
]
