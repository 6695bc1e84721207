"""The selzy:// transport: sendSms through the shared send loop, status by checkSms or campaign stats."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from msgbridge.adapters.base import Capabilities
from msgbridge.adapters.http.selzy.campaigns import SelzyCampaigns, split_campaign_native_id
from msgbridge.adapters.http.selzy.payload import MAX_PHONES_PER_SEND
from msgbridge.core.errors import ErrorInfo, MessagingError
from msgbridge.core.message import DeliveryReceipt

log = logging.getLogger(__name__)


class SelzyTransport(SelzyCampaigns):
    """``selzy://API_KEY@api.selzy.com?lang=en&platform=NAME&sender=NAME``.

    ``send()`` is the shared loop over :class:`~msgbridge.adapters.http.selzy.payload.SelzyPayload`
    (sendSms, 150 numbers a call); provider campaigns come from ``campaigns.py``.
    """

    summary = "Selzy SMS API (sendSms batches of 150, checkSms, campaign flow)"
    capabilities = Capabilities(max_batch=MAX_PHONES_PER_SEND, status_poll=MAX_PHONES_PER_SEND)

    async def status(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        sms_ids: list[str] = []
        campaigns: dict[str, set[str]] = {}
        for native in native_ids:
            split = split_campaign_native_id(native)
            if split is None:
                sms_ids.append(native)
            else:
                campaigns.setdefault(split[0], set()).add(native)

        async def one_check(sms_id: str) -> list[DeliveryReceipt]:
            reply = await self.exchange(self.payload.build_status([sms_id]), send=False)
            parsed = self.payload.parse_status(reply, [sms_id], self.link)
            if isinstance(parsed, ErrorInfo):
                log.warning("selzy checkSms %s: %s", sms_id, parsed)
                return []
            return parsed

        async def one_campaign(campaign_id: str, wanted: set[str]) -> list[DeliveryReceipt]:
            try:
                snapshot = await self._delivery_snapshot(campaign_id)
            except MessagingError as exc:
                log.warning("selzy getCampaignDeliveryStats %s: %s", campaign_id, exc)
                return []
            return [snapshot[n] for n in sorted(wanted) if n in snapshot]

        jobs = [one_check(s) for s in sms_ids] + [one_campaign(c, w) for c, w in campaigns.items()]
        return await self.gather_batches(jobs, self.concurrency)
