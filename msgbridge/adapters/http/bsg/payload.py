"""BSG one-api: JSON over https://one-api.bsg.world/api/..., bearer token from the API key.

The API key is exchanged for a JWT at ``POST /api/auth/login``; every other
call carries ``Authorization: Bearer <JWT>``. The token is refreshed
(``POST /api/auth/refresh``) shortly before its ``exp`` and the key is used to
log in again after a 401; neither the key nor the token is ever logged.

Every send is a *campaign*: ``send()`` turns a batch into one campaign of at
most 10,000 numbers (``/campaigns/sms/send`` when all messages share text and
sender, ``/campaigns/sms/send-individual`` otherwise). The answer names only
the campaign, so each message carries a ``reference_id`` of ours and its
native id is ``<campaign_id>/<reference_id>``; statuses are read page by page
with ``GET /api/messages?filter[campaign_id]=...``. BSG refuses a duplicate
``reference_id``, which is what makes looking a message up by reference (and
resending one that was not found) safe.

Every limit BSG's API documents is checked before a request is spent.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from msgbridge.adapters.http.payload import Call, Payload, failed_result
from msgbridge.adapters.http.replies import Reply, truncate
from msgbridge.core.encoding import is_gsm7
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import Channel, DeliveryReceipt, Message, SendResult
from msgbridge.core.money import cost_of
from msgbridge.core.status import DeliveryStatus

# --------------------------------------------------------------------------- tables (every row tested)

# HTTP status of the v2 API -> ours (422 is refined by the field named in "errors").
HTTP_ERRORS: dict[int, ErrorCode] = {
    401: ErrorCode.AUTH_FAILED,
    403: ErrorCode.ACCESS_DENIED,
    404: ErrorCode.NOT_FOUND,
    422: ErrorCode.INVALID_ARGUMENT,
    429: ErrorCode.THROTTLED,
    500: ErrorCode.TEMPORARY_FAILURE,
    502: ErrorCode.TEMPORARY_FAILURE,
    503: ErrorCode.TEMPORARY_FAILURE,
}

# Legacy v1 ``{"error": N, "errorDescription": "..."}`` codes, still seen in some answers.
ERRORS: dict[int, ErrorCode] = {
    1: ErrorCode.AUTH_FAILED,
    2: ErrorCode.ACCOUNT_BLOCKED,
    3: ErrorCode.INVALID_ARGUMENT,
    4: ErrorCode.UNSUPPORTED,
    5: ErrorCode.TEMPORARY_FAILURE,
    7: ErrorCode.INVALID_ARGUMENT,
    8: ErrorCode.INSUFFICIENT_FUNDS,
    20: ErrorCode.NOT_FOUND,
    21: ErrorCode.INVALID_DESTINATION,
    22: ErrorCode.INVALID_ARGUMENT,
    23: ErrorCode.DUPLICATE,
    24: ErrorCode.INVALID_ARGUMENT,
    25: ErrorCode.INVALID_SENDER,
    26: ErrorCode.MESSAGE_TOO_LONG,
    27: ErrorCode.INVALID_ARGUMENT,
    28: ErrorCode.INVALID_ARGUMENT,
    29: ErrorCode.INVALID_ARGUMENT,
    30: ErrorCode.NOT_FOUND,
    32: ErrorCode.INVALID_SENDER,
    33: ErrorCode.UNSUPPORTED,
}

# The last part of a 422 "errors" key (``phones.3.number``) -> ours.
FIELD_ERRORS: dict[str, ErrorCode] = {
    "number": ErrorCode.INVALID_DESTINATION,
    "phone": ErrorCode.INVALID_DESTINATION,
    "phones": ErrorCode.INVALID_ARGUMENT,
    "messages": ErrorCode.INVALID_ARGUMENT,
    "sender": ErrorCode.INVALID_SENDER,
    "text": ErrorCode.MESSAGE_TOO_LONG,
    "reference_id": ErrorCode.INVALID_ARGUMENT,
    "validity": ErrorCode.INVALID_ARGUMENT,
    "tariff_code": ErrorCode.INVALID_ARGUMENT,
    "start_at": ErrorCode.INVALID_ARGUMENT,
    "groups": ErrorCode.INVALID_ARGUMENT,
}

# (422 "errors" field or "message", pattern in its text) -> ours, tried before FIELD_ERRORS.
TEXT_RULES: dict[tuple[str, str], ErrorCode] = {
    ("reference_id", r"taken|duplicate"): ErrorCode.DUPLICATE,
    ("message", r"invalid campaign status"): ErrorCode.PERMANENT_FAILURE,
}

# Per-message statuses of GET /api/messages.
STATUSES: dict[str, DeliveryStatus] = {
    "scheduled": DeliveryStatus.QUEUED,
    "moderation": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "accepted": DeliveryStatus.ACCEPTED,
    "sent": DeliveryStatus.SUBMITTED,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "expired": DeliveryStatus.EXPIRED,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.UNDELIVERABLE,
    "rejected": DeliveryStatus.REJECTED,
    "unknown": DeliveryStatus.UNKNOWN,
}

# Campaign statuses; a stopped campaign's unsent messages are CANCELED.
CAMPAIGN_STATUSES: tuple[str, ...] = (
    "creation",
    "moderation",
    "spam",
    "scheduled",
    "sending",
    "paused",
    "stopped",
    "done",
)
CAMPAIGN_FINAL: frozenset[str] = frozenset({"done", "stopped", "spam"})
STOPPABLE: frozenset[str] = frozenset({"creation", "paused", "sending", "scheduled"})

MAX_NUMBERS = 10_000
MAX_TEXT_GSM = 765
MAX_TEXT_UNICODE = 335
MAX_VALIDITY_HOURS = 72
MAX_SCHEDULE_AHEAD = timedelta(days=30)
PAGE_LIMIT = 500
DEFAULT_HOST = "one-api.bsg.world"
REFRESH_MARGIN = 60.0  # seconds before exp at which the token is refreshed
REFERENCE = re.compile(r"[a-zA-Z0-9]{1,32}")
SENDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .\-_]{2,10}|\d{3,15}")


def map_status(native: str) -> DeliveryStatus:
    return STATUSES.get(native, DeliveryStatus.UNKNOWN)


# --------------------------------------------------------------------------- pure request builders


def reference_id(ref: str) -> str:
    """BSG's ``reference_id`` for one of our references: itself if it fits ``[a-zA-Z0-9]{1,32}``, else a digest."""
    return ref if REFERENCE.fullmatch(ref) else hashlib.sha1(ref.encode("utf-8")).hexdigest()[:32]


def message_reference(message: Message) -> str:
    return reference_id(message.reference or message.id)


def native_id(campaign_id: str, ref: str) -> str:
    return f"{campaign_id}/{ref}"


def split_native_id(native: str) -> tuple[str, str] | None:
    campaign_id, sep, ref = native.partition("/")
    return (campaign_id, ref) if sep and campaign_id and ref else None


def number_of(to: str) -> int | None:
    digits = re.sub(r"[\s()\-.]", "", to).lstrip("+")
    return int(digits) if re.fullmatch(r"\d{9,15}", digits) else None


def text_limit(text: str) -> int:
    return MAX_TEXT_GSM if is_gsm7(text) else MAX_TEXT_UNICODE


def validity_hours(message: Message) -> int | None:
    if message.validity is None:
        return None
    return max(1, math.ceil(message.validity.total_seconds() / 3600))


def start_at(when: datetime | None, now: datetime | None = None) -> str | None:
    """``yyyy-mm-dd hh:mm:ss`` in UTC, or None for "now" (a time already past is now)."""
    if when is None:
        return None
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    if aware <= (now or datetime.now(UTC)):
        return None
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def invalid(field: str, text: str, code: ErrorCode = ErrorCode.INVALID_ARGUMENT) -> ErrorInfo:
    return ErrorInfo(code=code, native_code=field, native_message=f"{field}: {text}")


def validate(message: Message, sender: str | None, now: datetime | None = None) -> ErrorInfo | None:
    """The limits of BSG's API documentation, checked locally; the error names the field, as BSG's 422 would."""
    if message.channel is not Channel.SMS:
        return invalid("channel", f"{message.channel.value} (SMS only)", ErrorCode.UNSUPPORTED)
    if number_of(message.to) is None:
        return invalid(
            "number", f"9 to 15 digits without + expected, got {message.to!r}", ErrorCode.INVALID_DESTINATION
        )
    if not sender or not SENDER.fullmatch(sender):
        return invalid(
            "sender", f"3-11 letters/digits or 3-15 digits expected, got {sender!r}", ErrorCode.INVALID_SENDER
        )
    if not message.text:
        return invalid("text", "empty")
    limit = text_limit(message.text)
    if len(message.text) > limit:
        return invalid("text", f"{len(message.text)} characters > {limit}", ErrorCode.MESSAGE_TOO_LONG)
    ref = message.reference or message.id
    if not ref:
        return invalid("reference_id", "empty")
    hours = validity_hours(message)
    if hours is not None and not 1 <= hours <= MAX_VALIDITY_HOURS:
        return invalid("validity", f"{hours} hours is outside 1..{MAX_VALIDITY_HOURS}")
    if message.scheduled_at is not None:
        current = now or datetime.now(UTC)
        aware = (
            message.scheduled_at if message.scheduled_at.tzinfo else message.scheduled_at.replace(tzinfo=UTC)
        )
        if aware - current > MAX_SCHEDULE_AHEAD:
            return invalid("start_at", "at most 30 days ahead")
    return None


@dataclass(frozen=True)
class BsgConfig:
    base_url: str
    tariff_code: int | None = None


def _options(cfg: BsgConfig, first: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    hours = validity_hours(first)
    if hours is not None:
        out["validity"] = hours
    if cfg.tariff_code is not None:
        out["tariff_code"] = cfg.tariff_code
    when = start_at(first.scheduled_at)
    if when is not None:
        out["start_at"] = when
    return out


def send_payload(cfg: BsgConfig, messages: Sequence[Message], sender: str) -> tuple[str, dict[str, Any]]:
    """The path and JSON body for one campaign: bulk when one text fits all, individual otherwise."""
    if not 1 <= len(messages) <= MAX_NUMBERS:
        raise ValueError(f"a BSG campaign takes 1..{MAX_NUMBERS} numbers, got {len(messages)}")
    texts = {m.text for m in messages}
    if len(texts) == 1:
        body: dict[str, Any] = {
            "phones": [{"number": number_of(m.to), "reference_id": message_reference(m)} for m in messages],
            "sender": sender,
            "text": messages[0].text,
        }
        path = "/api/campaigns/sms/send"
    else:
        body = {
            "messages": [
                {
                    "phone": number_of(m.to),
                    "text": m.text,
                    "sender": sender,
                    "reference_id": message_reference(m),
                }
                for m in messages
            ]
        }
        path = "/api/campaigns/sms/send-individual"
    body.update(_options(cfg, messages[0]))
    return path, body


def send_request(cfg: BsgConfig, token: str, messages: Sequence[Message], sender: str) -> httpx.Request:
    path, body = send_payload(cfg, messages, sender)
    return request_of(cfg.base_url, token, Call(f"POST {path}", body))


def request_of(base_url: str, token: str, call: Call) -> httpx.Request:
    """The HTTP request for ``call`` (``"VERB /path"``): GET params in the query, a body as JSON."""
    verb, _, path = call.method.partition(" ")
    if verb == "GET" or call.params is None:
        return httpx.Request(verb, base_url + path, params=call.params, headers=_auth(token))
    return httpx.Request(verb, base_url + path, json=call.params, headers=_auth(token))


def messages_request(
    cfg: BsgConfig,
    token: str,
    *,
    campaign_id: str | None = None,
    ref: str | None = None,
    offset: int = 0,
    limit: int = PAGE_LIMIT,
) -> httpx.Request:
    params = page_params(campaign_id=campaign_id, ref=ref, offset=offset, limit=limit)
    return request_of(cfg.base_url, token, Call("GET /api/messages", params))


def page_params(
    *, campaign_id: str | None, ref: str | None, offset: int, limit: int = PAGE_LIMIT
) -> dict[str, str]:
    """The query of one ``GET /api/messages`` page, by campaign or by reference."""
    params: dict[str, str] = {"page[limit]": str(limit), "page[offset]": str(offset)}
    if campaign_id is not None:
        params["filter[campaign_id]"] = campaign_id
    if ref is not None:
        params["filter[reference_id]"] = ref
    return params


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


# --------------------------------------------------------------------------- pure response parsers


def error_of(status: int | None, data: Any) -> ErrorInfo | None:
    """The provider's error in an answer, or None. HTTP-level failures are already ErrorInfo upstream."""
    if isinstance(data, dict) and isinstance(data.get("error"), int) and data["error"] != 0:
        legacy = int(data["error"])
        return ErrorInfo(
            code=ERRORS.get(legacy, ErrorCode.PERMANENT_FAILURE),
            native_code=legacy,
            native_message=truncate(str(data.get("errorDescription", ""))),
        )
    if status is not None and status >= 400:
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        errors = data.get("errors") if isinstance(data, dict) else None
        code = HTTP_ERRORS.get(status, ErrorCode.PERMANENT_FAILURE)
        if status == 422 and isinstance(errors, dict) and errors:
            first_key = next(iter(errors))
            code = field_code(first_key, errors[first_key])
            message = f"{message} {json.dumps(errors, ensure_ascii=False)}".strip()
        elif status == 422:
            code = field_code("message", message) if message else code
        return ErrorInfo(code=code, native_code=status, native_message=truncate(message))
    if not isinstance(data, dict):
        return ErrorInfo(
            code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"not a JSON object: {data!r}")
        )
    return None


def field_code(key: str, texts: Any) -> ErrorCode:
    """``phones.3.number`` -> INVALID_DESTINATION; TEXT_RULES first (a taken reference_id is a DUPLICATE)."""
    last = key.split(".")[-1]
    joined = " ".join(str(t) for t in texts) if isinstance(texts, list) else str(texts)
    for (field, pattern), ours in TEXT_RULES.items():
        if last == field and re.search(pattern, joined, re.IGNORECASE):
            return ours
    return FIELD_ERRORS.get(last, HTTP_ERRORS[422])


def failed_indexes(data: Any) -> dict[int, ErrorInfo]:
    """Per-item 422 errors (``phones.3.number``) by item index: the rest of the batch was fine."""
    out: dict[int, ErrorInfo] = {}
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, dict):
        return out
    for key, texts in errors.items():
        parts = str(key).split(".")
        if len(parts) >= 3 and parts[0] in ("phones", "messages") and parts[1].isdigit():
            text = " ".join(texts) if isinstance(texts, list) else str(texts)
            out.setdefault(
                int(parts[1]),
                ErrorInfo(
                    code=field_code(key, texts), native_code=422, native_message=truncate(f"{key}: {text}")
                ),
            )
    return out


def parse_campaign(data: Any) -> dict[str, Any] | ErrorInfo:
    inner = data.get("data") if isinstance(data, dict) else None
    if not isinstance(inner, dict) or inner.get("id") in (None, ""):
        return ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"no campaign in {data!r}"))
    return inner


def parse_messages(data: Any, link: str) -> tuple[list[DeliveryReceipt], int] | ErrorInfo:
    """Receipts of one page of GET /api/messages, and how many items the page had."""
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"no data list in {data!r}"))
    receipts: list[DeliveryReceipt] = []
    for item in items:
        if not isinstance(item, dict) or not item.get("reference_id") or item.get("campaign_id") is None:
            continue
        native = str(item.get("status", ""))
        receipts.append(
            DeliveryReceipt(
                native_id=native_id(str(item["campaign_id"]), str(item["reference_id"])),
                status=map_status(native),
                native_status=native,
                link=link,
                raw={k: item[k] for k in ("id", "phone", "delivered_at", "send_at") if k in item},
                cost=amount_of(item.get("amount")),
            )
        )
    return receipts, len(items)


def amount_of(amount: Any) -> tuple[int, str] | None:
    """What a message cost, from its ``GET /api/messages`` item: "Each `data[]` item: `id`, ..., `status`,
    `amount{value,currency}`, ...". The campaign's send answer names no price (``{"data":{"id", "name",
    ..., "statistics"}}``), so a BSG message's cost arrives with its status, not with its send result."""
    return cost_of(amount.get("value"), amount.get("currency")) if isinstance(amount, dict) else None


def failure(reply: Reply) -> ErrorInfo | None:
    """The HTTP-level failure if any (it keeps Retry-After), else the provider's words (a 422's field errors)."""
    if reply.error is not None:
        return reply.error
    return error_of(reply.status_code, reply.data)


class BsgPayload(Payload):
    """One campaign per batch: ``/campaigns/sms/send`` when one text fits all, ``send-individual`` otherwise.

    BSG carries a validity (hours), a start time and our reference
    (``reference_id``); no subject, html or metadata.
    """

    carries: ClassVar[frozenset[str]] = frozenset({"validity", "scheduled_at"})
    max_batch = MAX_NUMBERS

    def __init__(self, cfg: BsgConfig, default_sender: str | None) -> None:
        self.cfg = cfg
        self.default_sender = default_sender

    def sender_of(self, message: Message) -> str:
        return message.sender or self.default_sender or ""

    def check(self, message: Message) -> ErrorInfo | None:
        return validate(message, message.sender or self.default_sender)

    def group_key(self, message: Message) -> Hashable:
        """One campaign has one sender, validity and start time; texts may differ (send-individual)."""
        return (self.sender_of(message), validity_hours(message), start_at(message.scheduled_at))

    def build_send(self, batch: Sequence[Message]) -> Call:
        path, body = send_payload(self.cfg, batch, self.sender_of(batch[0]))
        return Call(f"POST {path}", body)

    def parse_send(self, reply: Reply, batch: Sequence[Message]) -> list[SendResult | None]:
        """Items BSG names in a 422 are refused; the rest are None, to be sent again (BSG took nothing).

        An item refused because its reference_id is taken is REJECTED as a
        DUPLICATE here; the transport looks it up (it was sent before).
        """
        error = failure(reply)
        if error is None:
            return list(accepted(batch, reply.data))
        per_item = failed_indexes(reply.data) if reply.status_code == 422 else {}
        if not per_item:
            return [failed_result(m, error) for m in batch]
        return [
            SendResult(message_id=m.id, status=DeliveryStatus.REJECTED, error=per_item[k])
            if k in per_item
            else None
            for k, m in enumerate(batch)
        ]

    def build_page(self, *, campaign_id: str | None, ref: str | None, offset: int) -> Call:
        """One page of ``GET /api/messages`` by campaign or by reference."""
        return Call("GET /api/messages", page_params(campaign_id=campaign_id, ref=ref, offset=offset))


def accepted(batch: Sequence[Message], data: Any) -> list[SendResult]:
    parsed = parse_campaign(data)
    if isinstance(parsed, ErrorInfo):
        # HTTP 200 without a campaign id: the campaign may exist; do not guess.
        return [
            SendResult(message_id=m.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=parsed) for m in batch
        ]
    campaign_id = str(parsed["id"])
    raw = {"campaign_id": campaign_id, "campaign_status": parsed.get("status")}
    return [
        SendResult(
            message_id=m.id,
            status=DeliveryStatus.SUBMITTED,
            native_id=native_id(campaign_id, message_reference(m)),
            raw=raw,
        )
        for m in batch
    ]
