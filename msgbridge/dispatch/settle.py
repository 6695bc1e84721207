"""Messages left in doubt by an earlier run, settled before anything new is sent (docs/reliability.md).

Where the transport can look messages up (a ``ReferenceLookup``), found ones
become SUBMITTED with their native id and the rest are queued again;
otherwise they stay MAYBE_SUBMITTED (a warning says so) unless the user asks
to resend them (``--resend-maybe``). What another live run holds is never
touched. ``fail_unsent`` is the other end: a one-off command that failed
before sending fails what is still queued, so no later process sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from msgbridge.adapters.base import ReferenceLookup, Transport
from msgbridge.core.errors import ErrorInfo, UnsupportedFeature
from msgbridge.core.message import SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.stats import DispatchStats
from msgbridge.store.base import MessageRecord, Store

log = logging.getLogger("msgbridge.dispatch.dispatcher")

# Messages in doubt looked up (or queued again) per round.
SETTLE_PAGE = 500


class Settler:
    """Settles what dead runs left MAYBE_SUBMITTED; warns once about what live runs hold."""

    def __init__(self, store: Store, transport: Transport, stats: DispatchStats) -> None:
        self.store = store
        self.transport = transport
        self.stats = stats
        self._warned_in_doubt = False

    async def fail_unsent(self, message_ids: Sequence[str], error: ErrorInfo, *, keep: bool = False) -> None:
        """A command that failed before sending these: FAILED with ``error``, or (``keep``) left QUEUED.

        Only messages still QUEUED change: one that may have been written stays
        in doubt. ``keep`` is for a failure worth retrying (a network error)
        when the caller can name the message again (``send --reference``).
        """
        queued = [
            mid
            for mid in message_ids
            if (rec := await self.store.get(mid)) is not None and rec.status is DeliveryStatus.QUEUED
        ]
        if keep:
            if queued:
                log.warning("%d messages left queued: send them again with the same reference", len(queued))
            return
        await self.store.record_results(
            [SendResult(message_id=mid, status=DeliveryStatus.FAILED, error=error) for mid in queued],
            link=self.transport.link,
        )

    async def settle(
        self,
        campaign: str | None = None,
        *,
        resend: bool = False,
        message_ids: Sequence[str] | None = None,
        origin: str | None = None,
    ) -> None:
        """Resolve messages a previous run left MAYBE_SUBMITTED, before anything new is sent.

        What another *live* run holds is never touched: it is in flight there,
        not left behind (its owner records the answers or, if it dies, the
        next run settles them).
        """
        can_lookup = isinstance(self.transport, ReferenceLookup)
        if message_ids is None and not self._warned_in_doubt:
            # Once per dispatcher: a long-running caller (the SMTP gateway's pump) calls send_pending often.
            self._warned_in_doubt = True
            counts = await self.store.doubt_counts(campaign, origin)
            if counts.held:
                log.warning(
                    "%d messages are in flight in another run that is still live; they are left to it "
                    "(neither settled nor resent here)",
                    counts.held,
                )
            if counts.left and not resend and not can_lookup:
                log.warning(
                    "%d messages may have been sent by a run that ended before their answer was recorded; "
                    "%s:// cannot look them up, so they stay MAYBE_SUBMITTED until resent explicitly",
                    counts.left,
                    self.transport.scheme,
                )
        if not resend and not can_lookup:
            return
        seen: set[str] = set()
        while True:
            if message_ids is not None:
                records = [await self.store.get(mid) for mid in message_ids]
                doubt = [r for r in records if r is not None and r.status is DeliveryStatus.MAYBE_SUBMITTED]
            else:
                doubt = await self.store.in_doubt(SETTLE_PAGE, campaign=campaign, origin=origin)
            # Each page leaves MAYBE_SUBMITTED below; ``seen`` stops the loop if something does not.
            page = [r for r in doubt if r.message.id not in seen]
            if not page:
                return
            seen.update(r.message.id for r in page)
            if resend:
                await self.store.requeue([r.message.id for r in page], not_before=0.0, error=None)
                self.stats.resent_maybe += len(page)
            elif not await self._settle_by_lookup(page):
                return

    async def _settle_by_lookup(self, page: list[MessageRecord]) -> bool:
        """Ask the peer about ``page``; False when it turns out it cannot be asked."""
        transport = self.transport
        if not isinstance(transport, ReferenceLookup):
            return False
        by_ref = {(r.message.reference or r.message.id): r for r in page}
        try:
            found = await transport.lookup(list(by_ref))
        except UnsupportedFeature:
            return False
        results = [
            replace(res, message_id=by_ref[ref].message.id, status=DeliveryStatus.SUBMITTED)
            for ref, res in found.items()
            if ref in by_ref
        ]
        unsent = [r.message.id for ref, r in by_ref.items() if ref not in found]
        await self.store.record_results(results, link=self.transport.link)
        await self.store.requeue(unsent, not_before=0.0, error=None)
        self.stats.settled_sent += len(results)
        self.stats.settled_unsent += len(unsent)
        log.info(
            "settled %d in-doubt messages: %d were sent, %d queued again",
            len(page),
            len(results),
            len(unsent),
        )
        return True
