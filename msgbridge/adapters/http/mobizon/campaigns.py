"""Mobizon campaigns: create -> addRecipients (<= 500 a call) -> send, with background tasks followed.

Mass operations (campaign/addRecipients) answer per item: code 98 (some
added) and 99 (none) are not failures of the whole request; code 100 moves
the work to the background, followed with ``taskqueue/getStatus``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from msgbridge.adapters.base import ProviderCampaignResult
from msgbridge.adapters.http.mobizon.client import MobizonClient
from msgbridge.adapters.http.mobizon.payload import (
    Envelope,
    answered_unreadably,
    check_message,
    envelope_error,
    format_ts,
    validity_minutes,
)
from msgbridge.adapters.http.mobizon.tables import (
    CAMPAIGN_BULK,
    CAMPAIGN_TEMPLATE,
    MAX_RECIPIENTS,
    RECIPIENT_ERRORS,
    TASK_FINAL,
    TASK_STATUSES,
)
from msgbridge.adapters.http.replies import truncate
from msgbridge.core.errors import ErrorCode, ErrorInfo, MessagingError, TransportError
from msgbridge.core.message import Campaign, Message, SendResult
from msgbridge.core.phone import digits
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.template import render

log = logging.getLogger(__name__)

_PLACEHOLDER_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _items(data: object) -> list[Mapping[str, object]]:
    if isinstance(data, dict):
        for key in ("items", "recipients", "list"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list):
        return []
    return [item for item in data if isinstance(item, dict)]


def parse_add_recipients(reply: Envelope | ErrorInfo, messages: Sequence[Message]) -> list[SendResult]:
    """Per-recipient outcome of one campaign/addRecipients call (codes 0, 98 and 99 alike).

    An added recipient is SUBMITTED with its messageId only once the campaign
    is sent; until then the caller holds these results.
    """
    if isinstance(reply, ErrorInfo):
        return [SendResult(message_id=m.id, status=DeliveryStatus.FAILED, error=reply) for m in messages]
    whole = envelope_error(reply)
    items = _items(reply.data)
    if whole is not None and reply.code not in (98, 99):
        return [SendResult(message_id=m.id, status=DeliveryStatus.FAILED, error=whole) for m in messages]
    by_number: dict[str, list[Mapping[str, object]]] = {}
    for entry in items:
        number = digits(str(entry.get("recipient") or entry.get("number") or ""))
        by_number.setdefault(number, []).append(entry)
    out: list[SendResult] = []
    for i, msg in enumerate(messages):
        queue = by_number.get(digits(msg.to))
        item: Mapping[str, object] | None = (
            queue.pop(0) if queue else (items[i] if len(items) == len(messages) else None)
        )
        if item is None:
            missing = ErrorInfo(
                code=ErrorCode.PROTOCOL_ERROR
                if reply.code == 0
                else (whole.code if whole else ErrorCode.PROTOCOL_ERROR),
                native_code=reply.code,
                native_message=f"no per-recipient result for {digits(msg.to)}",
            )
            out.append(SendResult(message_id=msg.id, status=DeliveryStatus.FAILED, error=missing))
            continue
        try:
            code = int(str(item.get("code", 0)))
        except ValueError:
            code = 99
        if code == 0:
            mid = item.get("messageId")
            nid = str(mid) if mid not in (None, "") else None
            out.append(
                SendResult(
                    message_id=msg.id,
                    status=DeliveryStatus.QUEUED,
                    native_id=nid,
                    native_ids=(nid,) if nid else (),
                    raw=dict(item),
                )
            )
            continue
        info = ErrorInfo(
            code=RECIPIENT_ERRORS.get(code, ErrorCode.PERMANENT_FAILURE),
            native_code=code,
            native_message=truncate(
                str(item.get("message") or item.get("error") or f"recipient code {code}")
            ),
        )
        status = DeliveryStatus.REJECTED if info.code is ErrorCode.DUPLICATE else DeliveryStatus.FAILED
        out.append(SendResult(message_id=msg.id, status=status, error=info, raw=dict(item)))
    return out


@dataclass(frozen=True)
class TaskState:
    progress: int
    status: int

    @property
    def final(self) -> bool:
        return self.status in TASK_FINAL

    @property
    def name(self) -> str:
        return TASK_STATUSES.get(self.status, f"status {self.status}")


def parse_task(reply: Envelope | ErrorInfo) -> TaskState | ErrorInfo:
    if isinstance(reply, ErrorInfo):
        return reply
    err = envelope_error(reply)
    if err is not None:
        return err
    data = reply.data if isinstance(reply.data, dict) else {}
    try:
        return TaskState(progress=int(str(data.get("progress", 0))), status=int(str(data.get("status"))))
    except ValueError:
        return ErrorInfo(
            code=ErrorCode.PROTOCOL_ERROR, native_message=f"bad task status: {truncate(str(reply.data))}"
        )


def template_fields(campaign: Campaign, messages: Sequence[Message]) -> list[dict[str, str]] | None:
    """Per-message placeholder values when ``campaign.template`` renders to each message's text.

    None when it does not (texts edited after rendering, literal braces,
    names Mobizon would not accept): then the campaign goes out as plain
    per-message sends instead.
    """
    from msgbridge.core.template import fields as template_names

    names = template_names(campaign.template)
    if not names or "{{" in campaign.template or "}}" in campaign.template:
        return None
    if not all(_PLACEHOLDER_NAME.match(n) for n in names):
        return None
    by_phone = {digits(r.phone.strip()).lstrip("0"): r for r in campaign.recipients}
    out: list[dict[str, str]] = []
    for msg in messages:
        recipient = by_phone.get(digits(msg.to).lstrip("0"))
        if recipient is None:
            return None
        values = {n: recipient.fields.get(n, "") for n in names}
        try:
            if render(campaign.template, values) != msg.text:
                return None
        except Exception:
            return None
        out.append(values)
    return out


class MobizonCampaigns(MobizonClient):
    """run_campaign and campaign_status on a mobizon:// transport."""

    async def follow_task(self, task_id: object) -> TaskState | ErrorInfo:
        """Poll taskqueue/getStatus until the background task is done or rejected."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.task_timeout
        while True:
            env, _ = await self.api("taskqueue", "getStatus", {"id": task_id})
            state = parse_task(env)
            if isinstance(state, ErrorInfo) or state.final:
                return state
            if loop.time() >= deadline:
                return ErrorInfo(code=ErrorCode.TIMEOUT, native_message=f"task {task_id} still {state.name}")
            await asyncio.sleep(self.task_poll)

    # -- Transport interface

    async def run_campaign(self, campaign: Campaign, recipients: Sequence[Message]) -> ProviderCampaignResult:
        """The provider campaign for the recipients whose fields Mobizon can carry; each other one gets its
        own UNSUPPORTED result (the unsupported-field rule, ``unsupported=`` in the URL)."""
        return await self.screened_campaign(campaign, recipients, self._run_campaign)

    async def _run_campaign(
        self, campaign: Campaign, recipients: Sequence[Message]
    ) -> ProviderCampaignResult:
        """create -> addRecipients (<= 500 a call, one at a time: the campaign is locked) -> send.

        Identical texts go as a bulk campaign; texts that ``campaign.template``
        renders to go as a template campaign with each recipient's fields;
        anything else falls back to per-message sends.
        """
        messages = list(recipients)
        before = self.requests_made

        def outcome(
            campaign_id: str, status: str, results: list[SendResult], warnings: Sequence[str] = ()
        ) -> ProviderCampaignResult:
            return ProviderCampaignResult(
                campaign_id=campaign_id,
                status=status,
                results=results,
                requests=self.requests_made - before,
                warnings=tuple(warnings),
            )

        if not messages:
            return outcome("", "empty", [])
        texts = {m.text for m in messages}
        if len(texts) == 1:
            kind, text, values = CAMPAIGN_BULK, messages[0].text, None
        else:
            values = template_fields(campaign, messages)
            if values is None:
                log.info("mobizon: texts differ and do not follow the template; sending one by one")
                return outcome("", "messages", await self.send(messages))
            kind, text = CAMPAIGN_TEMPLATE, campaign.template
        first = messages[0]
        probe = first.model_copy(
            update={"text": text, "scheduled_at": campaign.scheduled_at or first.scheduled_at}
        )
        problem = check_message(probe)
        if problem is not None:
            return outcome(
                "",
                "refused",
                [SendResult(message_id=m.id, status=DeliveryStatus.FAILED, error=problem) for m in messages],
            )
        data: dict[str, object] = {"name": campaign.name[:255], "text": text, "type": kind}
        sender = campaign.sender or first.sender or self.sender
        if sender:
            data["from"] = sender
        if probe.scheduled_at is not None:
            data["deferredToTs"] = format_ts(probe.scheduled_at)
        if first.validity is not None:
            data["validity"] = validity_minutes(first.validity)
        if self.shorten_links:
            data["shortenLinks"] = 1
        env, reply = await self.api("campaign", "create", {"data": data})
        created_error = env if isinstance(env, ErrorInfo) else envelope_error(env)
        if created_error is not None or not isinstance(env, Envelope) or env.data in (None, ""):
            err = created_error or ErrorInfo(
                code=ErrorCode.PROTOCOL_ERROR, native_message="campaign/create gave no id"
            )
            # nothing is sent until campaign/send, so a failed create leaves every message unsent
            if err.code.outcome_unknown:
                err = replace(err, code=ErrorCode.TEMPORARY_FAILURE)
            return outcome(
                "",
                "refused",
                [SendResult(message_id=m.id, status=DeliveryStatus.FAILED, error=err) for m in messages],
            )
        campaign_id = str(env.data)
        results: list[SendResult] = []
        warnings: list[str] = []
        for start in range(0, len(messages), MAX_RECIPIENTS):
            batch = messages[start : start + MAX_RECIPIENTS]
            rows: list[dict[str, object]] = []
            for j, m in enumerate(batch):
                row: dict[str, object] = {"recipient": digits(m.to)}
                if values is not None:
                    row.update(values[start + j])
                rows.append(row)
            params: dict[str, object] = {"id": campaign_id, "recipients": rows}
            if values is not None:
                params["params"] = {"placeholdersFlag": 1}
            env, reply = await self.api("campaign", "addRecipients", params, send=True)
            if isinstance(env, Envelope) and env.code == 100:
                state = await self.follow_task(env.data)
                if isinstance(state, ErrorInfo) or state.status != 2:
                    why = (
                        state
                        if isinstance(state, ErrorInfo)
                        else ErrorInfo(
                            code=ErrorCode.PERMANENT_FAILURE,
                            native_code=100,
                            native_message=f"background add {state.name}",
                        )
                    )
                    results.extend(
                        SendResult(message_id=m.id, status=DeliveryStatus.FAILED, error=why) for m in batch
                    )
                else:
                    warnings.append(
                        f"recipients {start}-{start + len(batch) - 1} added in the background: no message ids"
                    )
                    results.extend(SendResult(message_id=m.id, status=DeliveryStatus.QUEUED) for m in batch)
                continue
            if isinstance(env, ErrorInfo):
                # a 5xx may follow the provider taking the recipients (docs/http.md)
                doubtful = env.code.outcome_unknown or answered_unreadably(reply, env) or reply.server_error
                status = DeliveryStatus.MAYBE_SUBMITTED if doubtful else DeliveryStatus.FAILED
                results.extend(SendResult(message_id=m.id, status=status, error=env) for m in batch)
                continue
            results.extend(parse_add_recipients(env, batch))
        if not any(
            r.status is DeliveryStatus.QUEUED or r.status is DeliveryStatus.MAYBE_SUBMITTED for r in results
        ):
            return outcome(campaign_id, "empty", results, warnings)
        env, reply = await self.api("campaign", "send", {"id": campaign_id}, send=True)
        send_error = env if isinstance(env, ErrorInfo) else envelope_error(env)
        final: list[SendResult] = []
        for r in results:
            if r.status is not DeliveryStatus.QUEUED and r.status is not DeliveryStatus.MAYBE_SUBMITTED:
                final.append(r)
            elif send_error is not None:
                doubtful = (
                    send_error.code.outcome_unknown
                    or answered_unreadably(reply, send_error)
                    or reply.server_error
                )
                status = DeliveryStatus.MAYBE_SUBMITTED if doubtful else DeliveryStatus.FAILED
                final.append(replace(r, status=status, error=send_error))
            elif r.status is DeliveryStatus.QUEUED:
                final.append(replace(r, status=DeliveryStatus.SUBMITTED))
            else:
                final.append(r)
        phase = ""
        if isinstance(env, Envelope) and send_error is None:
            phase = "moderation" if str(env.data) == "1" else "sent"
        return outcome(campaign_id, phase, final, warnings)

    async def campaign_status(self, campaign_id: str) -> dict[str, object]:
        """campaign/getInfo: moderationStatus, commonStatus and the per-status counters."""
        env, _ = await self.api("campaign", "getInfo", {"id": campaign_id})
        if isinstance(env, ErrorInfo):
            raise TransportError(f"mobizon: campaign/getInfo failed: {env}", env)
        err = envelope_error(env)
        if err is not None:
            raise MessagingError(f"mobizon: campaign/getInfo refused: {err}", err)
        return dict(env.data) if isinstance(env.data, dict) else {"data": env.data}
