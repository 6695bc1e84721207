"""Selzy's own campaign objects: list + SMS message + campaign, and their delivery stats.

The integration-guidelines flow: ``getLists`` / ``createList``,
``importContacts`` (``lists.py``), ``createSmsMessage``, ``createCampaign``;
status by ``getCampaignDeliveryStats``. A campaign message's native id is
``c<campaign_id>:<phone digits>``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from msgbridge.adapters.base import ProviderCampaignResult
from msgbridge.adapters.http.replies import truncate
from msgbridge.adapters.http.selzy.lists import SelzyLists, raise_for, result_dict, result_field
from msgbridge.adapters.http.selzy.payload import (
    CAMPAIGN_FINAL,
    CAMPAIGN_ID_PREFIX,
    MAX_SCHEDULE_AHEAD,
    SelzyConfig,
    api_request,
    error_of,
    map_status,
    phone_digits,
    validate,
    warnings_of,
)
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import Campaign, DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus


def parse_delivery_stats(data: Any, campaign_id: str, link: str) -> list[DeliveryReceipt] | ErrorInfo:
    """Legacy synchronous form: ``{"fields": [..., "phone", "send_result"], "data": [[...], ...]}``."""
    error = error_of(data)
    if error is not None:
        return error
    result = data["result"]
    if not isinstance(result, dict) or not isinstance(result.get("fields"), list):
        return ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"no fields in {result!r}"))
    fields = [str(f) for f in result["fields"]]
    try:
        phone_at, status_at = fields.index("phone"), fields.index("send_result")
    except ValueError:
        return ErrorInfo(
            code=ErrorCode.PROTOCOL_ERROR, native_message=f"fields lack phone/send_result: {fields}"
        )
    receipts: list[DeliveryReceipt] = []
    rows = result.get("data")
    for row in rows if isinstance(rows, list) else ():
        if not isinstance(row, list) or len(row) <= max(phone_at, status_at):
            continue
        phone = str(row[phone_at]).lstrip("+")
        native = str(row[status_at])
        receipts.append(
            DeliveryReceipt(
                native_id=campaign_native_id(campaign_id, phone),
                status=map_status(native),
                native_status=native,
                link=link,
            )
        )
    return receipts


def campaign_native_id(campaign_id: str, phone: str) -> str:
    return f"{CAMPAIGN_ID_PREFIX}{campaign_id}:{phone}"


def split_campaign_native_id(native_id: str) -> tuple[str, str] | None:
    if not native_id.startswith(CAMPAIGN_ID_PREFIX) or ":" not in native_id:
        return None
    campaign_id, phone = native_id[len(CAMPAIGN_ID_PREFIX) :].split(":", 1)
    return campaign_id, phone


def create_campaign_request(cfg: SelzyConfig, message_id: str, start_time: datetime | None) -> httpx.Request:
    args = {"message_id": message_id, "track_read": "1", "track_links": "1"}
    if start_time is not None:
        args["start_time"] = start_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        args["timezone"] = "UTC"
    return api_request(cfg, "createCampaign", args)


class SelzyCampaigns(SelzyLists):
    """run_campaign, its status and stats, and cancel, on a selzy:// transport."""

    async def run_campaign(self, campaign: Campaign, recipients: Sequence[Message]) -> ProviderCampaignResult:
        """The provider campaign for the recipients whose fields Selzy can carry; each other one gets its
        own UNSUPPORTED result (the unsupported-field rule, ``unsupported=`` in the URL)."""
        return await self.screened_campaign(campaign, recipients, self._run_campaign)

    async def _run_campaign(
        self, campaign: Campaign, recipients: Sequence[Message]
    ) -> ProviderCampaignResult:
        """Send a campaign through Selzy's own list + message + campaign objects.

        A fresh list per run (named after the campaign and its recipients) so
        a campaign never reaches contacts left in a list by an earlier run;
        the same run repeated finds its list again instead of making another.
        When the texts differ, each contact carries its own text, already
        rendered by us, in a contact field (``text_field``) and the message
        body is ``{{text_field}}``: what each recipient gets is exactly what
        our template engine produced, not a re-rendering by Selzy.
        """
        requests_before = self.requests_made
        results: dict[int, SendResult] = {}
        rows: list[tuple[str, Mapping[str, str]]] = []
        row_index: list[int] = []
        sender = campaign.sender or (recipients[0].sender if recipients else None) or self.default_sender
        texts = {m.text for m in recipients}
        personalised = len(texts) > 1
        for index, message in enumerate(recipients):
            problem = validate(message.model_copy(update={"scheduled_at": None}), sender)
            if problem is not None:
                results[index] = SendResult(
                    message_id=message.id, status=DeliveryStatus.REJECTED, error=problem
                )
                continue
            values = {self.text_field: message.text} if personalised else {}
            rows.append((phone_digits(message.to) or "", values))
            row_index.append(index)
        fields = [self.text_field] if personalised else []
        if not rows:
            return ProviderCampaignResult(
                campaign_id="",
                status="not_created",
                results=[results[i] for i in range(len(recipients))],
                requests=self.requests_made - requests_before,
            )
        digest = hashlib.sha1("\n".join(p for p, _ in rows).encode()).hexdigest()[:8]
        list_id = campaign.options.get("list_id") or await self.find_or_create_list(
            f"{campaign.name} {digest}"
        )
        if personalised:
            await self.ensure_field(self.text_field)
        refused = await self.import_contacts(list_id, rows, fields)
        body = "{{" + self.text_field + "}}" if personalised else next(iter(texts))
        data, error = await self._api(
            "createSmsMessage", {"sender": sender or "", "body": body, "list_id": list_id}, send=False
        )
        if error is not None:
            raise_for(error, "createSmsMessage")
        message_id = str(result_field(data, "message_id", "createSmsMessage"))
        warnings = warnings_of(data)
        start = campaign.scheduled_at
        if start is not None:
            now = datetime.now(UTC)
            aware = start if start.tzinfo else start.replace(tzinfo=UTC)
            if aware - now > MAX_SCHEDULE_AHEAD:
                raise ConfigError("scheduled_at: Selzy schedules at most 100 days ahead")
            if aware <= now:
                start = None
        reply = await self.call_with_retry(
            lambda: create_campaign_request(self.cfg, message_id, start),
            send=True,
            provider_error=self._provider_error,
            refusals_undone=True,
        )
        result = reply.data.get("result") if isinstance(reply.data, dict) else None
        error = reply.error
        if error is None and (not isinstance(result, dict) or not result.get("campaign_id")):
            # "OK" without a campaign id: the campaign may exist; never guess it did not.
            error = ErrorInfo(
                code=ErrorCode.PROTOCOL_ERROR,
                native_code=reply.status_code,
                native_message=truncate(f"createCampaign result: {result!r}"),
            )
        if error is not None or not isinstance(result, dict):
            assert error is not None
            for row, index in enumerate(row_index):
                results[index] = (
                    SendResult(
                        message_id=recipients[index].id, status=DeliveryStatus.REJECTED, error=refused[row]
                    )
                    if row in refused
                    else self.failed(recipients[index], error, reply)
                )
            return ProviderCampaignResult(
                campaign_id="",
                status="failed",
                results=[results[i] for i in range(len(recipients))],
                requests=self.requests_made - requests_before,
                raw={"message_id": message_id, "list_id": list_id},
            )
        campaign_id = str(result["campaign_id"])
        warnings += warnings_of(reply.data)
        for row, index in enumerate(row_index):
            message = recipients[index]
            if row in refused:
                results[index] = SendResult(
                    message_id=message.id, status=DeliveryStatus.REJECTED, error=refused[row]
                )
                continue
            results[index] = SendResult(
                message_id=message.id,
                status=DeliveryStatus.SUBMITTED,
                native_id=campaign_native_id(campaign_id, rows[row][0]),
                warnings=warnings,
            )
        return ProviderCampaignResult(
            campaign_id=campaign_id,
            status=str(result.get("status", "")),
            results=[results[i] for i in range(len(recipients))],
            requests=self.requests_made - requests_before,
            warnings=warnings,
            raw={
                "message_id": message_id,
                "list_id": list_id,
                **{k: v for k, v in result.items() if k != "campaign_id"},
            },
        )

    async def cancel_campaign(self, campaign_id: str) -> None:
        _, error = await self._api("cancelCampaign", {"campaign_id": campaign_id}, send=False)
        if error is not None:
            raise_for(error, "cancelCampaign")

    async def campaign_status(self, campaign_id: str) -> dict[str, Any]:
        """getCampaignStatus: ``{status, creation_time, start_time}``; ``final`` added from CAMPAIGN_FINAL."""
        data, error = await self._api("getCampaignStatus", {"campaign_id": campaign_id}, send=False)
        if error is not None:
            raise_for(error, "getCampaignStatus")
        result = result_dict(data, "getCampaignStatus")
        result["final"] = result.get("status") in CAMPAIGN_FINAL
        return result

    async def _delivery_snapshot(self, campaign_id: str) -> dict[str, DeliveryReceipt]:
        """One campaign's report, reused for ``stats_ttl`` seconds.

        The report covers the whole campaign while the dispatcher asks about
        ``status_poll`` ids at a time; without this a 10,000-recipient
        campaign would be downloaded 67 times per poll round.
        """
        now = time.monotonic()
        cached = self._stats_cache.get(campaign_id)
        if cached is not None and now - cached[0] < self.stats_ttl:
            return cached[1]
        snapshot = {r.native_id: r for r in await self.campaign_delivery(campaign_id)}
        self._stats_cache[campaign_id] = (now, snapshot)
        return snapshot

    async def campaign_delivery(self, campaign_id: str) -> list[DeliveryReceipt]:
        data, error = await self._api("getCampaignDeliveryStats", {"campaign_id": campaign_id}, send=False)
        if error is not None:
            raise_for(error, "getCampaignDeliveryStats")
        parsed = parse_delivery_stats(data, campaign_id, self.link)
        if isinstance(parsed, ErrorInfo):
            raise_for(parsed, "getCampaignDeliveryStats")
        return parsed

    async def campaign_stats(self, campaign_id: str) -> dict[str, Any]:
        data, error = await self._api("getCampaignCommonStats", {"campaign_id": campaign_id}, send=False)
        if error is not None:
            raise_for(error, "getCampaignCommonStats")
        return result_dict(data, "getCampaignCommonStats")
