"""BSG campaigns as provider campaigns: run (the send itself), stop, and read a campaign's detail.

BSG has no separate "create" and "start": sending is the campaign. A stopped
campaign's unsent messages are CANCELED (``transport.py`` reads them so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from msgbridge.adapters.base import ProviderCampaignResult
from msgbridge.adapters.http.bsg.client import BsgClient, campaign_or_raise
from msgbridge.adapters.http.bsg.payload import CAMPAIGN_FINAL, BsgConfig, request_of
from msgbridge.adapters.http.payload import Call
from msgbridge.core.message import Campaign, Message


def stop_call(campaign_id: str) -> Call:
    return Call(f"PATCH /api/campaigns/{campaign_id}/stop", None)


def detail_call(campaign_id: str) -> Call:
    return Call(f"GET /api/campaigns/{campaign_id}/detail", None)


def stop_request(cfg: BsgConfig, token: str, campaign_id: str) -> httpx.Request:
    return request_of(cfg.base_url, token, stop_call(campaign_id))


def detail_request(cfg: BsgConfig, token: str, campaign_id: str) -> httpx.Request:
    return request_of(cfg.base_url, token, detail_call(campaign_id))


def _numeric(text: str) -> tuple[int, str]:
    return (int(text), text) if text.isdigit() else (0, text)


class BsgCampaigns(BsgClient):
    """run_campaign, cancel_campaign and campaign_status on a bsg:// transport."""

    async def run_campaign(self, campaign: Campaign, recipients: Sequence[Message]) -> ProviderCampaignResult:
        """The campaign through /campaigns/sms/send(-individual), split above 10,000 numbers.

        BSG has no separate "create" and "start": sending the campaign is the
        provider-side campaign, so this is ``send()`` with the campaign's
        sender and schedule applied and the campaign ids reported.
        """
        before = self.requests_made
        prepared = [
            m.model_copy(
                update={
                    "sender": m.sender or campaign.sender,
                    "scheduled_at": m.scheduled_at or campaign.scheduled_at,
                }
            )
            for m in recipients
        ]
        results = await self.send(prepared)
        ids = sorted(
            {str(r.raw["campaign_id"]) for r in results if r.raw and "campaign_id" in r.raw}, key=_numeric
        )
        statuses = {
            str(r.raw.get("campaign_status")) for r in results if r.raw and "campaign_status" in r.raw
        }
        return ProviderCampaignResult(
            campaign_id=",".join(ids),
            status=",".join(sorted(statuses)) if statuses else "not_created",
            results=results,
            requests=self.requests_made - before,
            raw={"campaign_ids": ids},
        )

    async def cancel_campaign(self, campaign_id: str) -> dict[str, Any]:
        """PATCH /campaigns/{id}/stop: unsent messages are canceled, sent ones may still be delivered."""
        reply = await self.exchange(stop_call(campaign_id), send=False)
        data = campaign_or_raise(reply, "stop")
        self._stopped.add(campaign_id)
        return data

    async def campaign_status(self, campaign_id: str) -> dict[str, Any]:
        reply = await self.exchange(detail_call(campaign_id), send=False)
        data = campaign_or_raise(reply, "detail")
        data["final"] = data.get("status") in CAMPAIGN_FINAL
        return data
