"""Which status events a target wants, decided when the event would be written.

A target's ``mask`` (the SMPP front's registered_delivery; Kannel's dlr-mask) may say that it wants only some
changes: an ESME that asked for the final outcome needs no event for SUBMITTED. Writing that event anyway
costs an insert, a claim and an update marking it skipped, for every message. So a front that knows what its
masks mean registers it here as data (:meth:`EventRules.register`: for a format, the statuses each mask
wants), and the store leaves out the events no target wants in the transaction that makes the change. The
store knows nothing of what a mask means: a format or a mask nobody registered gets every event, as before,
and the reader of the events (the pump, the webhooks worker) still applies its own rule to what it claims.

With ``[events] record = "all"`` a change is still recorded: its event is written without the target, so
nothing is sent for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import STATUS_EVENT
from msgbridge.store.dialect import Conn
from msgbridge.store.texts import Texts

# Where a row of events.INSERT_EVENTS holds what the rule reads and what an unwanted row loses.
_TYPE, _STATUS, _TARGET = 1, 4, 9

Wanted = frozenset[DeliveryStatus] | None  # None: every status


class EventRules:
    """The registered rules, and the decision for each target id met (a target's text never changes)."""

    def __init__(self) -> None:
        self._formats: dict[str, Mapping[int | None, frozenset[DeliveryStatus]]] = {}
        self._by_target: dict[int, Wanted] = {}

    def register(self, format: str, by_mask: Mapping[int | None, frozenset[DeliveryStatus]]) -> None:
        """Targets of ``format`` get status events only for ``by_mask[target.mask]`` (a mask not in it:
        all). Replaces what ``format`` had; decisions already taken are made again."""
        self._formats[format] = dict(by_mask)
        self._by_target.clear()

    def __bool__(self) -> bool:
        return bool(self._formats)

    def _wanted(self, text: str) -> Wanted:
        try:
            target = CallbackTarget.loads(text)
        except ValueError:
            return None
        by_mask = self._formats.get(target.format)
        return by_mask.get(target.mask) if by_mask is not None else None

    async def apply(
        self, c: Conn, texts: Texts, rows: Sequence[Sequence[Any]], *, record_all: bool
    ) -> Sequence[Sequence[Any]]:
        """``rows`` (INSERT_EVENTS rows) less the status events their target does not want; with
        ``record_all`` such a row stays, without its target (not pending: nothing is sent)."""
        if not self._formats or not rows:
            return rows
        ids = {r[_TARGET] for r in rows if r[_TARGET] is not None and r[_TARGET] not in self._by_target}
        if ids:
            await texts.load(c, ids)
            for i in ids:
                text = texts.words.get(i)
                self._by_target[i] = self._wanted(text) if text is not None else None
        out: list[Sequence[Any]] = []
        for r in rows:
            target = r[_TARGET]
            wanted = self._by_target.get(target) if target is not None else None
            if wanted is None or r[_TYPE] != STATUS_EVENT or r[_STATUS] in wanted:
                out.append(r)
            elif record_all:
                out.append((*r[:_TARGET], None, None, None))
        return out
