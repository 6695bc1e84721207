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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from msgbridge.adapters.http.payload import Call, Payload
from msgbridge.adapters.http.replies import Reply, truncate
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import Channel, DeliveryReceipt, Message, SendResult
from msgbridge.core.money import cost_of
from msgbridge.core.options import OptionValues
from msgbridge.core.status import DeliveryStatus

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
    return SelzyConfig(
        base_url=base_url, api_key=api_key, lang=o.get_str("lang"), platform=o.get_str("platform")
    )


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


def send_call(phones: Sequence[str], sender: str, text: str) -> Call:
    """One sendSms for up to 150 numbers sharing sender and text."""
    if not 1 <= len(phones) <= MAX_PHONES_PER_SEND:
        raise ValueError(f"sendSms takes 1..{MAX_PHONES_PER_SEND} numbers, got {len(phones)}")
    return Call("sendSms", {"phone": ",".join(phones), "sender": sender, "text": text})


def check_call(sms_id: str) -> Call:
    return Call("checkSms", {"sms_id": sms_id})


def send_request(cfg: SelzyConfig, phones: Sequence[str], sender: str, text: str) -> httpx.Request:
    call = send_call(phones, sender, text)
    return api_request(cfg, call.method, call.params)


def check_request(cfg: SelzyConfig, sms_id: str) -> httpx.Request:
    call = check_call(sms_id)
    return api_request(cfg, call.method, call.params)


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
        # sendSms "Result: `{currency, price, sms_id}` for one number, an array of those for several".
        cost=cost_of(item.get("price"), item.get("currency")),
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


class SelzyPayload(Payload):
    """sendSms for up to 150 numbers sharing sender and text; checkSms for one id.

    Selzy carries no validity, and sendSms no schedule (a campaign can be
    scheduled: ``run_campaign``), no subject, html or metadata.
    """

    carries: ClassVar[frozenset[str]] = frozenset()
    max_batch = MAX_PHONES_PER_SEND
    status_batch = 1

    def __init__(self, default_sender: str | None) -> None:
        self.default_sender = default_sender

    def check(self, message: Message) -> ErrorInfo | None:
        return validate(message, self.default_sender)

    def group_key(self, message: Message) -> tuple[str, str]:
        return (message.sender or self.default_sender or "", message.text)

    def build_send(self, batch: Sequence[Message]) -> Call:
        first = batch[0]
        return send_call([phone_digits(m.to) or "" for m in batch], self.group_key(first)[0], first.text)

    def parse_send(self, reply: Reply, batch: Sequence[Message]) -> list[SendResult | None]:
        return list(parse_send(reply.data, batch))

    def build_status(self, native_ids: Sequence[str]) -> Call:
        return check_call(native_ids[0])

    def parse_status(
        self, reply: Reply, native_ids: Sequence[str], link: str
    ) -> list[DeliveryReceipt] | ErrorInfo:
        parsed = parse_check(reply.data, native_ids[0], link) if reply.error is None else reply.error
        return parsed if isinstance(parsed, ErrorInfo) else [parsed]

    def error_of(self, data: Any) -> ErrorInfo | None:
        return error_of(data)
