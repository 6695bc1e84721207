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
  contacts API (the seed's table for contacts and groups), so there are two
  error tables.
- Credentials travel in the POST body (``login`` + ``psw``, or ``apikey``),
  never in the URL.
"""

from __future__ import annotations

import asyncio
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

import httpx

from msgbridge.adapters.base import Capabilities
from msgbridge.adapters.http.base import HTTP_OPTIONS, HttpTransport, Reply, chunks, parse_json
from msgbridge.core import options as opt
from msgbridge.core.errors import (
    AuthError,
    ConfigError,
    ErrorCode,
    ErrorInfo,
    MessagingError,
    TransportError,
    UnsupportedFeature,
)
from msgbridge.core.message import Channel, DeliveryReceipt, Message, SendResult
from msgbridge.core.options import OptionSet
from msgbridge.core.phone import digits
from msgbridge.core.ratelimit import Backoff
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import Secret, TransportURL

log = logging.getLogger(__name__)

DEFAULT_HOST = "smsc.ru"
# The official library falls back to these when the main host fails.
BACKUP_HOSTS: tuple[str, ...] = ("www2.smsc.ru",)

# send.php / status.php / balance.php error codes -> ours.
ERRORS: dict[int, ErrorCode] = {
    1: ErrorCode.INVALID_ARGUMENT,  # parameter error
    2: ErrorCode.AUTH_FAILED,  # bad login/password (or IP not on the allow-list)
    3: ErrorCode.INSUFFICIENT_FUNDS,
    4: ErrorCode.THROTTLED,  # IP temporarily blocked after frequent erroneous requests
    5: ErrorCode.INVALID_ARGUMENT,  # bad date format
    6: ErrorCode.PERMANENT_FAILURE,  # message prohibited (text or sender name)
    7: ErrorCode.INVALID_DESTINATION,  # bad phone format
    8: ErrorCode.INVALID_DESTINATION,  # cannot be delivered to this number
    9: ErrorCode.DUPLICATE,  # identical request repeated within a minute
}

# status.php gives error 9 another meaning: "Попытка отправки более пяти запросов на получение
# статуса одного и того же сообщения или более одного массового запроса в течение минуты."
# (more than five status requests for the same message, or more than one mass request, within
# a minute). There it is a rate limit: THROTTLED, to be asked again once the minute is over.
# Only the rows where status.php differs from ERRORS.
STATUS_ERRORS: dict[int, ErrorCode] = {9: ErrorCode.THROTTLED}
STATUS_LIMIT_WINDOW = 60.0
# "...при попытке отправки пяти и более запросов одновременно ... под одним логином": fewer at once.
MAX_CONCURRENT_REQUESTS = 4

# Contacts and groups (seed: "Контакты и группы. Ответ сервера и коды ошибок").
CONTACT_ERRORS: dict[int, ErrorCode] = {
    1: ErrorCode.INVALID_ARGUMENT,  # Ошибка в параметрах
    2: ErrorCode.AUTH_FAILED,  # Неверный логин или пароль / IP not allowed
    3: ErrorCode.NOT_FOUND,  # Записи не найдены
    4: ErrorCode.THROTTLED,  # IP-адрес временно заблокирован
    5: ErrorCode.TEMPORARY_FAILURE,  # Ошибка выполнения операции
    9: ErrorCode.THROTTLED,  # >3 identical requests a minute, or 15+ concurrent ones
}

# status.php "status" -> ours.
STATUSES: dict[int, DeliveryStatus] = {
    -3: DeliveryStatus.UNKNOWN,  # message not found: the id is not known (stop polling)
    -2: DeliveryStatus.CANCELED,  # stopped
    -1: DeliveryStatus.QUEUED,  # waiting to be sent
    0: DeliveryStatus.SUBMITTED,  # handed to the operator
    1: DeliveryStatus.DELIVERED,
    2: DeliveryStatus.DELIVERED,  # read (only after delivery)
    3: DeliveryStatus.EXPIRED,
    4: DeliveryStatus.DELIVERED,  # link clicked (only after delivery)
    20: DeliveryStatus.UNDELIVERABLE,  # impossible to deliver
    22: DeliveryStatus.UNDELIVERABLE,  # invalid number
    23: DeliveryStatus.REJECTED,  # prohibited
    24: DeliveryStatus.REJECTED,  # insufficient funds
    25: DeliveryStatus.UNDELIVERABLE,  # unavailable number
}

# status.php "err": why a message was not delivered.
DELIVERY_ERRORS: dict[int, tuple[ErrorCode, str]] = {
    1: (ErrorCode.INVALID_DESTINATION, "subscriber does not exist"),
    6: (ErrorCode.TEMPORARY_FAILURE, "subscriber offline"),
    11: (ErrorCode.PERMANENT_FAILURE, "cannot accept SMS"),
    12: (ErrorCode.PERMANENT_FAILURE, "phone or SIM error"),
    13: (ErrorCode.PERMANENT_FAILURE, "subscriber blocked"),
    21: (ErrorCode.UNSUPPORTED, "no SMS support"),
    219: (ErrorCode.PERMANENT_FAILURE, "SIM replaced"),
    220: (ErrorCode.QUEUE_FULL, "operator queue overflow"),
}

# Positional columns of fmt=1 replies, per operation.
FMT1_COLUMNS: dict[str, tuple[str, ...]] = {
    "send": ("id", "cnt", "cost", "balance"),
    "status": ("status", "last_timestamp", "err"),
    "balance": ("balance",),
    "create": ("id",),
    "contacts": (
        "phone",
        "name",
        "group",
        "first_name",
        "last_name",
        "middle_name",
        "birthday",
        "id",
        "comments",
        "tags",
        "phone_other",
    ),
    "groups": ("id", "name", "number", "cnt"),
}

NATIVE_TEXT_LIMIT = 500


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
    pairs = [split_native_id(n) for n in native_ids]
    tail = "," if len(pairs) > 1 else ""
    params = {
        "id": ",".join(i for i, _ in pairs) + tail,
        "phone": ",".join(p for _, p in pairs) + tail,
        "fmt": "3",
        "all": "0",
        "charset": "utf-8",
    }
    return _post(cfg, "status", params, base_url)


def balance_request(cfg: SmscConfig, base_url: str | None = None) -> httpx.Request:
    return _post(cfg, "balance", {"fmt": "3"}, base_url)


def contacts_request(
    cfg: SmscConfig, action: str, params: Mapping[str, str], base_url: str | None = None
) -> httpx.Request:
    """``phones.php`` with one action flag: add, del, get, add_group, del_group, get_group, chg."""
    return _post(cfg, "phones", {action: "1", "fmt": "3", "charset": "utf-8", **params}, base_url)


def native_id(sms_id: str | int, phone: str) -> str:
    return f"{sms_id}:{digits(phone)}"


def split_native_id(value: str) -> tuple[str, str]:
    sms_id, sep, phone = value.partition(":")
    if not sep or not sms_id or not phone:
        raise ConfigError(f"not an SMSC.ru message id (expected ID:PHONE): {value!r}")
    return sms_id, phone


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class SmscReply:
    """One reply in any ``fmt``, reduced to the same shape.

    ``rows`` holds one mapping per record (one for a single answer, many for
    lists); ``error_code`` is the provider's N when it said ``ERROR``;
    ``malformed`` marks a reply we could not read at all.
    """

    rows: tuple[dict[str, object], ...] = ()
    error_code: int | None = None
    error_text: str = ""
    error_id: str | None = None
    malformed: bool = False
    raw: str = ""

    @property
    def ok(self) -> bool:
        return self.error_code is None and not self.malformed

    def first(self) -> dict[str, object]:
        return self.rows[0] if self.rows else {}


def _truncate(text: str) -> str:
    return text if len(text) <= NATIVE_TEXT_LIMIT else text[:NATIVE_TEXT_LIMIT] + "..."


def _malformed(text: str, why: str) -> SmscReply:
    return SmscReply(malformed=True, error_text=f"{why}: {_truncate(text)!r}", raw=_truncate(text))


_FMT0_ERROR = re.compile(r"^ERROR\s*=\s*(-?\d+)\s*(?:\((.*?)\))?\s*(?:,\s*ID\s*-\s*(\S+))?\s*$")
_FMT0_SEND = re.compile(
    r"^OK\s*-\s*(\d+)\s*SMS\s*,\s*ID\s*-\s*(\S+?)(?:\s*,\s*COST\s*-\s*([\d.]+))?(?:\s*,\s*BALANCE\s*-\s*([\d.]+))?\s*$"
)


def _parse_fmt0(text: str) -> SmscReply:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    m = _FMT0_ERROR.match(lines[0])
    if m:
        return SmscReply(
            error_code=int(m.group(1)), error_text=m.group(2) or "", error_id=m.group(3), raw=text
        )
    rows: list[dict[str, object]] = []
    for line in lines:
        m = _FMT0_SEND.match(line)
        if m:
            row: dict[str, object] = {"cnt": m.group(1), "id": m.group(2)}
            if m.group(3):
                row["cost"] = m.group(3)
            if m.group(4):
                row["balance"] = m.group(4)
            rows.append(row)
            continue
        if line == "OK":
            rows.append({"result": "OK"})
            continue
        if "=" not in line:
            # balance.php answers a bare number
            rows.append({"value": line})
            continue
        row = {}
        for part in line.split(", "):
            key, sep, value = part.partition("=")
            if not sep:
                return _malformed(text, "unreadable fmt=0 line")
            row[key.strip().lower()] = value.strip()
        rows.append(row)
    return SmscReply(rows=tuple(rows), raw=text)


def _parse_fmt1(text: str, columns: Sequence[str]) -> SmscReply:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0].split(",")
    if len(first) == 2 and re.fullmatch(r"-\d+", first[1].strip()):
        sms_id = first[0].strip()
        return SmscReply(
            error_code=-int(first[1]),
            error_id=sms_id if sms_id not in ("", "0") else None,
            raw=text,
        )
    rows: list[dict[str, object]] = []
    for line in lines:
        if line == "OK":
            rows.append({"result": "OK"})
            continue
        values = line.split(",")
        row: dict[str, object] = {name: value.strip() for name, value in zip(columns, values, strict=False)}
        if not columns:
            row = {str(i): v.strip() for i, v in enumerate(values)}
        rows.append(row)
    return SmscReply(rows=tuple(rows), raw=text)


def _parse_fmt2(text: str) -> SmscReply:
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        return _malformed(text, f"bad XML ({exc})")

    def flat(elem: ET.Element) -> dict[str, object]:
        return {child.tag: (child.text or "").strip() for child in elem}

    if root.tag == "list":
        return SmscReply(rows=tuple(flat(child) for child in root), raw=text)
    row = flat(root)
    if not row:
        row = {"result": (root.text or "").strip()}
    if "error_code" in row or "error" in row:
        try:
            code = int(str(row.get("error_code", "")))
        except ValueError:
            return _malformed(text, "error without a numeric code")
        return SmscReply(
            error_code=code, error_text=str(row.get("error", "")), error_id=_opt_str(row.get("id")), raw=text
        )
    return SmscReply(rows=(row,), raw=text)


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _parse_fmt3(text: str) -> SmscReply:
    data, why = parse_json(text)
    if why is not None:
        return _malformed(text, why)
    if isinstance(data, list):
        if not all(isinstance(item, dict) for item in data):
            return _malformed(text, "a list of non-objects")
        return SmscReply(rows=tuple(data), raw=text)
    if not isinstance(data, dict):
        return _malformed(text, "neither an object nor a list")
    if "error_code" in data or "error" in data:
        try:
            code = int(data.get("error_code"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _malformed(text, "error without a numeric code")
        return SmscReply(
            error_code=code,
            error_text=str(data.get("error", "")),
            error_id=_opt_str(data.get("id")),
            raw=text,
        )
    return SmscReply(rows=(data,), raw=text)


def parse_reply(text: str, fmt: int = 3, *, op: str = "") -> SmscReply:
    """Read a reply in any of the four formats. Never raises: unreadable input is ``malformed``."""
    if not text.strip():
        return _malformed(text, "empty reply")
    stripped = text.lstrip()
    if stripped[:1] == "<" and fmt != 2:
        # an HTML error page from a proxy rather than an API answer
        return _malformed(text, "HTML instead of an API reply")
    if fmt == 0:
        return _parse_fmt0(text)
    if fmt == 1:
        return _parse_fmt1(text, FMT1_COLUMNS.get(op, ()))
    if fmt == 2:
        return _parse_fmt2(text)
    if fmt == 3:
        return _parse_fmt3(text)
    raise ConfigError(f"SMSC.ru has no fmt={fmt}")


def error_info(reply: SmscReply, table: Mapping[int, ErrorCode] = ERRORS) -> ErrorInfo | None:
    """The reply's failure as data; None when the reply is a success."""
    if reply.malformed:
        return ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=reply.error_text)
    if reply.error_code is None:
        return None
    code = table.get(reply.error_code, ErrorCode.PERMANENT_FAILURE)
    return ErrorInfo(
        code=code, native_code=reply.error_code, native_message=_truncate(reply.error_text or reply.raw)
    )


def _int(value: object, default: int = 0) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def parse_send(reply: SmscReply, messages: Sequence[Message]) -> list[SendResult]:
    """One SendResult per message of one multi-phone request.

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
    sent = sum(1 for m in messages if "error" not in per_phone.get(digits(m.to), {})) or 1
    segments = max(1, total // sent)
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
        results.append(
            SendResult(
                message_id=m.id,
                status=DeliveryStatus.SUBMITTED,
                native_id=nid,
                native_ids=(nid,),
                segments=segments,
                raw={"id": sms_id, "cnt": total, **({"phone": dict(item)} if item else {})},
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


@dataclass(frozen=True)
class ContactResult:
    """The outcome of a contacts/groups call: an id, OK, a list, or an error as data."""

    id: str | None = None
    ok: bool = False
    items: tuple[dict[str, object], ...] = ()
    error: ErrorInfo | None = None
    raw: dict[str, object] = field(default_factory=dict)


def parse_contacts(reply: SmscReply) -> ContactResult:
    err = error_info(reply, CONTACT_ERRORS)
    if err is not None:
        return ContactResult(error=err)
    if len(reply.rows) == 1 and set(reply.rows[0]) <= {"id"}:
        return ContactResult(id=_opt_str(reply.rows[0].get("id")), ok=True)
    if len(reply.rows) == 1 and reply.rows[0].get("result") == "OK":
        return ContactResult(ok=True)
    return ContactResult(ok=True, items=tuple(dict(r) for r in reply.rows))


def group_key(msg: Message) -> tuple[str, str | None, timedelta | None, datetime | None]:
    """Messages that may share one request: same text, sender, validity and schedule."""
    return (msg.text, msg.sender, msg.validity, msg.scheduled_at)


def plan_batches(messages: Sequence[Message], max_phones: int) -> list[list[int]]:
    """Indexes of ``messages`` grouped into requests, keeping a phone at most once per request.

    A phone repeated in one request would be merged by the provider into one
    message and leave us unable to tell the two apart.
    """
    groups: dict[tuple[str, str | None, timedelta | None, datetime | None], list[list[int]]] = {}
    order: list[list[int]] = []
    phones_in: dict[int, set[str]] = {}
    for i, msg in enumerate(messages):
        buckets = groups.setdefault(group_key(msg), [])
        target = None
        for bucket in buckets:
            if len(bucket) < max_phones and digits(msg.to) not in phones_in[id(bucket)]:
                target = bucket
                break
        if target is None:
            target = []
            buckets.append(target)
            order.append(target)
            phones_in[id(target)] = set()
        target.append(i)
        phones_in[id(target)].add(digits(msg.to))
    return order


# --------------------------------------------------------------------------- transport


class SmscTransport(HttpTransport):
    """``smsc://LOGIN:PASSWORD@smsc.ru`` or ``smsc://APIKEY@smsc.ru``.

    URL options beyond the shared ones: ``sender``, ``max_phones`` (phones per
    send request, default 100), ``status_batch`` (pairs per status call,
    default 100), ``backup_url`` (comma list of fallback base URLs; default
    ``https://www2.smsc.ru`` unless ``base_url`` is given).

    Identical texts are sent to many phones in one request. A host that
    cannot be reached (or, for reads, answers 5xx or nothing) is swapped for
    the next backup host, which is then kept for later calls.
    """

    scheme = "smsc"
    default_host = DEFAULT_HOST
    user_is_secret = True
    summary = "SMSC.ru HTTP API (send.php, status.php, balance.php, phones.php)"
    capabilities = Capabilities(max_batch=100, status_poll=100)

    declared_options = HTTP_OPTIONS + OptionSet(
        opt.text("sender", None, "Sender ID (`sender=`), unless the message sets its own"),
        opt.integer("max_phones", 100, 1, 1000, "phones per `send.php` request"),
        opt.integer("status_batch", 100, 1, 1000, "(id, phone) pairs per `status.php` request"),
        opt.text(
            "backup_url",
            None,
            "comma list of fallback base URLs; none when `base_url` is given",
            shown_default="`https://www2.smsc.ru`",
        ),
    )

    def __init__(
        self,
        url: TransportURL,
        *,
        client: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(url, client=client, backoff=backoff)
        if url.secret is None or not url.secret:
            raise ConfigError("smsc:// needs LOGIN:PASSWORD@ or APIKEY@ in the URL")
        o = self.settings
        backups = o.get_text("backup_url")
        if backups:
            extra = tuple(b.strip().rstrip("/") for b in backups.split(",") if b.strip())
        elif o.get_text("base_url"):
            extra = ()
        else:
            extra = tuple(f"https://{h}" for h in BACKUP_HOSTS)
        self.config = SmscConfig(
            login=url.user,
            secret=url.secret,
            base_urls=(self.base_url, *extra),
            sender=o.get_text("sender"),
            max_phones=o.get_int("max_phones"),
            status_batch=o.get_int("status_batch"),
        )
        self._active = 0  # index into config.base_urls that last worked
        self._in_flight = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

    # -- one exchange, with host fallback

    async def _exchange(
        self, build: Callable[[str], httpx.Request], *, send: bool, fmt: int = 3, op: str = ""
    ) -> tuple[Reply, SmscReply | None]:
        """Call, moving to a backup host when the current one fails in a way that proves nothing was done.

        For a send only a refused connection proves that; for reads a 5xx
        or empty answer also justifies asking another host.
        """
        urls = self.config.base_urls
        reply: Reply | None = None
        for step in range(len(urls)):
            index = (self._active + step) % len(urls)
            base = urls[index]

            def provider_error(data: object) -> ErrorInfo | None:
                if op == "status":
                    return None  # a refused poll goes back to the poller, which waits out the minute
                parsed = parse_reply(str(data), fmt, op=op)
                info = error_info(parsed)
                # only rate limits are worth a retry inside this call; the rest are read below
                return info if info is not None and info.code is ErrorCode.THROTTLED else None

            async with self._in_flight:
                reply = await self.call_with_retry(
                    partial(build, base), send=send, expect="text", provider_error=provider_error
                )
            err = reply.error
            status = reply.response.status_code if reply.response is not None else None
            host_failed = err is not None and (
                err.code is ErrorCode.NETWORK_ERROR
                or (
                    not send
                    and status is not None
                    and (status >= 500 or err.code is ErrorCode.PROTOCOL_ERROR)
                )
            )
            if host_failed and step + 1 < len(urls):
                log.warning(
                    "smsc: %s failed (%s); trying backup host",
                    urlsplit(base).netloc,
                    err.code.value if err else "",
                )
                continue
            if not host_failed and index != self._active:
                self._active = index
            break
        assert reply is not None
        if reply.error is not None and (reply.response is None or reply.response.status_code >= 400):
            # an HTTP-level failure (5xx, 429, a proxy page): its body is not an SMSC reply
            return reply, None
        if isinstance(reply.data, str):
            return reply, parse_reply(reply.data, fmt, op=op)
        return reply, None

    # -- Transport interface

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        for msg in messages:
            if msg.channel != Channel.SMS:
                raise UnsupportedFeature("smsc:// sends SMS only", code=ErrorCode.UNSUPPORTED)
        batches = plan_batches(messages, self.config.max_phones)
        results: list[SendResult | None] = [None] * len(messages)

        async def one(indexes: list[int]) -> list[tuple[int, SendResult]]:
            batch = [messages[i] for i in indexes]
            first = batch[0]
            sender = first.sender or self.config.sender

            def build(base: str) -> httpx.Request:
                params = send_params(
                    [m.to for m in batch],
                    first.text,
                    sender=sender,
                    validity=first.validity,
                    scheduled_at=first.scheduled_at,
                )
                return _post(self.config, "send", params, base)

            reply, parsed = await self._exchange(build, send=True, op="send")
            if parsed is None:
                assert reply.error is not None
                if reply.response is not None and reply.response.status_code < 300:
                    # an empty or unreadable 2xx: the provider may have acted on it
                    out = [
                        SendResult(message_id=m.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=reply.error)
                        for m in batch
                    ]
                else:
                    out = [self.failed(m, reply.error, reply) for m in batch]
            elif parsed.malformed:
                # the provider answered but we cannot read it: it may have sent; do not resend blindly
                err = error_info(parsed)
                assert err is not None
                out = [
                    SendResult(message_id=m.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=err)
                    for m in batch
                ]
            else:
                out = parse_send(parsed, batch)
            return list(zip(indexes, out, strict=True))

        for pairs in await self.gather_batches([one(b) for b in batches]):
            results[pairs[0]] = pairs[1]
        return [r for r in results if r is not None]

    async def status(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        """Receipts for ``native_ids``; raises THROTTLED when SMSC.ru refused the poll as too frequent.

        A refusal after some chunks were answered returns what was answered: the
        poller asks about the rest on its schedule.
        """
        out: list[DeliveryReceipt] = []
        for chunk in chunks(list(native_ids), self.config.status_batch):
            reply, parsed = await self._exchange(
                partial(status_request, self.config, list(chunk)), send=False, op="status"
            )
            why = reply.error if parsed is None else error_info(parsed, {**ERRORS, **STATUS_ERRORS})
            if why is not None and why.code is ErrorCode.THROTTLED:
                if why.native_code == 9:
                    why = why.model_copy(update={"retry_after": STATUS_LIMIT_WINDOW})
                if out:
                    log.info("smsc: status poll refused after %d receipts: %s", len(out), why)
                    return out
                raise MessagingError("smsc: status poll refused", why)
            if parsed is None or why is not None:
                log.warning("smsc: status poll failed: %s", why)
                continue
            out.extend(parse_status(parsed, chunk, self.link))
        return out

    async def balance(self) -> str:
        """The account balance as the provider prints it; raises when it cannot be read."""
        reply, parsed = await self._exchange(
            lambda base: balance_request(self.config, base), send=False, op="balance"
        )
        if parsed is None:
            assert reply.error is not None
            raise TransportError("smsc: balance request failed", reply.error)
        value = parse_balance(parsed)
        if isinstance(value, ErrorInfo):
            cls = AuthError if value.code is ErrorCode.AUTH_FAILED else MessagingError
            raise cls(f"smsc: balance refused: {value}", value)
        return value

    # -- contacts and groups (errors are data: ContactResult.error)

    async def _contacts(self, action: str, params: Mapping[str, str]) -> ContactResult:
        reply, parsed = await self._exchange(
            lambda base: contacts_request(self.config, action, params, base), send=False, op="contacts"
        )
        if parsed is None:
            assert reply.error is not None
            return ContactResult(error=reply.error)
        return parse_contacts(parsed)

    async def add_contact(self, phone: str, *, name: str = "", group: str | None = None) -> ContactResult:
        params = {"phone": digits(phone), "name": name}
        if group is not None:
            params["grp"] = group
        return await self._contacts("add", params)

    async def list_contacts(self, group: str | None = None) -> ContactResult:
        return await self._contacts("get", {"grp": group} if group is not None else {})

    async def delete_contact(self, phone: str) -> ContactResult:
        return await self._contacts("del", {"phone": digits(phone)})

    async def add_group(self, name: str, number: int | None = None) -> ContactResult:
        params = {"name": name}
        if number is not None:
            params["num"] = str(number)
        return await self._contacts("add_group", params)

    async def list_groups(self) -> ContactResult:
        return await self._contacts("get_group", {})

    async def delete_group(self, group_id: str) -> ContactResult:
        return await self._contacts("del_group", {"id": group_id})
