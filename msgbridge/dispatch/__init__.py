"""Campaign preparation and the dispatcher that sends the outbox and collects receipts."""

from __future__ import annotations

from msgbridge.dispatch.dispatcher import Dispatcher, DispatchStats

__all__ = ["DispatchStats", "Dispatcher"]
