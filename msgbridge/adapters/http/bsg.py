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

Everything the seed lists as a limit is checked before a request is spent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NoReturn

import httpx

from msgbridge.adapters.base import Capabilities, ProviderCampaignResult
from msgbridge.adapters.http.base import (
    HTTP_OPTIONS,
    HttpTransport,
    Reply,
    parse_json,
    truncate,
)
from msgbridge.core import options as opt
from msgbridge.core.encoding import is_gsm7
from msgbridge.core.errors import AuthError, ConfigError, ErrorCode, ErrorInfo, MessagingError, TransportError
from msgbridge.core.message import Campaign, Channel, DeliveryReceipt, Message, SendResult
from msgbridge.core.options import OptionSet
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import TransportURL

log = logging.getLogger(__name__)

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
    """The seed's limits, checked locally; the error names the field, as BSG's 422 would."""
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


def login_request(base_url: str, api_key: str) -> httpx.Request:
    return httpx.Request("POST", f"{base_url}/api/auth/login", json={"api_key": api_key})


def refresh_request(base_url: str, token: str) -> httpx.Request:
    return httpx.Request("POST", f"{base_url}/api/auth/refresh", headers={"Authorization": f"Bearer {token}"})


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
    return httpx.Request("POST", cfg.base_url + path, json=body, headers=_auth(token))


def groups_request(
    cfg: BsgConfig,
    token: str,
    groups: Sequence[int],
    sender: str,
    text: str,
    *,
    validity: int | None = None,
    when: datetime | None = None,
) -> httpx.Request:
    body: dict[str, Any] = {"groups": list(groups), "sender": sender, "text": text}
    if validity is not None:
        body["validity"] = validity
    if cfg.tariff_code is not None:
        body["tariff_code"] = cfg.tariff_code
    scheduled = start_at(when)
    if scheduled is not None:
        body["start_at"] = scheduled
    return httpx.Request(
        "POST", f"{cfg.base_url}/api/campaigns/sms/send-groups", json=body, headers=_auth(token)
    )


def stop_request(cfg: BsgConfig, token: str, campaign_id: str) -> httpx.Request:
    return httpx.Request("PATCH", f"{cfg.base_url}/api/campaigns/{campaign_id}/stop", headers=_auth(token))


def detail_request(cfg: BsgConfig, token: str, campaign_id: str) -> httpx.Request:
    return httpx.Request("GET", f"{cfg.base_url}/api/campaigns/{campaign_id}/detail", headers=_auth(token))


def messages_request(
    cfg: BsgConfig,
    token: str,
    *,
    campaign_id: str | None = None,
    ref: str | None = None,
    offset: int = 0,
    limit: int = PAGE_LIMIT,
) -> httpx.Request:
    params: dict[str, str] = {"page[limit]": str(limit), "page[offset]": str(offset)}
    if campaign_id is not None:
        params["filter[campaign_id]"] = campaign_id
    if ref is not None:
        params["filter[reference_id]"] = ref
    return httpx.Request("GET", f"{cfg.base_url}/api/messages", params=params, headers=_auth(token))


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
            )
        )
    return receipts, len(items)


def token_expiry(token: str) -> float | None:
    """The JWT's ``exp`` (unix seconds), read without verifying: we only need to know when to refresh."""
    try:
        payload = token.split(".")[1]
        claims, _ = parse_json(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        expires = float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None
    return expires if math.isfinite(expires) else None


# --------------------------------------------------------------------------- the transport


class BsgTransport(HttpTransport):
    """``bsg://API_KEY@one-api.bsg.world?sender=NAME&tariff_code=0``."""

    scheme = "bsg"
    default_host = DEFAULT_HOST
    summary = "BSG one-api (campaigns of up to 10,000 numbers, bearer token, message status pages)"
    capabilities = Capabilities(max_batch=MAX_NUMBERS, status_poll=MAX_NUMBERS)
    # PROVIDERS.md, BSG limits: "A duplicate `reference_id` gets the message rejected [P]." Every message
    # we send carries one (message_reference), so a send repeated after a 5xx that BSG had in fact taken
    # is refused with 422 "The reference id has already been taken" and settled by lookup
    # (_settle_duplicates): resending is safe here, and the dispatcher's retry does it.
    resend_is_safe = True

    declared_options = HTTP_OPTIONS + OptionSet(
        opt.text("sender", None, "sender name, unless the message sets its own"),
        opt.integer("tariff_code", None, 0, 9, "`tariff_code` of every campaign (the account's tariff, 0-9)"),
        opt.number("token_ttl", 3600.0, 1, 30 * 86_400, "seconds a bearer token is used before it is renewed"),
        opt.integer("concurrency", 4, 1, 64, "requests in flight inside one `send()` or status poll"),
    )

    def __init__(self, url: TransportURL, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._key = self.api_key()
        o = self.settings
        self.cfg = BsgConfig(base_url=self.base_url, tariff_code=o.maybe_int("tariff_code"))
        self.default_sender = o.get_text("sender")
        self.token_ttl = o.get_float("token_ttl")
        self.concurrency = o.get_int("concurrency")
        self._token: str | None = None
        self._expires = 0.0
        self._auth_lock = asyncio.Lock()
        self._stopped: set[str] = set()
        self.logins = 0
        self.refreshes = 0

    # -- auth

    async def open(self) -> None:
        await self.token()

    async def token(self) -> str:
        """A bearer token valid for a while yet: log in, or refresh shortly before ``exp``."""
        async with self._auth_lock:
            if self._token is not None and time.time() < self._expires - REFRESH_MARGIN:
                return self._token
            if self._token is not None:
                reply = await self.call(refresh_request(self.base_url, self._token))
                if self._take_token(reply):
                    self.refreshes += 1
                    return self._token
            reply = await self.call_with_retry(lambda: login_request(self.base_url, self._key), send=False)
            if not self._take_token(reply):
                error = failure(reply) or ErrorInfo(
                    code=ErrorCode.PROTOCOL_ERROR, native_message="no bearer in login answer"
                )
                if error.code in (ErrorCode.AUTH_FAILED, ErrorCode.ACCESS_DENIED, ErrorCode.INVALID_ARGUMENT):
                    raise AuthError(
                        f"bsg login refused: {error}",
                        error.model_copy(update={"code": ErrorCode.AUTH_FAILED}),
                    )
                raise TransportError(f"bsg login failed: {error}", error)
            self.logins += 1
            assert self._token is not None
            return self._token

    def _take_token(self, reply: Reply) -> bool:
        bearer = reply.data.get("bearer") if reply.ok and isinstance(reply.data, dict) else None
        if not isinstance(bearer, str) or not bearer:
            return False
        self._token = bearer
        self._expires = token_expiry(bearer) or (time.time() + self.token_ttl)
        return True

    async def _relogin(self, stale: str) -> bool:
        """After a 401 with ``stale``: log in again with the key, unless another call already did."""
        async with self._auth_lock:
            if self._token == stale:
                self._token = None
        try:
            await self.token()
        except AuthError:
            return False
        return True

    async def _authed(
        self, build: Callable[[str], httpx.Request], *, send: bool, expect: str = "json"
    ) -> Reply:
        """A call with the current token; a 401 leads to one fresh login and one repeat."""
        token = await self.token()
        holder = {"token": token}

        async def relogin() -> bool:
            ok = await self._relogin(holder["token"])
            if ok and self._token is not None:
                holder["token"] = self._token
            return ok

        return await self.call_with_retry(
            lambda: build(holder["token"]),
            send=send,
            expect=expect,
            provider_error=None,
            on_auth_failure=relogin,
        )

    # -- sending

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        results: dict[int, SendResult] = {}
        groups: dict[tuple[str, int | None, str | None], list[int]] = {}
        for index, message in enumerate(messages):
            sender = message.sender or self.default_sender
            problem = validate(message, sender)
            if problem is not None:
                results[index] = SendResult(
                    message_id=message.id, status=DeliveryStatus.REJECTED, error=problem
                )
                continue
            key = (sender or "", validity_hours(message), start_at(message.scheduled_at))
            groups.setdefault(key, []).append(index)
        batches = []
        for (sender, _, _), indexes in groups.items():
            for start in range(0, len(indexes), MAX_NUMBERS):
                batches.append(self._send_campaign(messages, indexes[start : start + MAX_NUMBERS], sender))
        for index, result in await self.gather_batches(batches, self.concurrency):
            results[index] = result
        return [results[i] for i in range(len(messages))]

    async def _send_campaign(
        self, messages: Sequence[Message], indexes: Sequence[int], sender: str
    ) -> list[tuple[int, SendResult]]:
        """One campaign; items BSG names in a 422 are refused and the rest sent again (BSG took nothing).

        An item refused because its reference_id is taken was sent before
        (the reference is the idempotency key): it is looked up and reported
        SUBMITTED under the id it already has, not failed.
        """
        out: list[tuple[int, SendResult]] = []
        duplicates: list[tuple[int, ErrorInfo]] = []
        pending = list(indexes)
        for _round in range(3):
            if not pending:
                break
            batch = [messages[i] for i in pending]
            reply = await self._authed(partial(_send_builder, self.cfg, batch, sender), send=True)
            error = failure(reply)
            if error is None:
                out.extend(self._accepted(messages, pending, reply.data))
                pending = []
                break
            per_item = failed_indexes(reply.data) if reply.status_code == 422 else {}
            if not per_item:
                out.extend((i, self.failed(messages[i], error, reply)) for i in pending)
                pending = []
                break
            refused = {pending[k]: info for k, info in per_item.items() if k < len(pending)}
            for i, info in refused.items():
                if info.code is ErrorCode.DUPLICATE:
                    duplicates.append((i, info))
                else:
                    out.append(
                        (i, SendResult(message_id=messages[i].id, status=DeliveryStatus.REJECTED, error=info))
                    )
            pending = [i for i in pending if i not in refused]
        out.extend(
            (
                i,
                self.failed(
                    messages[i],
                    ErrorInfo(code=ErrorCode.PERMANENT_FAILURE, native_message="campaign refused repeatedly"),
                ),
            )
            for i in pending
        )
        if duplicates:
            out.extend(await self._settle_duplicates(messages, duplicates))
        return out

    def _accepted(
        self, messages: Sequence[Message], pending: Sequence[int], data: Any
    ) -> list[tuple[int, SendResult]]:
        parsed = parse_campaign(data)
        if isinstance(parsed, ErrorInfo):
            # HTTP 200 without a campaign id: the campaign may exist; do not guess.
            return [(i, self._maybe(messages[i], parsed)) for i in pending]
        campaign_id = str(parsed["id"])
        raw = {"campaign_id": campaign_id, "campaign_status": parsed.get("status")}
        return [
            (
                i,
                SendResult(
                    message_id=messages[i].id,
                    status=DeliveryStatus.SUBMITTED,
                    native_id=native_id(campaign_id, message_reference(messages[i])),
                    raw=raw,
                ),
            )
            for i in pending
        ]

    async def _settle_duplicates(
        self, messages: Sequence[Message], duplicates: Sequence[tuple[int, ErrorInfo]]
    ) -> list[tuple[int, SendResult]]:
        found = await self.lookup([messages[i].reference or messages[i].id for i, _ in duplicates])
        out: list[tuple[int, SendResult]] = []
        for i, info in duplicates:
            message = messages[i]
            earlier = found.get(message.reference or message.id)
            if earlier is None:
                out.append((i, SendResult(message_id=message.id, status=DeliveryStatus.REJECTED, error=info)))
                continue
            out.append(
                (
                    i,
                    SendResult(
                        message_id=message.id,
                        status=DeliveryStatus.SUBMITTED,
                        native_id=earlier.native_id,
                        warnings=(f"already sent as {earlier.native_id}; not sent again",),
                    ),
                )
            )
        return out

    @staticmethod
    def _maybe(message: Message, error: ErrorInfo) -> SendResult:
        return SendResult(message_id=message.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=error)

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
            reply = await self._authed(
                partial(_page_builder, self.cfg, campaign_id, ref, offset),
                send=False,
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
                    r.model_copy(update={"status": DeliveryStatus.CANCELED})
                    if r.status is DeliveryStatus.QUEUED
                    else r
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

    async def send_groups(
        self,
        groups: Sequence[int],
        text: str,
        *,
        sender: str | None = None,
        validity_hours: int | None = None,
        scheduled_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A campaign to Contact Book groups; ``{field_id}`` placeholders are filled by BSG."""
        name = sender or self.default_sender
        if not name or not SENDER.fullmatch(name):
            raise invalid_config("sender", f"3-11 letters/digits or 3-15 digits expected, got {name!r}")
        if not groups:
            raise invalid_config("groups", "at least one group id")
        if validity_hours is not None and not 1 <= validity_hours <= MAX_VALIDITY_HOURS:
            raise invalid_config("validity", f"{validity_hours} hours is outside 1..{MAX_VALIDITY_HOURS}")
        reply = await self._authed(
            lambda token: groups_request(
                self.cfg, token, groups, name, text, validity=validity_hours, when=scheduled_at
            ),
            send=True,
        )
        return self._campaign_or_raise(reply, "send-groups")

    async def cancel_campaign(self, campaign_id: str) -> dict[str, Any]:
        """PATCH /campaigns/{id}/stop: unsent messages are canceled, sent ones may still be delivered."""
        reply = await self._authed(lambda token: stop_request(self.cfg, token, campaign_id), send=False)
        data = self._campaign_or_raise(reply, "stop")
        self._stopped.add(campaign_id)
        return data

    async def campaign_status(self, campaign_id: str) -> dict[str, Any]:
        reply = await self._authed(lambda token: detail_request(self.cfg, token, campaign_id), send=False)
        data = self._campaign_or_raise(reply, "detail")
        data["final"] = data.get("status") in CAMPAIGN_FINAL
        return data

    def _campaign_or_raise(self, reply: Reply, what: str) -> dict[str, Any]:
        error = failure(reply)
        if error is not None:
            raise_for(error, what)
        parsed = parse_campaign(reply.data)
        if isinstance(parsed, ErrorInfo):
            raise_for(parsed, what)
        return dict(parsed)


def failure(reply: Reply) -> ErrorInfo | None:
    """The HTTP-level failure if any (it keeps Retry-After), else the provider's words (a 422's field errors)."""
    if reply.error is not None:
        return reply.error
    return error_of(reply.status_code, reply.data)


def _send_builder(cfg: BsgConfig, batch: Sequence[Message], sender: str, token: str) -> httpx.Request:
    return send_request(cfg, token, batch, sender)


def _page_builder(
    cfg: BsgConfig, campaign_id: str | None, ref: str | None, offset: int, token: str
) -> httpx.Request:
    return messages_request(cfg, token, campaign_id=campaign_id, ref=ref, offset=offset)


def _numeric(text: str) -> tuple[int, str]:
    return (int(text), text) if text.isdigit() else (0, text)


def invalid_config(field: str, text: str) -> MessagingError:
    return ConfigError(f"bsg {field}: {text}", invalid(field, text))


def raise_for(error: ErrorInfo | None, what: str) -> NoReturn:
    info = error or ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message="no answer")
    message = f"bsg {what}: {info}"
    if info.code is ErrorCode.AUTH_FAILED:
        raise AuthError(message, info)
    if info.retryable:
        raise TransportError(message, info)
    raise MessagingError(message, info)
