"""Mobizon HTTP API: ``https://api.mobizon.{tld}/service/{module}/{method}?output=json&api=v1``.

Read top to bottom: the native tables, pure functions that build requests and
read the ``{"code", "data", "message"}`` envelope, then the transport.

What shapes this module:

- Every answer is HTTP 200 with a ``code``; 0 and 100 are successes (100 means
  "moved to the background": ``data`` is a task id to follow with
  ``taskqueue/getStatus``).
- An account lives on one regional server. Any other server answers code 13
  with the right domain in ``data``; we switch to it, remember it per key,
  and retry once.
- Mass operations (campaign/addRecipients) answer per item: code 98 (some
  added) and 99 (none) are not failures of the whole request.
- Parameters are form-urlencoded with PHP bracket arrays (``ids[0]=1``,
  ``params[validity]=1440``, ``recipients[0][recipient]=...``).
- The API key goes where the documents put it: in the query string, beside
  ``output`` and ``api`` (``key_in=body`` moves it into the POST body for an
  account that accepts that). Our own logs name only the method, never a URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from msgbridge.adapters.base import Capabilities, ProviderCampaignResult
from msgbridge.adapters.http.base import (
    HTTP_OPTIONS,
    HttpTransport,
    Reply,
    chunks,
    truncate,
)
from msgbridge.core import options as opt
from msgbridge.core.errors import (
    ConfigError,
    ErrorCode,
    ErrorInfo,
    MessagingError,
    TransportError,
    UnsupportedFeature,
)
from msgbridge.core.message import Campaign, Channel, DeliveryReceipt, Message, SendResult
from msgbridge.core.options import OptionSet
from msgbridge.core.phone import digits
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.template import render
from msgbridge.core.url import TransportURL

log = logging.getLogger(__name__)

DEFAULT_HOST = "api.mobizon.kz"

# Response "code" -> ours (seed: mobizon-api-codes). 0 and 100 are successes.
ERRORS: dict[int, ErrorCode] = {
    1: ErrorCode.INVALID_ARGUMENT,  # validation error; data names the fields (refined by FIELD_ERRORS)
    2: ErrorCode.NOT_FOUND,
    3: ErrorCode.PERMANENT_FAILURE,  # unidentified application error
    4: ErrorCode.PROTOCOL_ERROR,  # bad module
    5: ErrorCode.PROTOCOL_ERROR,  # bad method
    6: ErrorCode.PROTOCOL_ERROR,  # bad format
    8: ErrorCode.AUTH_FAILED,
    9: ErrorCode.ACCESS_DENIED,
    10: ErrorCode.TEMPORARY_FAILURE,  # save failed (concurrent access)
    11: ErrorCode.INVALID_ARGUMENT,  # required parameters missing
    12: ErrorCode.INVALID_ARGUMENT,  # a parameter violates limits
    13: ErrorCode.WRONG_SERVER,  # the right domain is in data
    14: ErrorCode.ACCOUNT_BLOCKED,
    15: ErrorCode.PERMANENT_FAILURE,  # non-update operation error
    30: ErrorCode.THROTTLED,
    98: ErrorCode.PARTIAL,  # per-item results in data
    99: ErrorCode.PERMANENT_FAILURE,  # nothing done; per-item errors in data
    999: ErrorCode.TEMPORARY_FAILURE,  # general service error
}
SUCCESS_CODES: frozenset[int] = frozenset({0, 100})

# Code 1 names the fields that failed validation; some fields say more than "invalid argument".
FIELD_ERRORS: dict[str, ErrorCode] = {
    "recipient": ErrorCode.INVALID_DESTINATION,
    "from": ErrorCode.INVALID_SENDER,
    "text": ErrorCode.MESSAGE_TOO_LONG,
}

# campaign/addRecipients per-item codes -> ours.
RECIPIENT_ERRORS: dict[int, ErrorCode] = {
    1: ErrorCode.INVALID_DESTINATION,  # empty
    2: ErrorCode.INVALID_DESTINATION,  # no number
    3: ErrorCode.INVALID_DESTINATION,  # not international
    4: ErrorCode.DUPLICATE,
    5: ErrorCode.PERMANENT_FAILURE,  # on the stop list
    6: ErrorCode.UNSUPPORTED,  # country restricted
    7: ErrorCode.UNSUPPORTED,  # operator cannot be determined
    8: ErrorCode.UNSUPPORTED,  # operator not supported
    20: ErrorCode.INVALID_ARGUMENT,  # placeholders missing
    30: ErrorCode.INVALID_ARGUMENT,  # contact problems
    31: ErrorCode.INVALID_ARGUMENT,
    32: ErrorCode.INVALID_ARGUMENT,
    51: ErrorCode.PERMANENT_FAILURE,  # short link could not be made
    99: ErrorCode.TEMPORARY_FAILURE,  # system error
}

# Message statuses (seed). PDLIVRD is final for us but may be replaced later (see core.status).
STATUSES: dict[str, DeliveryStatus] = {
    "NEW": DeliveryStatus.QUEUED,
    "ENQUEUD": DeliveryStatus.QUEUED,
    "ACCEPTD": DeliveryStatus.ACCEPTED,
    "PDLIVRD": DeliveryStatus.PARTIALLY_DELIVERED,
    "DELIVRD": DeliveryStatus.DELIVERED,
    "UNDELIV": DeliveryStatus.UNDELIVERABLE,
    "REJECTD": DeliveryStatus.REJECTED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "DELETED": DeliveryStatus.DELETED,
    "UNKNOWN": DeliveryStatus.UNKNOWN,
}

# Why a final status is a failure, for the receipt's ErrorInfo.
STATUS_ERRORS: dict[str, ErrorCode] = {
    "UNDELIV": ErrorCode.PERMANENT_FAILURE,
    "REJECTD": ErrorCode.PERMANENT_FAILURE,
    "EXPIRED": ErrorCode.TEMPORARY_FAILURE,
    "DELETED": ErrorCode.PERMANENT_FAILURE,
}

# taskqueue/getStatus "status".
TASK_STATUSES: dict[int, str] = {0: "waiting", 1: "running", 2: "done", 3: "rejected"}
TASK_FINAL: frozenset[int] = frozenset({2, 3})

# campaign/create data[type].
CAMPAIGN_SINGLE, CAMPAIGN_BULK, CAMPAIGN_TEMPLATE = 1, 2, 3

MAX_STATUS_IDS = 100
MAX_RECIPIENTS = 500
VALIDITY_MINUTES = (60, 1440)
DEFER_RANGE = (timedelta(hours=1), timedelta(days=14))
_PLACEHOLDER_NAME = re.compile(r"^[A-Za-z0-9_]+$")


# --------------------------------------------------------------------------- requests


def flatten(params: Mapping[str, object], prefix: str = "") -> list[tuple[str, str]]:
    """PHP-style form fields: nested mappings and lists become ``a[b][0]=v``."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            out.extend(flatten(value, name))
        elif isinstance(value, list | tuple):
            out.extend(flatten({str(i): v for i, v in enumerate(value)}, name))
        elif value is None:
            continue
        elif isinstance(value, bool):
            out.append((name, "1" if value else "0"))
        else:
            out.append((name, str(value)))
    return out


def api_request(
    base_url: str,
    api_key: str,
    module: str,
    method: str,
    params: Mapping[str, object] | None = None,
    *,
    key_in: str = "query",
    host: str | None = None,
) -> httpx.Request:
    """``POST {base}/service/{module}/{method}?output=json&api=v1&apiKey=KEY`` with the form body.

    The documents' every example, and the official client, put all three in the query string:
    "curl -X POST 'https://api.mobizon.com.br/service/message/getSMSStatus?output=json&api=v1&apiKey=KKKK…'
    -H 'content-type: application/x-www-form-urlencoded' -d 'ids%5B0%5D=123&…'" (Message module docs).

    ``host`` sends a different Host header to the same base URL: how a test
    (or a pinned IP) follows a code-13 redirect to another domain.
    """
    query: dict[str, str] = {"output": "json", "api": "v1"}
    form = flatten(params or {})
    if key_in == "query":
        query["apiKey"] = api_key
    else:
        form.insert(0, ("apiKey", api_key))
    url = f"{base_url.rstrip('/')}/service/{module.lower()}/{method.lower()}"
    headers = {"Host": host} if host else None
    return httpx.Request("POST", url, params=query, data=dict(form), headers=headers)


def format_ts(when: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS``; we send UTC (the API has no zone field; see docs)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def validity_minutes(validity: timedelta) -> int:
    return int(validity.total_seconds() // 60)


def check_message(msg: Message, now: datetime | None = None) -> ErrorInfo | None:
    """Refuse locally what the API would refuse, naming the field."""
    if not msg.text:
        return ErrorInfo(code=ErrorCode.INVALID_ARGUMENT, native_message="text: empty")
    if msg.validity is not None:
        minutes = validity_minutes(msg.validity)
        low, high = VALIDITY_MINUTES
        if not low <= minutes <= high:
            return ErrorInfo(
                code=ErrorCode.INVALID_ARGUMENT,
                native_message=f"validity: {minutes} min is outside {low}-{high} minutes",
            )
    if msg.scheduled_at is not None:
        current = now or datetime.now(UTC)
        when = msg.scheduled_at if msg.scheduled_at.tzinfo else msg.scheduled_at.replace(tzinfo=UTC)
        ahead = when - current
        if not DEFER_RANGE[0] <= ahead <= DEFER_RANGE[1]:
            return ErrorInfo(
                code=ErrorCode.INVALID_ARGUMENT,
                native_message="scheduled_at: must be 1 hour to 14 days ahead",
            )
    return None


def send_params(msg: Message, *, sender: str | None = None, shorten_links: bool = False) -> dict[str, object]:
    params: dict[str, object] = {"recipient": digits(msg.to), "text": msg.text}
    if msg.sender or sender:
        params["from"] = msg.sender or sender
    extra: dict[str, object] = {}
    if msg.validity is not None:
        extra["validity"] = validity_minutes(msg.validity)
    if msg.scheduled_at is not None:
        extra["deferredToTs"] = format_ts(msg.scheduled_at)
    if shorten_links:
        extra["shortenLinks"] = 1
    if msg.reference:
        extra["name"] = msg.reference[:255]
    if extra:
        params["params"] = extra
    return params


def status_params(ids: Sequence[str]) -> dict[str, object]:
    if len(ids) > MAX_STATUS_IDS:
        raise ConfigError(f"message/getSMSStatus takes at most {MAX_STATUS_IDS} ids, got {len(ids)}")
    return {"ids": list(ids)}


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Envelope:
    """``{"code", "data", "message"}``: every Mobizon answer."""

    code: int
    data: Any = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code in SUCCESS_CODES


def parse_envelope(body: object) -> Envelope | ErrorInfo:
    """The envelope, or PROTOCOL_ERROR when the body is not one. Never raises."""
    if not isinstance(body, dict) or "code" not in body:
        return ErrorInfo(
            code=ErrorCode.PROTOCOL_ERROR, native_message=f"not a Mobizon reply: {truncate(str(body))}"
        )
    try:
        code = int(body["code"])
    except (TypeError, ValueError):
        return ErrorInfo(
            code=ErrorCode.PROTOCOL_ERROR, native_message=f"non-numeric code: {truncate(str(body))}"
        )
    return Envelope(code=code, data=body.get("data"), message=str(body.get("message") or ""))


def envelope_error(env: Envelope) -> ErrorInfo | None:
    """Our error for a whole-request failure; None for codes 0 and 100."""
    if env.ok:
        return None
    code = ERRORS.get(env.code, ErrorCode.PERMANENT_FAILURE)
    text = env.message
    if env.code == 1 and isinstance(env.data, dict) and env.data:
        fields = [str(k) for k in env.data]
        for name in fields:
            if name in FIELD_ERRORS:
                code = FIELD_ERRORS[name]
                break
        detail = "; ".join(f"{k}: {v}" for k, v in env.data.items())
        text = f"{text} ({detail})" if text else detail
    elif env.code == 13:
        text = (
            f"{text} (server: {wrong_server_domain(env)})" if text else f"server: {wrong_server_domain(env)}"
        )
    return ErrorInfo(code=code, native_code=env.code, native_message=truncate(text))


def wrong_server_domain(env: Envelope) -> str | None:
    """The domain a code-13 answer points to: ``data`` is a plain string or an object with it."""
    data = env.data
    if isinstance(data, dict):
        for key in ("domain", "server", "host", "url"):
            if data.get(key):
                data = data[key]
                break
    if not isinstance(data, str) or not data.strip():
        return None
    value = data.strip()
    if "://" in value:
        value = urlsplit(value).netloc
    return value.rstrip("/") or None


# A code-13 answer would send the API key to another host, so only Mobizon's own API hosts are followed.
# Any other answer is final at once: asking again gets the same answer (code 13 is "WRONG_SERVER,
# retry after switching host", but we will not switch), so it must not be retried as WRONG_SERVER.
_API_DOMAIN = re.compile(r"^api\.mobizon\.[a-z]{2,10}(\.[a-z]{2,3})?$")


def acceptable_domain(domain: str) -> bool:
    """Whether a code-13 domain looks like one of Mobizon's regional API servers."""
    return bool(_API_DOMAIN.match(domain.lower()))


def refused_server(env: Envelope, domain: str | None) -> ErrorInfo:
    """A code-13 answer we will not follow: not retryable, naming the domain and how to trust it."""
    where = f"{domain}, which is not a Mobizon API host" if domain else "no domain given"
    return ErrorInfo(
        code=ErrorCode.ACCESS_DENIED,
        native_code=env.code,
        native_message=truncate(
            f"wrong server: the account is served elsewhere ({where}); the API key is not sent there"
            " (point base_url at it if it is yours)"
            + (f": {env.message}" if env.message else "")
        ),
    )


def parse_send(reply: Envelope | ErrorInfo, msg: Message) -> SendResult:
    if isinstance(reply, ErrorInfo):
        return SendResult(message_id=msg.id, status=DeliveryStatus.FAILED, error=reply)
    err = envelope_error(reply)
    if err is not None:
        return SendResult(
            message_id=msg.id, status=DeliveryStatus.FAILED, error=err, raw={"data": reply.data}
        )
    data = reply.data if isinstance(reply.data, dict) else {}
    message_id = data.get("messageId")
    if message_id in (None, ""):
        bad = ErrorInfo(
            code=ErrorCode.PROTOCOL_ERROR, native_message=f"no messageId in {truncate(str(reply.data))}"
        )
        return SendResult(message_id=msg.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=bad)
    nid = str(message_id)
    warnings = ("in moderation",) if str(data.get("status")) == "1" else ()
    return SendResult(
        message_id=msg.id,
        status=DeliveryStatus.SUBMITTED,
        native_id=nid,
        native_ids=(nid,),
        warnings=warnings,
        raw=dict(data),
    )


def receipt_from_item(item: Mapping[str, object], link: str = "") -> DeliveryReceipt | None:
    nid = item.get("id", item.get("messageId"))
    if nid in (None, ""):
        return None
    native = str(item.get("status") or "")
    status = STATUSES.get(native, DeliveryStatus.UNKNOWN)
    error = None
    if native in STATUS_ERRORS:
        error = ErrorInfo(code=STATUS_ERRORS[native], native_code=native, native_message=native)
    return DeliveryReceipt(
        native_id=str(nid), status=status, native_status=native, error=error, link=link, raw=dict(item)
    )


def parse_status(reply: Envelope | ErrorInfo, link: str = "") -> list[DeliveryReceipt]:
    """Receipts for the ids the provider knows; unknown or foreign ids are simply absent."""
    if isinstance(reply, ErrorInfo) or not reply.ok or not isinstance(reply.data, list):
        return []
    out = []
    for item in reply.data:
        if isinstance(item, dict):
            receipt = receipt_from_item(item, link)
            if receipt is not None:
                out.append(receipt)
    return out


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


# --------------------------------------------------------------------------- webhooks


def webhook_signature(payload: Mapping[str, object], secret: str) -> str:
    """``sha1(eventId|attempt|eventCreateTs|secretKey)`` as the webhook's ``sign``."""
    base = "|".join(str(payload.get(k, "")) for k in ("eventId", "attempt", "eventCreateTs")) + "|" + secret
    return hashlib.sha1(base.encode("utf-8")).hexdigest()


def verify_webhook(payload: Mapping[str, object], secret: str) -> bool:
    sign = str(payload.get("sign", ""))
    return bool(sign) and hmac.compare_digest(sign.lower(), webhook_signature(payload, secret))


def receipt_from_webhook(payload: Mapping[str, object], link: str = "") -> DeliveryReceipt | None:
    """The receipt in an ``sms-delivery-report`` event (final statuses only); None for other events."""
    if payload.get("eventType") != "sms-delivery-report" or not isinstance(payload.get("data"), dict):
        return None
    data = payload["data"]
    assert isinstance(data, dict)
    return receipt_from_item({"id": data.get("messageId"), **data}, link)


# --------------------------------------------------------------------------- campaigns


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


# --------------------------------------------------------------------------- transport


def answered_unreadably(reply: Reply, error: ErrorInfo) -> bool:
    """A 2xx whose body we could not read (empty, truncated, not an envelope): the request took effect or not."""
    return (
        reply.response is not None
        and reply.response.status_code < 300
        and error.code is ErrorCode.PROTOCOL_ERROR
    )


class MobizonTransport(HttpTransport):
    """``mobizon://API_KEY@api.mobizon.kz``.

    URL options beyond the shared ones: ``sender``, ``shorten_links`` (yes/no),
    ``key_in`` (body|query), ``concurrency`` (parallel sends, default 4),
    ``task_poll`` (seconds between taskqueue/getStatus calls, default 1: the
    documented limit), ``task_timeout`` (default 600 s).
    """

    scheme = "mobizon"
    default_host = DEFAULT_HOST
    user_is_secret = True
    summary = "Mobizon HTTP API (sendSmsMessage, getSMSStatus, campaigns)"
    capabilities = Capabilities(max_batch=1, status_poll=MAX_STATUS_IDS)

    declared_options = HTTP_OPTIONS + OptionSet(
        opt.text("sender", None, "`from`, unless the message sets its own"),
        opt.flag(
            "shorten_links",
            False,
            "`params[shortenLinks]=1` / `data[shortenLinks]=1` (the provider shortens URLs in the text)",
        ),
        opt.choice(
            "key_in",
            "query",
            ("body", "query"),
            "`query` (the documents' form) puts `apiKey` in the query string, as the official client does (msgbridge's log filter "
            "hides it from httpx's request log; other proxies and servers may still record it)",
        ),
        opt.integer("concurrency", 4, 1, 64, "parallel `sendSmsMessage` calls inside one `send()`"),
        opt.number("task_poll", 1.0, 0.001, 60, "seconds between `taskqueue/getStatus` calls (the documented limit is 1 request/s)"),
        opt.number("task_timeout", 600.0, 1, 86_400, "how long to follow a background task"),
    )

    # Code-13 answers, remembered per API key (by hash) for the life of the process.
    _homes: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        url: TransportURL,
        *,
        client: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(url, client=client, backoff=backoff)
        self.api_key()  # fail early without a key
        o = self.settings
        self.sender = o.get_text("sender")
        self.shorten_links = o.get_bool("shorten_links")
        self.key_in = o.get_str("key_in")
        self.concurrency = o.get_int("concurrency")
        self.task_poll = o.get_float("task_poll")
        self.task_timeout = o.get_float("task_timeout")
        self._pinned = bool(o.get_text("base_url"))
        # A code-13 answer we refused to follow: decided once, then every call fails without a request.
        self._refused: ErrorInfo | None = None
        self._server_confirmed = False  # an answer other than code 13 came: concurrency is safe

    # -- where this key's account lives

    @property
    def _key_id(self) -> str:
        return hashlib.sha256(self.api_key().encode()).hexdigest()

    @property
    def home(self) -> str | None:
        """The domain a code-13 answer sent us to, if any."""
        return self._homes.get(self._key_id)

    def _target(self) -> tuple[str, str | None]:
        """(base URL, Host header override) for the next request."""
        home = self.home
        if home is None:
            return self.base_url, None
        if self._pinned:
            # base_url points at a fixed address (an emulator): keep it, name the domain in Host
            return self.base_url, home
        return f"https://{home}", None

    # -- one API call: code 30 retried with backoff, code 13 followed once

    async def api(
        self, module: str, method: str, params: Mapping[str, object] | None = None, *, send: bool = False
    ) -> tuple[Envelope | ErrorInfo, Reply]:
        def provider_error(body: object) -> ErrorInfo | None:
            env = parse_envelope(body)
            if isinstance(env, Envelope) and env.code == 30:
                return envelope_error(env)
            return None

        if self._refused is not None:
            return self._refused, Reply(request=api_request(self.base_url, "", module, method))
        switched = False
        while True:

            def build() -> httpx.Request:
                base, host = self._target()
                return api_request(
                    base, self.api_key(), module, method, params, key_in=self.key_in, host=host
                )

            reply = await self.call_with_retry(build, send=send, provider_error=provider_error)
            http_failed = reply.response is None or reply.response.status_code >= 400
            if reply.error is not None and (http_failed or reply.data is None):
                # an HTTP-level failure: whatever body came with it is not a Mobizon answer
                return reply.error, reply
            env = parse_envelope(reply.data)
            if isinstance(env, Envelope) and env.code != 13:
                self._server_confirmed = True
            if isinstance(env, Envelope) and env.code == 13 and not switched:
                domain = wrong_server_domain(env)
                if not domain or not acceptable_domain(domain):
                    log.warning("mobizon: not following a wrong-server answer to %r: not a Mobizon API host", domain)
                    self._refused = refused_server(env, domain)
                    return self._refused, reply
                # concurrent calls may all learn this at once; each retries once on the new domain
                if domain != self.home:
                    log.info("mobizon: account served by %s; switching", domain)
                    self._homes[self._key_id] = domain
                switched = True
                continue
            return env, reply

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

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        for msg in messages:
            if msg.channel != Channel.SMS:
                raise UnsupportedFeature("mobizon:// sends SMS only")

        async def one(msg: Message) -> list[SendResult]:
            problem = check_message(msg)
            if problem is not None:
                return [SendResult(message_id=msg.id, status=DeliveryStatus.FAILED, error=problem)]
            params = send_params(msg, sender=self.sender, shorten_links=self.shorten_links)
            env, reply = await self.api("message", "sendSmsMessage", params, send=True)
            if isinstance(env, ErrorInfo):
                if answered_unreadably(reply, env):
                    # the provider answered, we cannot read it: the message may have gone out
                    return [SendResult(message_id=msg.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=env)]
                return [self.failed(msg, env, reply)]
            return [parse_send(env, msg)]

        if not self._server_confirmed and len(messages) > 1:
            # The first answer tells whether this server serves the account (code 13): learn it from
            # one request rather than from ``concurrency`` of them.
            first = await one(messages[0])
            return first + await self.gather_batches([one(m) for m in messages[1:]], limit=self.concurrency)
        return await self.gather_batches([one(m) for m in messages], limit=self.concurrency)

    async def status(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        out: list[DeliveryReceipt] = []
        for chunk in chunks(list(native_ids), MAX_STATUS_IDS):
            env, _ = await self.api("message", "getSMSStatus", status_params(chunk))
            if isinstance(env, ErrorInfo) or not env.ok:
                why = env if isinstance(env, ErrorInfo) else envelope_error(env)
                if why is not None and why.code is ErrorCode.THROTTLED and not out:
                    # code 30, "too frequent calls to the same API method": the poller backs off
                    raise MessagingError("mobizon: status poll refused", why)
                log.warning("mobizon: status poll failed: %s", why)
                continue
            out.extend(parse_status(env, self.link))
        return out

    async def balance(self) -> str:
        env, _ = await self.api("user", "getOwnBalance")
        if isinstance(env, ErrorInfo):
            raise TransportError(f"mobizon: balance request failed: {env}", env)
        err = envelope_error(env)
        if err is not None:
            raise MessagingError(f"mobizon: balance refused: {err}", err)
        data = env.data if isinstance(env.data, dict) else {}
        return f"{data.get('balance', '')} {data.get('currency', '')}".strip()

    # -- provider campaigns

    async def run_campaign(self, campaign: Campaign, recipients: Sequence[Message]) -> ProviderCampaignResult:
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
                err = err.model_copy(update={"code": ErrorCode.TEMPORARY_FAILURE})
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
                final.append(r.model_copy(update={"status": status, "error": send_error}))
            elif r.status is DeliveryStatus.QUEUED:
                final.append(r.model_copy(update={"status": DeliveryStatus.SUBMITTED}))
            else:
                final.append(r)
        phase = ""
        if isinstance(env, Envelope) and send_error is None:
            phase = "moderation" if str(env.data) == "1" else "sent"
        return outcome(campaign_id, phase, final, warnings)

    async def create_short_link(self, full_link: str) -> str:
        """link/create: a short link to put in a text yourself (``shorten_links`` does it for every URL)."""
        env, _ = await self.api("link", "create", {"data": {"fullLink": full_link}})
        if isinstance(env, ErrorInfo):
            raise TransportError(f"mobizon: link/create failed: {env}", env)
        err = envelope_error(env)
        if err is not None:
            raise MessagingError(f"mobizon: link/create refused: {err}", err)
        short = env.data.get("shortLink") if isinstance(env.data, dict) else None
        if not short:
            info = ErrorInfo(
                code=ErrorCode.PROTOCOL_ERROR, native_message=f"no shortLink in {truncate(str(env.data))}"
            )
            raise MessagingError("mobizon: link/create gave no link", info)
        return str(short)

    async def campaign_status(self, campaign_id: str) -> dict[str, object]:
        """campaign/getInfo: moderationStatus, commonStatus and the per-status counters."""
        env, _ = await self.api("campaign", "getInfo", {"id": campaign_id})
        if isinstance(env, ErrorInfo):
            raise TransportError(f"mobizon: campaign/getInfo failed: {env}", env)
        err = envelope_error(env)
        if err is not None:
            raise MessagingError(f"mobizon: campaign/getInfo refused: {err}", err)
        return dict(env.data) if isinstance(env.data, dict) else {"data": env.data}
