"""A Mobizon emulator: ``/service/{module}/{method}`` answering ``{"code", "data", "message"}``.

Covered: message/sendSmsMessage, message/getSMSStatus (101 ids -> code 12),
campaign/create, campaign/addRecipients (501 numbers -> 12, per-item codes,
98/99, background adds -> 100), campaign/send, campaign/getInfo,
taskqueue/getStatus, user/getOwnBalance, link/create (and
``shortenLinks=1`` replacing URLs in a text by short links). The key, ``output`` and ``api``
arrive in the query string as in every example of the documents (or, for the key, in the body);
``key_locations`` counts where each request's key was. A key listed in ``key_domains`` lives on another
"server": requests whose Host header is not that domain get code 13 with the
domain in ``data`` (tests reach the "other server" by sending that Host
header to this same emulator). Rate limiting answers code 30.

With ``push_url`` it also is the account's webhook: once a message sent by sendSmsMessage reaches its final
status (``final_after``), an ``sms-delivery-report`` is POSTed there as Mobizon's webhook documentation
shows it (``eventId``, ``eventType``, ``eventCreateTs``, ``webhookId``, ``attempt``, ``data`` and ``sign =
sha1(eventId|attempt|eventCreateTs|secretKey)`` with ``push_secret``), final statuses only, tried again
with the same ``eventId`` while it is not answered 2xx (up to ``push_retries`` times, ``push_interval``
seconds longer each time: Mobizon's own are 10 and 60 s).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from msgbridge.core.encoding import info as text_info
from msgbridge.core.template import fields as template_fields
from msgbridge.simulators.http.push import Pusher
from msgbridge.simulators.http.server import Emulator, Request, Response, json_response

DEFAULT_DOMAIN = "api.mobizon.kz"
MAX_STATUS_IDS = 100
MAX_RECIPIENTS = 500

# Generic outcome -> Mobizon final status.
OUTCOME_STATUS: dict[str, str] = {
    "delivered": "DELIVRD",
    "undeliverable": "UNDELIV",
    "expired": "EXPIRED",
    "rejected": "REJECTD",
}

_ROW = re.compile(r"^(\w+)\[(\d+)\]\[(\w+)\]$")
_URL = re.compile(r"https?://[^\s]+")
SHORT_LINK_BASE = "https://mzon.kz/"


@dataclass
class SmsRecord:
    id: int
    campaign_id: int
    phone: str
    text: str
    segments: int
    sent_at: float | None = None  # None until its campaign is sent


@dataclass
class CampaignRecord:
    id: int
    name: str
    text: str
    type: int
    sender: str
    status: str = "NEW"  # NEW -> SENT
    messages: list[int] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)


@dataclass
class Task:
    id: int
    created: float
    on_done: Callable[[], object] | None = None
    done: bool = False


def rows(form: Mapping[str, list[str]], name: str) -> list[dict[str, str]]:
    """``name[0][recipient]=..&name[0][field]=..`` -> [{"recipient": .., "field": ..}] in index order."""
    found: dict[int, dict[str, str]] = {}
    for key, values in form.items():
        m = _ROW.match(key)
        if m and m.group(1) == name and values:
            found.setdefault(int(m.group(2)), {})[m.group(3)] = values[0]
    return [found[i] for i in sorted(found)]


def envelope(code: int, data: object = "", message: str = "") -> Response:
    return json_response({"code": code, "data": data, "message": message})


class MobizonEmulator(Emulator):
    name = "mobizon"

    def __init__(
        self,
        *,
        key_domains: Mapping[str, str] | None = None,
        moderation: bool = False,
        background_adds: bool = False,
        task_after: float = 0.0,
        balance: float = 1000.0,
        price: float = 1.0,
        wall_clock: Callable[[], float] = time.time,
        push_url: str | None = None,
        push_secret: str = "",
        push_retries: int = 10,
        push_interval: float = 60.0,
        **knobs: Any,
    ) -> None:
        super().__init__(**knobs)
        self.pusher = Pusher(push_url, retries=push_retries, interval=push_interval) if push_url else None
        self.push_secret = push_secret
        self.key_domains: dict[str, str] = dict(key_domains or {})
        self.moderation = moderation
        self.background_adds = background_adds
        self.task_after = task_after
        self.balance = balance
        self.price = price
        self.wall_clock = wall_clock
        self.messages: dict[int, SmsRecord] = {}
        self.campaigns: dict[int, CampaignRecord] = {}
        self.tasks: dict[int, Task] = {}
        self.wrong_server_answers = 0
        self.key_locations: Counter[str] = Counter()  # "query" / "body": where each request's key was
        self.links: dict[str, str] = {}  # short code -> full link
        self._next = 1000

    def _id(self) -> int:
        self._next += 1
        return self._next

    # -- plumbing

    def endpoint(self, request: Request) -> str:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) >= 3 and parts[-3] == "service":
            return f"{parts[-2].lower()}/{parts[-1].lower()}"
        return request.path

    async def dispatch(self, request: Request) -> Response:
        name = self.endpoint(request)
        handler = HANDLERS.get(name)
        if handler is None:
            if "/service/" in request.path:
                return envelope(5, "", "Method not found")
            return json_response({"code": 4, "data": "", "message": "Module not found"}, 404)
        if request.arg("output", "json") != "json":
            return envelope(6, "", "Unsupported format")
        key = request.arg("apiKey")
        if key is not None:
            self.key_locations["query" if "apiKey" in request.query else "body"] += 1
        if not key or key not in self.api_keys:
            return envelope(8, "", "Invalid API key")
        home = self.key_domains.get(key)
        host = (
            request.headers.get("host", "").rsplit(":", 1)[0]
            if "]" not in request.headers.get("host", "")
            else ""
        )
        if home is not None and host != home:
            self.wrong_server_answers += 1
            return envelope(13, home, "This account is served by another API server")
        if self.rate_limited():
            return envelope(30, "", "Too many requests")
        return handler(self, request)

    def _status(self, record: SmsRecord) -> str:
        if record.sent_at is None:
            return "NEW"
        stage = self.stage(record.sent_at)
        if stage == 0:
            return "ENQUEUD"
        if stage == 1:
            return "ACCEPTD"
        return OUTCOME_STATUS[self.outcome(str(record.id))]

    def _ts(self, at: float | None) -> str | None:
        if at is None:
            return None
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.wall_clock()))

    def _short_link(self, full: str) -> str:
        code = f"{len(self.links) + 1:x}"
        self.links[code] = full
        return SHORT_LINK_BASE + code

    def _shorten(self, text: str) -> str:
        """What ``shortenLinks=1`` does: every URL in the text becomes one of our short links."""
        return _URL.sub(lambda m: self._short_link(m.group(0)), text)

    @staticmethod
    def _valid_number(raw: str) -> str | None:
        number = raw.strip().lstrip("+")
        return number if number.isdigit() and 10 <= len(number) <= 15 else None

    # -- message module

    def send_sms(self, request: Request) -> Response:
        recipient = request.arg("recipient") or ""
        text = request.arg("text") or ""
        params = request.mapping("params")
        errors: dict[str, str] = {}
        number = self._valid_number(recipient)
        if number is None:
            errors["recipient"] = "Recipient number is invalid"
        if not text:
            errors["text"] = "Text must not be empty"
        if "validity" in params:
            try:
                validity = int(params["validity"])
            except ValueError:
                validity = -1
            if not 60 <= validity <= 1440:
                errors["validity"] = "Validity must be 60-1440 minutes"
        if errors:
            return envelope(1, errors, "Validation error")
        assert number is not None
        if params.get("shortenLinks") == "1":
            text = self._shorten(text)
        segments = text_info(text).segments
        if segments * self.price > self.balance:
            return envelope(15, "", "Insufficient funds")
        self.balance -= segments * self.price
        campaign = CampaignRecord(
            self._id(), params.get("name", ""), text, 1, request.arg("from") or "", "SENT"
        )
        record = SmsRecord(
            self._id(), campaign.id, number, text, segments, None if self.moderation else self.now()
        )
        campaign.messages.append(record.id)
        self.campaigns[campaign.id] = campaign
        self.messages[record.id] = record
        if self.pusher is not None and record.sent_at is not None:
            self.pusher.schedule([(self.final_after, self._delivery_report(record))])
        return envelope(
            0, {"campaignId": campaign.id, "messageId": record.id, "status": 1 if self.moderation else 2}
        )

    def get_status(self, request: Request) -> Response:
        ids = request.array("ids")
        if not ids:
            return envelope(2, "", "No ids given")
        if len(ids) > MAX_STATUS_IDS:
            return envelope(12, "", f"At most {MAX_STATUS_IDS} ids")
        out = []
        for raw in ids:
            try:
                record = self.messages.get(int(raw))
            except ValueError:
                record = None
            if record is None:
                continue
            out.append(
                {
                    "id": record.id,
                    "status": self._status(record),
                    "segNum": record.segments,
                    "startSendTs": self._ts(record.sent_at),
                    "statusUpdateTs": self._ts(record.sent_at),
                }
            )
        return envelope(0, out)

    def _delivery_report(self, record: SmsRecord) -> Callable[[int], httpx.Request]:
        """The ``sms-delivery-report`` of ``record``'s final status; one ``eventId`` for every attempt."""
        event_id = uuid.uuid4().hex
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.wall_clock()))
        assert self.pusher is not None
        url = self.pusher.url

        def build(attempt: int) -> httpx.Request:
            sign_base = f"{event_id}|{attempt}|{created}|{self.push_secret}"
            event = {
                "eventId": event_id,
                "eventType": "sms-delivery-report",
                "eventCreateTs": created,
                "webhookId": 1,
                "attempt": attempt,
                "data": {
                    "campaignId": record.campaign_id,
                    "messageId": record.id,
                    "segNum": record.segments,
                    "statusUpdateTs": created,
                    "status": OUTCOME_STATUS[self.outcome(str(record.id))],
                    "to": record.phone,
                },
                "sign": hashlib.sha1(sign_base.encode("utf-8")).hexdigest(),
            }
            body = json.dumps(event).encode("utf-8")
            return httpx.Request("POST", url, content=body, headers={"Content-Type": "application/json"})

        return build

    # -- campaign module

    def campaign_create(self, request: Request) -> Response:
        data = request.mapping("data")
        errors: dict[str, str] = {}
        if not data.get("text"):
            errors["text"] = "Text must not be empty"
        if len(data.get("name", "")) > 255:
            errors["name"] = "Name is too long"
        kind = data.get("type", "2")
        if kind not in ("1", "2", "3"):
            errors["type"] = "Unknown campaign type"
        if "validity" in data and not (data["validity"].isdigit() and 60 <= int(data["validity"]) <= 1440):
            errors["validity"] = "Validity must be 60-1440 minutes"
        if errors:
            return envelope(1, errors, "Validation error")
        text = self._shorten(data["text"]) if data.get("shortenLinks") == "1" else data["text"]
        campaign = CampaignRecord(self._id(), data.get("name", ""), text, int(kind), data.get("from", ""))
        self.campaigns[campaign.id] = campaign
        return envelope(0, campaign.id)

    def _campaign(self, request: Request) -> CampaignRecord | Response:
        try:
            campaign = self.campaigns.get(int(request.arg("id") or ""))
        except ValueError:
            campaign = None
        if campaign is None:
            return envelope(2, "", "Campaign not found")
        return campaign

    def add_recipients(self, request: Request) -> Response:
        found = self._campaign(request)
        if isinstance(found, Response):
            return found
        campaign = found
        if campaign.status != "NEW":
            return envelope(10, "", "Campaign status does not allow adding recipients")
        items = rows(request.form, "recipients") or rows(request.query, "recipients")
        if not items:
            items = [{"recipient": r} for r in request.array("recipients")]
        groups = request.array("recipientGroups")
        sources = sum(1 for present in (items, groups, request.array("recipientContacts")) if present)
        if sources != 1:
            return envelope(12, "", "Exactly one source of recipients is allowed")
        if len(items) > MAX_RECIPIENTS:
            return envelope(12, "", f"At most {MAX_RECIPIENTS} recipients per call")
        if groups or self.background_adds:
            task = Task(self._id(), self.now())
            task.on_done = lambda: self._add_items(campaign, items)
            self.tasks[task.id] = task
            return envelope(100, task.id, "Background task started")
        results = self._add_items(campaign, items)
        ok = sum(1 for r in results if r["code"] == 0)
        code = 0 if ok == len(results) else (98 if ok else 99)
        return envelope(code, results, "" if code == 0 else "Some recipients were not added")

    def _add_items(self, campaign: CampaignRecord, items: list[dict[str, str]]) -> list[dict[str, object]]:
        needed = template_fields(campaign.text) if campaign.type == 3 else []
        out: list[dict[str, object]] = []
        for item in items:
            raw = item.get("recipient", "")
            entry: dict[str, object] = {
                "recipient": raw,
                "code": 0,
                "messageId": None,
                "number": None,
                "contact": None,
            }
            number = self._valid_number(raw) if raw.strip() else None
            if not raw.strip():
                entry["code"] = 1
            elif number is None:
                entry["code"] = 3
            elif number in campaign.numbers:
                entry["code"] = 4
            elif any(not item.get(name) for name in needed):
                entry["code"] = 20
            else:
                text = campaign.text
                for name in needed:
                    text = text.replace("{" + name + "}", item[name])
                record = SmsRecord(self._id(), campaign.id, number, text, text_info(text).segments)
                self.messages[record.id] = record
                campaign.messages.append(record.id)
                campaign.numbers.add(number)
                entry.update(messageId=record.id, number=number)
            out.append(entry)
        return out

    def campaign_send(self, request: Request) -> Response:
        found = self._campaign(request)
        if isinstance(found, Response):
            return found
        if found.status != "NEW":
            return envelope(10, "", "Campaign status cannot be changed")
        found.status = "MODERATION" if self.moderation else "SENT"
        if not self.moderation:
            now = self.now()
            for mid in found.messages:
                self.messages[mid].sent_at = now
        return envelope(0, 1 if self.moderation else 2)

    def campaign_info(self, request: Request) -> Response:
        found = self._campaign(request)
        if isinstance(found, Response):
            return found
        counts: dict[str, int] = {}
        for mid in found.messages:
            status = self._status(self.messages[mid])
            counts[status] = counts.get(status, 0) + 1
        done = found.status == "SENT" and all(
            self._status(self.messages[m]) in OUTCOME_STATUS.values() for m in found.messages
        )
        data: dict[str, object] = {
            "id": found.id,
            "name": found.name,
            "type": found.type,
            "moderationStatus": "MODERATION" if found.status == "MODERATION" else "AUTO_READY_FOR_SEND",
            "commonStatus": "DONE" if done else ("RUNNING" if found.status == "SENT" else found.status),
        }
        for status in (
            "NEW",
            "ENQUEUD",
            "ACCEPTD",
            "DELIVRD",
            "UNDELIV",
            "REJECTD",
            "EXPIRED",
            "DELETED",
            "PDLIVRD",
        ):
            data[f"total{status.capitalize()}MsgNum"] = counts.get(status, 0)
        data["totalMsgNum"] = len(found.messages)
        return envelope(0, data)

    # -- taskqueue, user

    def task_status(self, request: Request) -> Response:
        try:
            task = self.tasks.get(int(request.arg("id") or ""))
        except ValueError:
            task = None
        if task is None:
            return envelope(2, "", "Task not found")
        age = self.now() - task.created
        if age >= self.task_after:
            if not task.done and task.on_done is not None:
                task.on_done()
            task.done = True
            return envelope(0, {"progress": 100, "status": 2})
        progress = int(100 * age / self.task_after) if self.task_after else 0
        return envelope(0, {"progress": progress, "status": 1 if progress else 0})

    def link_create(self, request: Request) -> Response:
        data = request.mapping("data")
        full = data.get("fullLink", "")
        if not _URL.fullmatch(full):
            return envelope(1, {"fullLink": "Link must be an http(s) URL"}, "Validation error")
        short = self._short_link(full)
        return envelope(
            0, {"id": len(self.links), "code": short.rsplit("/", 1)[1], "fullLink": full, "shortLink": short}
        )

    def own_balance(self, request: Request) -> Response:
        return envelope(0, {"balance": f"{self.balance:.4f}", "currency": "KZT"})


HANDLERS: dict[str, Callable[[MobizonEmulator, Request], Response]] = {
    "message/sendsmsmessage": MobizonEmulator.send_sms,
    "message/getsmsstatus": MobizonEmulator.get_status,
    "campaign/create": MobizonEmulator.campaign_create,
    "campaign/addrecipients": MobizonEmulator.add_recipients,
    "campaign/send": MobizonEmulator.campaign_send,
    "campaign/getinfo": MobizonEmulator.campaign_info,
    "taskqueue/getstatus": MobizonEmulator.task_status,
    "user/getownbalance": MobizonEmulator.own_balance,
    "link/create": MobizonEmulator.link_create,
}


def create_emulator(**knobs: Any) -> MobizonEmulator:
    """Knobs: api_keys, key_domains {key: domain}, moderation, background_adds, task_after,
    rate_limit, final_mix, accept_after, final_after, seed."""
    return MobizonEmulator(**knobs)
