"""SMSC.ru HTTP API: ``https://smsc.ru/sys/{send,status,balance,phones}.php``.

Read top to bottom: the native tables, then pure functions that build an
``httpx.Request`` and pure functions that read a reply, then the transport
that wires them to the shared HTTP client.

Things about SMSC.ru that shape this module:

- One request may carry many phones with one text (``phones=a,b,c``); the
  reply names one message id for all of them. A message is therefore known by
  the pair (id, phone), and our native id is ``"<id>:<phone digits>"``.
- Every call answers in the format picked by ``fmt`` (0 text, 1 comma list,
  2 XML, 3 JSON) and errors come back as HTTP 200 with a numeric code.
  We always ask for ``fmt=3`` but can read all four.
- The same numbers mean different things in send/status replies and in the
  contacts API, so there are two error tables (``tables.py``).
- Credentials travel in the POST body (``login`` + ``psw``, or ``apikey``),
  never in the URL.
- Every send asks what it cost (``cost=2``); the answer gives an amount and no
  currency, so the account's currency is an option (``currency``, RUB unless
  set: SMSC.ru bills in roubles; an smsc.kz or smsc.ua account in its own).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import ClassVar

import httpx

from msgbridge.adapters.http.payload import Call, Payload
from msgbridge.adapters.http.replies import Reply
from msgbridge.adapters.http.smsc.replies import SmscReply, _opt_str, _truncate, error_info, read_reply
from msgbridge.adapters.http.smsc.tables import (
    DEFAULT_CURRENCY,
    DEFAULT_HOST,
    DELIVERY_ERRORS,
    ERRORS,
    STATUS_ERRORS,
    STATUS_LIMIT_WINDOW,
    STATUSES,
)
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.money import micros_of
from msgbridge.core.phone import digits
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import Secret

# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SmscConfig:
    """Credentials and endpoints; ``base_urls[0]`` is tried first, the rest on host failure."""

    login: str | None
    secret: Secret
    base_urls: tuple[str, ...] = (f"https://{DEFAULT_HOST}",)
    sender: str | None = None
    max_phones: int = 100
    status_batch: int = 100
    currency: str = DEFAULT_CURRENCY  # of the ``cost`` in send answers, which name none

    def auth(self) -> dict[str, str]:
        if self.login:
            return {"login": self.login, "psw": self.secret.reveal()}
        return {"apikey": self.secret.reveal()}


# --------------------------------------------------------------------------- requests


def _post(
    cfg: SmscConfig, script: str, params: Mapping[str, str], base_url: str | None = None
) -> httpx.Request:
    """All calls go by POST so that credentials and long texts stay out of the URL (and logs)."""
    body = {**cfg.auth(), **params}
    base = (base_url or cfg.base_urls[0]).rstrip("/")
    return httpx.Request("POST", f"{base}/sys/{script}.php", data=body)


def format_validity(validity: timedelta) -> str:
    """``valid=hh:mm``; SMSC accepts 1 minute to 24 hours."""
    minutes = max(1, min(24 * 60, int(validity.total_seconds() // 60)))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_time(when: datetime) -> str:
    """``time=0<unix ts>``: an absolute moment, free of time-zone guessing."""
    return f"0{int(when.timestamp())}"


def send_params(
    phones: Sequence[str],
    text: str,
    *,
    sender: str | None = None,
    validity: timedelta | None = None,
    scheduled_at: datetime | None = None,
    client_id: int | None = None,
) -> dict[str, str]:
    params = {
        "phones": ",".join(digits(p) for p in phones),
        "mes": text,
        "fmt": "3",
        "charset": "utf-8",
        # op=1 asks for a line per phone, so one bad number among many is reported alone.
        "op": "1",
        # "`cost`: 0 send; 1 cost only; 2 send + cost; 3 send + cost + balance": send, and say what it cost.
        "cost": "2",
    }
    if sender:
        params["sender"] = sender
    if validity is not None:
        params["valid"] = format_validity(validity)
    if scheduled_at is not None:
        params["time"] = format_time(scheduled_at)
    if client_id is not None:
        params["id"] = str(client_id)
    return params


def send_request(cfg: SmscConfig, phones: Sequence[str], text: str, **kw: object) -> httpx.Request:
    return _post(cfg, "send", send_params(phones, text, sender=cfg.sender, **kw))  # type: ignore[arg-type]


def status_request(cfg: SmscConfig, native_ids: Sequence[str], base_url: str | None = None) -> httpx.Request:
    """Many (id, phone) pairs in one call, the trailing commas forcing the list form of the reply.

    One pair goes without them: a request about one message, not a mass request, which
    SMSC.ru allows only once a minute.
    """
    return _post(cfg, "status", status_params(native_ids), base_url)


def status_params(native_ids: Sequence[str]) -> dict[str, str]:
    pairs = [split_native_id(n) for n in native_ids]
    tail = "," if len(pairs) > 1 else ""
    return {
        "id": ",".join(i for i, _ in pairs) + tail,
        "phone": ",".join(p for _, p in pairs) + tail,
        "fmt": "3",
        "all": "0",
        "charset": "utf-8",
    }


def balance_request(cfg: SmscConfig, base_url: str | None = None) -> httpx.Request:
    return _post(cfg, "balance", {"fmt": "3"}, base_url)


def native_id(sms_id: str | int, phone: str) -> str:
    return f"{sms_id}:{digits(phone)}"


def split_native_id(value: str) -> tuple[str, str]:
    sms_id, sep, phone = value.partition(":")
    if not sep or not sms_id or not phone:
        raise ConfigError(f"not an SMSC.ru message id (expected ID:PHONE): {value!r}")
    return sms_id, phone


def _int(value: object, default: int = 0) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def costs_of(
    row: Mapping[str, object], per_phone: Mapping[str, Mapping[str, object]], sent: Sequence[str]
) -> dict[str, int]:
    """What each sent phone (digits) cost, in micros; {} when the answer says nothing readable.

    "Success: `{"id":<id>,"cnt":<parts>}`, plus `cost`/`balance` when `cost` is 2 or 3" (send.php, fmt=3):
    ``cost`` is the whole request's. Where the ``op=1`` list gives each phone its own ``cost`` that is
    taken (phones of one request may go to countries priced apart); otherwise the request's total is
    split evenly, the odd micros to the first phones, so the parts add up to what was charged.
    """
    own = {p: micros_of(per_phone.get(p, {}).get("cost")) for p in sent}
    if sent and all(v is not None for v in own.values()):
        return {p: v for p, v in own.items() if v is not None}
    total = micros_of(row.get("cost"))
    if total is None or not sent:
        return {}
    share, odd = divmod(total, len(sent))
    return {p: share + (1 if k < odd else 0) for k, p in enumerate(sent)}


def parse_send(
    reply: SmscReply, messages: Sequence[Message], currency: str = DEFAULT_CURRENCY
) -> list[SendResult]:
    """One SendResult per message of one multi-phone request, each with its cost in ``currency``.

    With ``op=1`` the reply lists each phone; a phone with an ``error`` is
    refused alone while the others go out. Without that list every phone
    shares the request's fate.
    """
    err = error_info(reply)
    if err is not None:
        # Code 9 on a send: an identical request went through within the last minute.
        # Most often that is our own earlier try whose answer was lost, so the
        # message was probably sent: in doubt, never "refused".
        status = DeliveryStatus.MAYBE_SUBMITTED if err.code is ErrorCode.DUPLICATE else DeliveryStatus.FAILED
        return [
            SendResult(message_id=m.id, status=status, error=err, raw={"reply": reply.raw}) for m in messages
        ]
    row = reply.first()
    sms_id = _opt_str(row.get("id"))
    if sms_id is None:
        bad = ErrorInfo(
            code=ErrorCode.PROTOCOL_ERROR, native_message=f"send reply without an id: {_truncate(reply.raw)}"
        )
        # the provider accepted the request but did not say under which id: it may have sent
        return [
            SendResult(message_id=m.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=bad) for m in messages
        ]
    per_phone: dict[str, Mapping[str, object]] = {}
    phones = row.get("phones")
    if isinstance(phones, list):
        for item in phones:
            if isinstance(item, dict):
                per_phone[digits(str(item.get("phone", "")))] = item
    total = _int(row.get("cnt"), len(messages))
    went = [digits(m.to) for m in messages if "error" not in per_phone.get(digits(m.to), {})]
    sent = len(went) or 1
    segments = max(1, total // sent)
    costs = costs_of(row, per_phone, went)
    results: list[SendResult] = []
    for m in messages:
        item = per_phone.get(digits(m.to), {})
        if item.get("error") not in (None, "", 0, "0"):
            code = _int(item.get("error"))
            info = ErrorInfo(
                code=ERRORS.get(code, ErrorCode.PERMANENT_FAILURE),
                native_code=code,
                native_message=str(item.get("error_text", "")),
            )
            results.append(
                SendResult(message_id=m.id, status=DeliveryStatus.FAILED, error=info, raw=dict(item))
            )
            continue
        nid = native_id(sms_id, m.to)
        cost = costs.get(digits(m.to))
        results.append(
            SendResult(
                message_id=m.id,
                status=DeliveryStatus.SUBMITTED,
                native_id=nid,
                native_ids=(nid,),
                segments=segments,
                raw={"id": sms_id, "cnt": total, **({"phone": dict(item)} if item else {})},
                cost=None if cost is None else (cost, currency),
            )
        )
    return results


def receipt_from_row(row: Mapping[str, object], nid: str, link: str = "") -> DeliveryReceipt:
    native = _int(row.get("status"), -99)
    status = STATUSES.get(native, DeliveryStatus.UNKNOWN)
    err_code = _int(row.get("err"))
    error: ErrorInfo | None = None
    if err_code and status.is_final and status is not DeliveryStatus.DELIVERED:
        code, text = DELIVERY_ERRORS.get(err_code, (ErrorCode.PERMANENT_FAILURE, "delivery error"))
        error = ErrorInfo(code=code, native_code=err_code, native_message=text)
    return DeliveryReceipt(
        native_id=nid,
        status=status,
        native_status=str(row.get("status", "")),
        error=error,
        link=link,
        raw=dict(row),
    )


def parse_status(reply: SmscReply, native_ids: Sequence[str], link: str = "") -> list[DeliveryReceipt]:
    """Receipts for the asked ids; an error reply becomes no receipts (the caller polls again)."""
    if not reply.ok:
        return []
    by_pair: dict[tuple[str, str], Mapping[str, object]] = {}
    for item in reply.rows:
        if "id" in item and "phone" in item:
            by_pair[(str(item["id"]), digits(str(item["phone"])))] = item
    out: list[DeliveryReceipt] = []
    for i, nid in enumerate(native_ids):
        row = by_pair.get(split_native_id(nid))
        if row is None and not by_pair and i < len(reply.rows):
            row = reply.rows[i]  # rows without id/phone come back in the order asked
        if row is None or "status" not in row:
            continue
        out.append(receipt_from_row(row, nid, link))
    return out


def parse_balance(reply: SmscReply) -> str | ErrorInfo:
    err = error_info(reply)
    if err is not None:
        return err
    row = reply.first()
    value = row.get("balance", row.get("value"))
    if value is None:
        return ErrorInfo(
            code=ErrorCode.PROTOCOL_ERROR, native_message=f"balance reply without a balance: {reply.raw}"
        )
    return str(value)


def group_key(msg: Message) -> tuple[str, str | None, timedelta | None, datetime | None]:
    """Messages that may share one request: same text, sender, validity and schedule."""
    return (msg.text, msg.sender, msg.validity, msg.scheduled_at)


def plan_batches(messages: Sequence[Message], max_phones: int) -> list[list[int]]:
    """Indexes of ``messages`` grouped into requests, keeping a phone at most once per request.

    A phone repeated in one request would be merged by the provider into one
    message and leave us unable to tell the two apart.
    """
    groups: dict[tuple[str, str | None, timedelta | None, datetime | None], list[list[int]]] = {}
    # Per group, the first bucket that may still have room: buckets fill in order and a full one
    # never empties, so the search starts there (one text to 10,000 phones stays linear).
    first_open: dict[tuple[str, str | None, timedelta | None, datetime | None], int] = {}
    order: list[list[int]] = []
    phones_in: dict[int, set[str]] = {}
    for i, msg in enumerate(messages):
        key = group_key(msg)
        buckets = groups.setdefault(key, [])
        start = first_open.get(key, 0)
        while start < len(buckets) and len(buckets[start]) >= max_phones:
            start += 1
        first_open[key] = start
        phone = digits(msg.to)
        target = None
        for bucket in buckets[start:]:
            if len(bucket) < max_phones and phone not in phones_in[id(bucket)]:
                target = bucket
                break
        if target is None:
            target = []
            buckets.append(target)
            order.append(target)
            phones_in[id(target)] = set()
        target.append(i)
        phones_in[id(target)].add(phone)
    return order


class SmscPayload(Payload):
    """``send.php`` for one text to many phones (``op=1``: a line per phone); ``status.php`` for many pairs.

    SMSC.ru carries a validity (``valid``) and a start time (``time``); no
    subject, html or metadata.
    """

    carries: ClassVar[frozenset[str]] = frozenset({"validity", "scheduled_at"})

    def __init__(self, cfg: SmscConfig) -> None:
        self.cfg = cfg
        self.status_batch = cfg.status_batch

    def group_key(self, message: Message) -> Hashable:
        return group_key(message)

    def batches(self, messages: Sequence[Message], indexes: Sequence[int]) -> list[list[int]]:
        """Requests of one text each, a phone at most once per request (see :func:`plan_batches`)."""
        planned = plan_batches([messages[i] for i in indexes], self.cfg.max_phones)
        return [[indexes[k] for k in batch] for batch in planned]

    def build_send(self, batch: Sequence[Message]) -> Call:
        first = batch[0]
        params = send_params(
            [m.to for m in batch],
            first.text,
            sender=first.sender or self.cfg.sender,
            validity=first.validity,
            scheduled_at=first.scheduled_at,
        )
        return Call("send", params)

    def parse_send(self, reply: Reply, batch: Sequence[Message]) -> list[SendResult | None]:
        parsed = read_reply(reply, "send")
        if parsed is None or parsed.malformed:
            # the provider answered but we cannot read it: it may have sent; do not resend blindly
            error = reply.error if parsed is None else error_info(parsed)
            assert error is not None
            return [
                SendResult(message_id=m.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=error) for m in batch
            ]
        return list(parse_send(parsed, batch, self.cfg.currency))

    def build_status(self, native_ids: Sequence[str]) -> Call:
        return Call("status", status_params(native_ids))

    def parse_status(
        self, reply: Reply, native_ids: Sequence[str], link: str
    ) -> list[DeliveryReceipt] | ErrorInfo:
        parsed = read_reply(reply, "status")
        why = reply.error if parsed is None else error_info(parsed, {**ERRORS, **STATUS_ERRORS})
        if why is not None and why.code is ErrorCode.THROTTLED and why.native_code == 9:
            why = replace(why, retry_after=STATUS_LIMIT_WINDOW)
        if parsed is None or why is not None:
            return why or ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message="no status reply")
        return parse_status(parsed, native_ids, link)
