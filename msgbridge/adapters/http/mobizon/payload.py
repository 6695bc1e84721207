"""Mobizon HTTP API: ``https://api.mobizon.{tld}/service/{module}/{method}?output=json&api=v1``.

Pure functions that build requests and read the ``{"code", "data",
"message"}`` envelope, and the payload the shared send loop uses.

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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from msgbridge.adapters.http.mobizon.tables import (
    DEFER_RANGE,
    ERRORS,
    FIELD_ERRORS,
    MAX_STATUS_IDS,
    STATUS_ERRORS,
    STATUSES,
    SUCCESS_CODES,
    VALIDITY_MINUTES,
)
from msgbridge.adapters.http.payload import Call, Payload, failed_result
from msgbridge.adapters.http.replies import Reply, truncate
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.phone import digits
from msgbridge.core.status import DeliveryStatus

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
            " (point base_url at it if it is yours)" + (f": {env.message}" if env.message else "")
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


def answered_unreadably(reply: Reply, error: ErrorInfo) -> bool:
    """A 2xx whose body we could not read (empty, truncated, not an envelope): the request took effect or not."""
    return (
        reply.response is not None
        and reply.response.status_code < 300
        and error.code is ErrorCode.PROTOCOL_ERROR
    )


def read_envelope(reply: Reply) -> Envelope | ErrorInfo:
    """The envelope of an answer, or the failure: an HTTP-level one's body is not a Mobizon answer."""
    if reply.error is not None and reply.exchange_failed:
        return reply.error
    return parse_envelope(reply.data)


class MobizonPayload(Payload):
    """One ``message/sendSmsMessage`` per message; ``message/getSMSStatus`` for up to 100 ids.

    Mobizon carries a validity (minutes), a deferred start and our reference
    (``params[name]``); no subject, html or metadata.
    """

    carries: ClassVar[frozenset[str]] = frozenset({"validity", "scheduled_at"})
    status_batch = MAX_STATUS_IDS
    refused_as: ClassVar[DeliveryStatus] = DeliveryStatus.FAILED

    def __init__(self, sender: str | None, shorten_links: bool) -> None:
        self.sender = sender
        self.shorten_links = shorten_links

    def check(self, message: Message) -> ErrorInfo | None:
        return check_message(message)

    def build_send(self, batch: Sequence[Message]) -> Call:
        (message,) = batch
        return Call(
            "message/sendSmsMessage",
            send_params(message, sender=self.sender, shorten_links=self.shorten_links),
        )

    def parse_send(self, reply: Reply, batch: Sequence[Message]) -> list[SendResult | None]:
        env = parse_envelope(reply.data)
        if isinstance(env, ErrorInfo):
            # the provider answered, we cannot read it: the message may have gone out
            return [failed_result(m, env, in_doubt=answered_unreadably(reply, env)) for m in batch]
        return [parse_send(env, m) for m in batch]

    def build_status(self, native_ids: Sequence[str]) -> Call:
        return Call("message/getSMSStatus", status_params(native_ids))

    def parse_status(
        self, reply: Reply, native_ids: Sequence[str], link: str
    ) -> list[DeliveryReceipt] | ErrorInfo:
        env = read_envelope(reply)
        if isinstance(env, ErrorInfo):
            return env
        why = envelope_error(env)
        if why is not None:
            # code 30, "too frequent calls to the same API method", is THROTTLED: the poller backs off
            return why
        return parse_status(env, link)

    def error_of(self, data: Any) -> ErrorInfo | None:
        """Code 30 (too frequent calls) is retried inside the call like HTTP 429."""
        env = parse_envelope(data)
        if isinstance(env, Envelope) and env.code == 30:
            return envelope_error(env)
        return None
