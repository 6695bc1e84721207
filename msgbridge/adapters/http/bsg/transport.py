"""The bsg:// transport: campaigns of up to 10,000 numbers through the shared send loop, status by pages.

Each message carries a ``reference_id`` of ours and its native id is
``<campaign_id>/<reference_id>``; statuses are read page by page with
``GET /api/messages?filter[campaign_id]=...``. BSG refuses a duplicate
``reference_id``, which is what makes looking a message up by reference (and
resending one that was not found) safe.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from msgbridge.adapters.base import Capabilities
from msgbridge.adapters.http.bsg.campaigns import BsgCampaigns
from msgbridge.adapters.http.bsg.client import raise_for
from msgbridge.adapters.http.bsg.groups import BsgGroups
from msgbridge.adapters.http.bsg.payload import (
    MAX_NUMBERS,
    PAGE_LIMIT,
    failure,
    parse_messages,
    reference_id,
    split_native_id,
)
from msgbridge.core.errors import ErrorCode, ErrorInfo, MessagingError
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus

log = logging.getLogger(__name__)


class BsgTransport(BsgGroups, BsgCampaigns):
    """``bsg://API_KEY@one-api.bsg.world?sender=NAME&tariff_code=0``."""

    summary = "BSG one-api (campaigns of up to 10,000 numbers, bearer token, message status pages)"
    capabilities = Capabilities(max_batch=MAX_NUMBERS, status_poll=MAX_NUMBERS)
    # BSG's API documentation, limits: "A duplicate `reference_id` gets the message rejected." Every
    # message we send carries one (message_reference), so a send repeated after a 5xx that BSG had in
    # fact taken is refused with 422 "The reference id has already been taken" and settled by lookup
    # (send_batch): resending is safe here, and the dispatcher's retry does it.
    resend_is_safe = True
    # A 422 names the refused items and BSG took none of the campaign: the rest go again.
    send_rounds = 3

    async def send_batch(
        self, messages: Sequence[Message], indexes: Sequence[int]
    ) -> list[tuple[int, SendResult]]:
        """One campaign; an item refused because its reference_id is taken was sent before (the
        reference is the idempotency key): it is looked up and reported SUBMITTED under the id it
        already has, not failed.
        """
        out = await super().send_batch(messages, indexes)
        duplicates = [
            i
            for i, r in out
            if r.status is DeliveryStatus.REJECTED
            and r.error is not None
            and r.error.code is ErrorCode.DUPLICATE
        ]
        if not duplicates:
            return out
        settled = dict(out)
        found = await self.lookup([messages[i].reference or messages[i].id for i in duplicates])
        for i in duplicates:
            message = messages[i]
            earlier = found.get(message.reference or message.id)
            if earlier is not None:
                settled[i] = SendResult(
                    message_id=message.id,
                    status=DeliveryStatus.SUBMITTED,
                    native_id=earlier.native_id,
                    warnings=(f"already sent as {earlier.native_id}; not sent again",),
                )
        return list(settled.items())

    # -- status and lookup

    async def _pages(
        self,
        *,
        campaign_id: str | None = None,
        ref: str | None = None,
        wanted: set[str] | None = None,
        strict: bool = False,
    ) -> list[DeliveryReceipt]:
        """Receipts from GET /api/messages, page by page. A failed page ends the walk: logged, or
        raised when ``strict`` (a lookup must not take "could not ask" for "not there")."""
        receipts: list[DeliveryReceipt] = []
        offset = 0
        while True:
            reply = await self.exchange(
                self.payload.build_page(campaign_id=campaign_id, ref=ref, offset=offset), send=False
            )
            error = failure(reply)
            parsed = parse_messages(reply.data, self.link) if error is None else error
            if isinstance(parsed, ErrorInfo):
                if strict:
                    raise_for(parsed, "messages")
                log.warning("bsg messages page (campaign %s): %s", campaign_id, parsed)
                return receipts
            page, count = parsed
            receipts.extend(page)
            offset += count
            if count < PAGE_LIMIT or (wanted is not None and wanted <= {r.native_id for r in receipts}):
                return receipts

    async def status(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        by_campaign: dict[str, set[str]] = {}
        for native in native_ids:
            split = split_native_id(native)
            if split is not None:
                by_campaign.setdefault(split[0], set()).add(native)

        async def one(campaign_id: str, wanted: set[str]) -> list[DeliveryReceipt]:
            found = [
                r for r in await self._pages(campaign_id=campaign_id, wanted=wanted) if r.native_id in wanted
            ]
            if any(not r.status.is_final for r in found) and campaign_id not in self._stopped:
                try:
                    detail = await self.campaign_status(campaign_id)
                except MessagingError as exc:
                    log.warning("bsg campaign %s detail: %s", campaign_id, exc)
                    detail = {}
                if detail.get("status") == "stopped":
                    self._stopped.add(campaign_id)
            if campaign_id in self._stopped:
                # Still waiting in a stopped campaign = never handed over: canceled.
                found = [
                    replace(r, status=DeliveryStatus.CANCELED) if r.status is DeliveryStatus.QUEUED else r
                    for r in found
                ]
            return found

        return await self.gather_batches([one(c, w) for c, w in by_campaign.items()], self.concurrency)

    async def lookup(self, references: Sequence[str]) -> dict[str, SendResult]:
        """Which references BSG has a message for (filter[reference_id]); the rest were never taken."""

        async def one(ref: str) -> list[tuple[str, SendResult]]:
            found = await self._pages(ref=reference_id(ref), strict=True)
            if not found:
                return []
            receipt = found[0]
            return [
                (
                    ref,
                    SendResult(message_id=ref, status=DeliveryStatus.SUBMITTED, native_id=receipt.native_id),
                )
            ]

        pairs = await self.gather_batches([one(r) for r in references], self.concurrency)
        return dict(pairs)

    # -- campaigns
