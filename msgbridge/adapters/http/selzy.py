"""Selzy (ex-Unisender) SMS API: POST https://api.selzy.com/{lang}/api/{method}.

Every argument, ``api_key`` included, travels in the urlencoded POST body:
the documents ask for the key never to appear in a URL (proxies log URLs) and
mixing GET and POST parameters is an error, so the URL carries only the
language and the method. ``platform`` goes on every call. Errors arrive as
HTTP 200 with ``{"error": ..., "code": ...}``; ``warnings`` on a success are
kept on the result.

Two ways to send:
- ``send()`` -> ``sendSms`` with up to 150 numbers per call (messages that
  share sender and text are batched); status by ``checkSms`` (one id a call).
- ``run_campaign()`` -> the integration-guidelines flow: ``getLists`` /
  ``createList``, ``importContacts`` (<= 500 a call), ``createSmsMessage``,
  ``createCampaign``; status by ``getCampaignDeliveryStats``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import httpx

from msgbridge.adapters.base import Capabilities, ProviderCampaignResult
from msgbridge.adapters.http.base import HTTP_OPTIONS, HttpTransport, chunks, truncate
from msgbridge.core import options as opt
from msgbridge.core.errors import AuthError, ConfigError, ErrorCode, ErrorInfo, MessagingError, TransportError
from msgbridge.core.message import Campaign, Channel, DeliveryReceipt, Message, SendResult
from msgbridge.core.options import OptionSet, OptionValues
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import TransportURL

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- tables (every row tested)

ERRORS: dict[str, ErrorCode] = {
    "unspecified": ErrorCode.PERMANENT_FAILURE,
    "invalid_api_key": ErrorCode.AUTH_FAILED,
    "access_denied": ErrorCode.ACCESS_DENIED,
    "unknown_method": ErrorCode.UNSUPPORTED,
    "invalid_arg": ErrorCode.INVALID_ARGUMENT,
    "not_enough_money": ErrorCode.INSUFFICIENT_FUNDS,
    "retry_later": ErrorCode.TEMPORARY_FAILURE,
    "api_call_limit_exceeded_for_api_key": ErrorCode.THROTTLED,
    "api_call_limit_exceeded_for_ip": ErrorCode.THROTTLED,
    "too_many_double_optins": ErrorCode.THROTTLED,
    "dest_invalid": ErrorCode.INVALID_DESTINATION,
    "src_invalid": ErrorCode.INVALID_SENDER,
}

# (code, pattern in the error text) -> ours, tried in order before ERRORS: one code, several causes.
TEXT_RULES: dict[tuple[str, str], ErrorCode] = {
    ("unspecified", r"invalid sms id|not found"): ErrorCode.NOT_FOUND,
    ("invalid_arg", r"sender"): ErrorCode.INVALID_SENDER,
    ("invalid_arg", r"text.*(long|length)"): ErrorCode.MESSAGE_TOO_LONG,
    ("invalid_arg", r"phone"): ErrorCode.INVALID_DESTINATION,
}

# Codes whose wait is far longer than any in-call retry: a daily quota.
RETRY_AFTER: dict[str, float] = {"too_many_double_optins": 3600.0}

# checkSms statuses and getCampaignDeliveryStats send_result values.
STATUSES: dict[str, DeliveryStatus] = {
    "not_sent": DeliveryStatus.QUEUED,
    "ok_sent": DeliveryStatus.SUBMITTED,
    "ok_delivered": DeliveryStatus.DELIVERED,
    "err_src_invalid": DeliveryStatus.REJECTED,
    "err_dest_invalid": DeliveryStatus.UNDELIVERABLE,
    "err_skip_letter": DeliveryStatus.CANCELED,
    "err_not_allowed": DeliveryStatus.REJECTED,
    "err_delivery_failed": DeliveryStatus.UNDELIVERABLE,
    "err_lost": DeliveryStatus.FAILED,
    "err_internal": DeliveryStatus.FAILED,
}

# getCampaignStatus values; the campaign (not each message) is done in these.
CAMPAIGN_FINAL: frozenset[str] = frozenset({"completed", "declined", "canceled", "stopped"})
CAMPAIGN_STATUSES: tuple[str, ...] = (
    "waits_censor",
    "censor_hold",
    "declined",
    "waits_schedule",
    "scheduled",
    "in_progress",
    "analysed",
    "completed",
    "stopped",
    "canceled",
)

CALLS_PER_MINUTE = 1200
MAX_PHONES_PER_SEND = 150
MAX_CONTACTS_PER_IMPORT = 500
MAX_TEXT = 1000
MAX_SCHEDULE_AHEAD = timedelta(days=100)
LANGS: frozenset[str] = frozenset({"en", "ua", "ru"})
DEFAULT_HOST = "api.selzy.com"
CAMPAIGN_ID_PREFIX = "c"  # native ids of campaign messages: "c<campaign_id>:<phone digits>"


def map_status(native: str) -> DeliveryStatus:
    """The documented rule for values not in the table: ``err_*`` failed (final), ``ok_*`` in progress."""
    if native in STATUSES:
        return STATUSES[native]
    if native.startswith("err_"):
        return DeliveryStatus.FAILED
    return DeliveryStatus.UNKNOWN


def map_error(code: str, text: str) -> ErrorCode:
    """Table lookup, refined by TEXT_RULES where one code covers several cases."""
    for (rule_code, pattern), ours in TEXT_RULES.items():
        if code == rule_code and re.search(pattern, text, re.IGNORECASE):
            return ours
    return ERRORS.get(code, ErrorCode.PERMANENT_FAILURE)


# --------------------------------------------------------------------------- config and requests


@dataclass(frozen=True)
class SelzyConfig:
    base_url: str
    api_key: str = field(repr=False)
    lang: str = "en"
    platform: str = "msgbridge"


def config_from_options(o: OptionValues, base_url: str, api_key: str) -> SelzyConfig:
    return SelzyConfig(base_url=base_url, api_key=api_key, lang=o.get_str("lang"), platform=o.get_str("platform"))


def api_request(
    cfg: SelzyConfig, method: str, args: Sequence[tuple[str, str]] | Mapping[str, str] = ()
) -> httpx.Request:
    """One API call: everything in the POST body, nothing secret in the URL."""
    items = list(args.items()) if isinstance(args, Mapping) else list(args)
    body = {"format": "json", "api_key": cfg.api_key, "platform": cfg.platform, **dict(items)}
    return httpx.Request("POST", f"{cfg.base_url}/{cfg.lang}/api/{method}", data=body)


def phone_digits(to: str) -> str | None:
    """Selzy wants the international number; ``+`` optional. None when it is not one."""
    digits = re.sub(r"[\s()\-.]", "", to).lstrip("+")
    return digits if re.fullmatch(r"\d{8,15}", digits) else None


def send_request(cfg: SelzyConfig, phones: Sequence[str], sender: str, text: str) -> httpx.Request:
    if not 1 <= len(phones) <= MAX_PHONES_PER_SEND:
        raise ValueError(f"sendSms takes 1..{MAX_PHONES_PER_SEND} numbers, got {len(phones)}")
    return api_request(cfg, "sendSms", {"phone": ",".join(phones), "sender": sender, "text": text})


def check_request(cfg: SelzyConfig, sms_id: str) -> httpx.Request:
    return api_request(cfg, "checkSms", {"sms_id": sms_id})


def validate(message: Message, default_sender: str | None) -> ErrorInfo | None:
    """What Selzy would refuse anyway, or could not honour, caught before a request is spent on it."""
    if message.channel is not Channel.SMS:
        return ErrorInfo(
            code=ErrorCode.UNSUPPORTED, native_message=f"channel: {message.channel.value} (SMS only)"
        )
    if message.validity is not None:
        return ErrorInfo(
            code=ErrorCode.UNSUPPORTED, native_message="validity: Selzy takes no validity period"
        )
    if phone_digits(message.to) is None:
        return ErrorInfo(
            code=ErrorCode.INVALID_DESTINATION,
            native_message=f"to: not an international number: {message.to!r}",
        )
    if not (message.sender or default_sender):
        return ErrorInfo(
            code=ErrorCode.INVALID_SENDER, native_message="sender: required (message sender or ?sender=)"
        )
    if not message.text:
        return ErrorInfo(code=ErrorCode.INVALID_ARGUMENT, native_message="text: empty")
    if len(message.text) > MAX_TEXT:
        return ErrorInfo(
            code=ErrorCode.MESSAGE_TOO_LONG,
            native_message=f"text: {len(message.text)} > {MAX_TEXT} characters",
        )
    if message.scheduled_at is not None:
        return ErrorInfo(
            code=ErrorCode.UNSUPPORTED, native_message="scheduled_at: sendSms cannot schedule; use a campaign"
        )
    return None


# --------------------------------------------------------------------------- responses


def warnings_of(data: Any) -> tuple[str, ...]:
    if not isinstance(data, dict):
        return ()
    raw = data.get("warnings")
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict | str) else []
    out: list[str] = []
    for item in items:
        if isinstance(item, dict) and "warning" in item:
            out.append(str(item["warning"]))
        elif isinstance(item, str):
            out.append(item)
    return tuple(out)


def error_of(data: Any) -> ErrorInfo | None:
    """The provider error in a parsed body, or None when the call succeeded."""
    if not isinstance(data, dict):
        return ErrorInfo(
            code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"not a JSON object: {data!r}")
        )
    if data.get("error") or data.get("code"):
        code = str(data.get("code") or "unspecified")
        text = str(data.get("error") or "")
        return ErrorInfo(
            code=map_error(code, text),
            native_code=code,
            native_message=truncate(text),
            retry_after=RETRY_AFTER.get(code),
        )
    if "result" not in data:
        return ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"no result: {data!r}"))
    return None


def parse_send(data: Any, messages: Sequence[Message]) -> list[SendResult]:
    """One result per message of one sendSms call; never raises on what the provider said."""
    error = error_of(data)
    if error is not None:
        status = (
            DeliveryStatus.REJECTED
            if error.code is not ErrorCode.PROTOCOL_ERROR
            else DeliveryStatus.MAYBE_SUBMITTED
        )
        return [SendResult(message_id=m.id, status=status, error=error) for m in messages]
    warnings = warnings_of(data)
    result = data["result"]
    items: list[Any] = result if isinstance(result, list) else [result]
    by_phone: dict[str, Any] = {}
    for item in items:
        if isinstance(item, dict) and item.get("phone") is not None:
            by_phone[str(item["phone"]).lstrip("+")] = item
    out: list[SendResult] = []
    for index, message in enumerate(messages):
        digits = phone_digits(message.to) or ""
        item = by_phone.get(digits) if by_phone else (items[index] if index < len(items) else None)
        out.append(_one_result(message, item, warnings))
    return out


def _one_result(message: Message, item: Any, warnings: tuple[str, ...]) -> SendResult:
    if not isinstance(item, dict):
        # The call was accepted but this number is missing from the answer: it may have been sent.
        return SendResult(
            message_id=message.id,
            status=DeliveryStatus.MAYBE_SUBMITTED,
            error=ErrorInfo(
                code=ErrorCode.PROTOCOL_ERROR, native_message="number missing from sendSms result"
            ),
            warnings=warnings,
        )
    if item.get("error") or item.get("code"):
        code = str(item.get("code") or "unspecified")
        text = str(item.get("error") or "")
        return SendResult(
            message_id=message.id,
            status=DeliveryStatus.REJECTED,
            error=ErrorInfo(code=map_error(code, text), native_code=code, native_message=truncate(text)),
            warnings=warnings,
            raw=dict(item),
        )
    sms_id = item.get("sms_id")
    if sms_id is None or sms_id == "":
        return SendResult(
            message_id=message.id,
            status=DeliveryStatus.MAYBE_SUBMITTED,
            error=ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"no sms_id in {item!r}")),
            warnings=warnings,
        )
    native = str(sms_id)  # opaque: integers and "2376678.79092020303" both occur
    return SendResult(
        message_id=message.id,
        status=DeliveryStatus.SUBMITTED,
        native_id=native,
        warnings=warnings,
        raw=dict(item),
    )


def parse_check(data: Any, sms_id: str, link: str) -> DeliveryReceipt | ErrorInfo:
    error = error_of(data)
    if error is not None:
        return error
    result = data["result"]
    native = str(result.get("status", "")) if isinstance(result, dict) else ""
    if not native:
        return ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"no status in {result!r}"))
    return DeliveryReceipt(
        native_id=sms_id, status=map_status(native), native_status=native, link=link, raw=dict(result)
    )


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


# --------------------------------------------------------------------------- campaign requests


def import_request(
    cfg: SelzyConfig, list_id: str, rows: Sequence[tuple[str, Mapping[str, str]]], fields: Sequence[str]
) -> httpx.Request:
    """importContacts: ``field_names[]`` and ``data[row][col]``; ``phone_list_ids`` puts each contact in the list."""
    if not 1 <= len(rows) <= MAX_CONTACTS_PER_IMPORT:
        raise ValueError(f"importContacts takes 1..{MAX_CONTACTS_PER_IMPORT} contacts, got {len(rows)}")
    names = ["phone", "phone_list_ids", *fields]
    args: list[tuple[str, str]] = [(f"field_names[{i}]", name) for i, name in enumerate(names)]
    for r, (phone, values) in enumerate(rows):
        row = [phone, list_id, *(values.get(f, "") for f in fields)]
        args.extend((f"data[{r}][{c}]", value) for c, value in enumerate(row))
    args.append(("overwrite_lists", "0"))
    return api_request(cfg, "importContacts", args)


def create_campaign_request(cfg: SelzyConfig, message_id: str, start_time: datetime | None) -> httpx.Request:
    args = {"message_id": message_id, "track_read": "1", "track_links": "1"}
    if start_time is not None:
        args["start_time"] = start_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        args["timezone"] = "UTC"
    return api_request(cfg, "createCampaign", args)


# --------------------------------------------------------------------------- the transport


class SelzyTransport(HttpTransport):
    """``selzy://API_KEY@api.selzy.com?lang=en&platform=NAME&sender=NAME``."""

    scheme = "selzy"
    default_host = DEFAULT_HOST
    default_rate = CALLS_PER_MINUTE / 60  # the published 1200 calls a minute per key
    declared_options = HTTP_OPTIONS + OptionSet(
        opt.choice("lang", "en", tuple(sorted(LANGS)), "language of the API's answers (`/{lang}/api/...`)"),
        opt.text("platform", "msgbridge", "`platform` sent with every call: Latin letters and digits only", pattern=r"[A-Za-z0-9]+", max_length=64),
        opt.text("sender", None, "sender name, unless the message sets its own"),
        opt.integer("concurrency", 4, 1, 64, "`sendSms` calls in flight inside one `send()`"),
        opt.number("stats_ttl", 5.0, 0, 3600, "seconds a campaign's delivery stats are cached between status polls"),
        opt.text("text_field", "sms_text", "the list field that carries a personalised text: lower-case letters, digits and _", pattern=r"[a-z][a-z0-9_]*", max_length=64),
    )
    summary = "Selzy SMS API (sendSms batches of 150, checkSms, campaign flow)"
    capabilities = Capabilities(max_batch=MAX_PHONES_PER_SEND, status_poll=MAX_PHONES_PER_SEND)

    def __init__(self, url: TransportURL, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        o = self.settings
        self.cfg = config_from_options(o, self.base_url, self.api_key())
        self.default_sender = o.get_text("sender")
        self.concurrency = o.get_int("concurrency")
        self.stats_ttl = o.get_float("stats_ttl")
        self._stats_cache: dict[str, tuple[float, dict[str, DeliveryReceipt]]] = {}
        self.text_field = o.get_text("text_field") or "sms_text"

    def _provider_error(self, data: Any) -> ErrorInfo | None:
        return error_of(data)

    async def _api(
        self, method: str, args: Sequence[tuple[str, str]] | Mapping[str, str], *, send: bool
    ) -> tuple[Any, ErrorInfo | None]:
        reply = await self.call_with_retry(
            lambda: api_request(self.cfg, method, args),
            send=send,
            provider_error=self._provider_error,
            refusals_undone=True,
        )
        return reply.data, reply.error

    # -- sendSms / checkSms

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        results: dict[int, SendResult] = {}
        groups: dict[tuple[str, str], list[int]] = {}
        for index, message in enumerate(messages):
            problem = validate(message, self.default_sender)
            if problem is not None:
                results[index] = SendResult(
                    message_id=message.id, status=DeliveryStatus.REJECTED, error=problem
                )
                continue
            sender = message.sender or self.default_sender or ""
            groups.setdefault((sender, message.text), []).append(index)

        async def one_batch(sender: str, text: str, indexes: Sequence[int]) -> list[tuple[int, SendResult]]:
            batch = [messages[i] for i in indexes]
            phones = [phone_digits(m.to) or "" for m in batch]
            reply = await self.call_with_retry(
                lambda: send_request(self.cfg, phones, sender, text),
                send=True,
                provider_error=self._provider_error,
                refusals_undone=True,
            )
            if reply.error is not None and reply.exchange_failed:
                # 429, 5xx, no answer: whatever body came with it is not Selzy's word on these numbers
                parsed = [self.failed(m, reply.error, reply) for m in batch]
            else:
                parsed = parse_send(reply.data, batch)
            return list(zip(indexes, parsed, strict=True))

        batches = []
        for (sender, text), indexes in groups.items():
            for part in chunks(indexes, MAX_PHONES_PER_SEND):
                batches.append(one_batch(sender, text, part))
        for index, result in await self.gather_batches(batches, self.concurrency):
            results[index] = result
        return [results[i] for i in range(len(messages))]

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
            data, error = await self._api("checkSms", {"sms_id": sms_id}, send=False)
            parsed = parse_check(data, sms_id, self.link) if error is None else error
            if isinstance(parsed, ErrorInfo):
                log.warning("selzy checkSms %s: %s", sms_id, parsed)
                return []
            return [parsed]

        async def one_campaign(campaign_id: str, wanted: set[str]) -> list[DeliveryReceipt]:
            try:
                snapshot = await self._delivery_snapshot(campaign_id)
            except MessagingError as exc:
                log.warning("selzy getCampaignDeliveryStats %s: %s", campaign_id, exc)
                return []
            return [snapshot[n] for n in sorted(wanted) if n in snapshot]

        jobs = [one_check(s) for s in sms_ids] + [one_campaign(c, w) for c, w in campaigns.items()]
        return await self.gather_batches(jobs, self.concurrency)

    # -- the campaign flow

    async def find_or_create_list(self, title: str) -> str:
        data, error = await self._api("getLists", {}, send=False)
        if error is not None:
            raise_for(error, "getLists")
        for item in result_list(data, "getLists"):
            if isinstance(item, dict) and item.get("title") == title:
                return str(item["id"])
        data, error = await self._api("createList", {"title": title}, send=False)
        if error is not None:
            raise_for(error, "createList")
        return str(result_field(data, "id", "createList"))

    async def ensure_field(self, name: str) -> None:
        """getFields, and createField (type text) when the account lacks it."""
        data, error = await self._api("getFields", {}, send=False)
        if error is not None:
            raise_for(error, "getFields")
        if any(isinstance(f, dict) and f.get("name") == name for f in result_list(data, "getFields")):
            return
        _, error = await self._api("createField", {"name": name, "type": "text"}, send=False)
        if error is not None:
            raise_for(error, "createField")

    async def import_contacts(
        self, list_id: str, rows: Sequence[tuple[str, Mapping[str, str]]], fields: Sequence[str]
    ) -> dict[int, ErrorInfo]:
        """Contacts in calls of <= 500; returns the rows Selzy refused, by index into ``rows``."""
        refused: dict[int, ErrorInfo] = {}
        for offset, part in _offset_chunks(rows, MAX_CONTACTS_PER_IMPORT):
            reply = await self.call_with_retry(
                lambda part=part: import_request(self.cfg, list_id, part, fields),  # type: ignore[misc]
                send=False,
                provider_error=self._provider_error,
                refusals_undone=True,
            )
            if reply.error is not None:
                raise_for(reply.error, "importContacts")
            log_entries = result_dict(reply.data, "importContacts").get("log")
            for entry in log_entries if isinstance(log_entries, list) else ():
                if isinstance(entry, dict) and "index" in entry:
                    code = str(entry.get("code", "invalid_arg"))
                    text = str(entry.get("message", ""))
                    refused[offset + int(entry["index"])] = ErrorInfo(
                        code=ErrorCode.INVALID_DESTINATION
                        if code in ("invalid_arg", "dest_invalid")
                        else map_error(code, text),
                        native_code=code,
                        native_message=truncate(text),
                    )
        return refused

    async def run_campaign(self, campaign: Campaign, recipients: Sequence[Message]) -> ProviderCampaignResult:
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


def _offset_chunks(items: Sequence[Any], size: int) -> list[tuple[int, Sequence[Any]]]:
    return [(start, items[start : start + size]) for start in range(0, len(items), size)]


def result_dict(data: Any, method: str) -> dict[str, Any]:
    """``result`` of a successful call that must be an object; anything else is a protocol error."""
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise_for(
            ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"result: {result!r}")), method
        )
    return result


def result_list(data: Any, method: str) -> list[Any]:
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list):
        raise_for(
            ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"result: {result!r}")), method
        )
    return result


def result_field(data: Any, name: str, method: str) -> Any:
    value = result_dict(data, method).get(name)
    if value is None or value == "":
        raise_for(ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=f"result has no {name}"), method)
    return value


def raise_for(error: ErrorInfo, method: str) -> NoReturn:
    """Campaign steps are all-or-nothing: a failed step stops the flow with the provider's words."""
    message = f"selzy {method}: {error}"
    if error.code is ErrorCode.AUTH_FAILED:
        raise AuthError(message, error)
    if error.code in (
        ErrorCode.NETWORK_ERROR,
        ErrorCode.TIMEOUT,
        ErrorCode.TEMPORARY_FAILURE,
        ErrorCode.THROTTLED,
    ):
        raise TransportError(message, error)
    raise MessagingError(message, error)
