"""Selzy SMS API emulator: POST /{lang}/api/{method}, answers as the documents describe.

Follows Selzy's API documents: every call answered with HTTP 200 and either
``{"result": ...}`` (plus ``warnings``) or ``{"error", "code", "result": ""}``;
150 numbers per sendSms, 500 contacts per importContacts, the api_key checked,
``platform`` required on every call (knob), GET and POST parameters never
mixed, a per-key rate limit answered with ``api_call_limit_exceeded_for_api_key``.
Where the documents are silent (the shape of a multi-number sendSms answer,
importContacts' log) the choices are noted in docs/http.md.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from msgbridge.simulators.http.server import Emulator, Request, Response, json_response, text_response

LANGS = ("en", "ua", "ru")
MAX_PHONES = 150
MAX_CONTACTS = 500
MAX_TEXT = 1000
MAX_SCHEDULE_DAYS = 100

# Generic outcome -> the checkSms value a message ends with.
OUTCOME_STATUS: dict[str, str] = {
    "delivered": "ok_delivered",
    "undeliverable": "err_delivery_failed",
    "expired": "err_lost",
    "rejected": "err_not_allowed",
}

_PATH = re.compile(r"^/(?P<lang>[a-z]{2})/api/(?P<method>[A-Za-z/]+)$")
_DATA_CELL = re.compile(r"^data\[(\d+)\]\[(\d+)\]$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class SelzyError(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass
class Sms:
    phone: str
    text: str
    created: float


@dataclass
class SmsMessage:
    sender: str
    body: str
    list_id: int
    contacts: dict[str, dict[str, str]]  # active contacts of the list when the message was created


@dataclass
class SmsCampaign:
    message_id: int
    start: float  # on the emulator clock
    created_at: str
    start_time: str
    canceled: bool = False
    texts: dict[str, str] = field(default_factory=dict)


class SelzyEmulator(Emulator):
    name = "selzy"

    def __init__(
        self, *, require_platform: bool = True, invalid_numbers: Iterable[str] = (), **knobs: Any
    ) -> None:
        super().__init__(**knobs)
        self.require_platform = require_platform
        self.invalid_numbers = {n.lstrip("+") for n in invalid_numbers}
        self.sms: dict[str, Sms] = {}
        self.lists: dict[int, str] = {}
        self.contacts: dict[int, dict[str, dict[str, str]]] = {}
        self.messages: dict[int, SmsMessage] = {}
        self.campaigns: dict[int, SmsCampaign] = {}
        self.key_in_url = 0  # calls that carried api_key in the URL (the documents advise against it)
        self.platforms: set[str] = set()
        self.fields: dict[str, str] = {"Name": "string"}  # user fields of the account: name -> type
        self.refusals: deque[tuple[str, str]] = deque()
        self._next = 1000

    def refuse(self, *answers: tuple[str, str]) -> None:
        """Answer the next API calls (after the key check) with these ``(code, error)`` pairs."""
        self.refusals.extend(answers)

    def _id(self) -> int:
        self._next += 1
        return self._next

    def endpoint(self, request: Request) -> str:
        match = _PATH.match(request.path)
        return match.group("method") if match else f"{request.method} {request.path}"

    async def dispatch(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        if match is None or match.group("lang") not in LANGS:
            return text_response("Not Found", 404)
        if request.method not in ("GET", "POST"):
            return text_response("Method Not Allowed", 405)
        try:
            self._check_call(request)
            handler = getattr(self, f"m_{match.group('method').replace('/', '_')}", None)
            if handler is None:
                raise SelzyError("unknown_method", f'Unknown method "{match.group("method")}"')
            result, warnings = handler(request)
        except SelzyError as exc:
            return json_response({"error": exc.text, "code": exc.code, "result": ""})
        body: dict[str, Any] = {"result": result}
        if warnings:
            body["warnings"] = [{"warning": w} for w in warnings]
        return json_response(body)

    def _check_call(self, request: Request) -> None:
        if request.query and request.form:
            raise SelzyError("invalid_arg", "GET and POST parameters must not be mixed")
        if "api_key" in request.query:
            self.key_in_url += 1
        key = request.arg("api_key")
        if not key or key not in self.api_keys:
            raise SelzyError("invalid_api_key", "Invalid API key")
        platform = request.arg("platform")
        if platform:
            self.platforms.add(platform)
        elif self.require_platform:
            raise SelzyError("invalid_arg", "platform: parameter is required for integrations")
        if self.refusals:
            code, text = self.refusals.popleft()
            raise SelzyError(code, text)
        if self.rate_limited():
            raise SelzyError(
                "api_call_limit_exceeded_for_api_key", "API call limit exceeded for this API key"
            )

    # ------------------------------------------------------------------ single SMS

    def _valid_phone(self, phone: str) -> bool:
        return bool(re.fullmatch(r"\d{8,15}", phone)) and phone not in self.invalid_numbers

    def _sms_id(self, n: int) -> int | str:
        # Both spellings occur in the wild; clients must keep sms_id opaque.
        return n if n % 2 else f"{n}.{random.Random(n).randrange(10**10, 10**11)}"

    def m_sendSms(self, request: Request) -> tuple[Any, list[str]]:
        phones = [p.strip().lstrip("+") for p in (request.arg("phone") or "").split(",") if p.strip()]
        sender = request.arg("sender") or ""
        text = request.arg("text") or ""
        if not phones:
            raise SelzyError("invalid_arg", "phone: required")
        if len(phones) > MAX_PHONES:
            raise SelzyError(
                "invalid_arg", f"phone: at most {MAX_PHONES} numbers per call, got {len(phones)}"
            )
        if not re.fullmatch(r"[A-Za-z0-9 .\-_!]{3,11}", sender):
            raise SelzyError("src_invalid", f'invalid sender "{sender}"')
        if not text:
            raise SelzyError("invalid_arg", "text: required")
        if len(text) > MAX_TEXT:
            raise SelzyError("invalid_arg", f"text: too long ({len(text)} > {MAX_TEXT} characters)")
        warnings: list[str] = []
        items: list[dict[str, Any]] = []
        for phone in phones:
            if not self._valid_phone(phone):
                items.append({"phone": phone, "error": f'invalid phone "{phone}"', "code": "dest_invalid"})
                continue
            n = self._id()
            sms_id = self._sms_id(n)
            self.sms[str(sms_id)] = Sms(phone=phone, text=text, created=self.now())
            items.append({"phone": phone, "currency": "USD", "price": "0.02", "sms_id": sms_id})
            if phone.startswith("7800"):
                warnings.append(f"{phone}: probably not a mobile phone")
        if len(phones) == 1:
            if "error" in items[0]:
                raise SelzyError(items[0]["code"], items[0]["error"])
            return {k: v for k, v in items[0].items() if k != "phone"}, warnings
        return items, warnings

    def sms_status(self, sms_id: str) -> str:
        sms = self.sms[sms_id]
        stage = self.stage(sms.created)
        if stage == 0:
            return "not_sent"
        if stage == 1:
            return "ok_sent"
        return OUTCOME_STATUS[self.outcome(sms_id)]

    def m_checkSms(self, request: Request) -> tuple[Any, list[str]]:
        sms_id = request.arg("sms_id") or ""
        if sms_id not in self.sms:
            raise SelzyError("unspecified", f'AK100313-05 [invalid sms id "{sms_id}"]')
        return {"status": self.sms_status(sms_id)}, []

    # ------------------------------------------------------------------ lists and contacts

    def m_getLists(self, request: Request) -> tuple[Any, list[str]]:
        return [{"id": i, "title": t} for i, t in self.lists.items()], []

    def m_createList(self, request: Request) -> tuple[Any, list[str]]:
        title = (request.arg("title") or "").strip()
        if not title:
            raise SelzyError("invalid_arg", "title: required")
        if title in self.lists.values():
            raise SelzyError("invalid_arg", f'title: a list named "{title}" already exists')
        list_id = self._id()
        self.lists[list_id] = title
        self.contacts[list_id] = {}
        return {"id": list_id}, []

    def m_getFields(self, request: Request) -> tuple[Any, list[str]]:
        return [{"id": i + 1, "name": n, "type": t} for i, (n, t) in enumerate(self.fields.items())], []

    def m_createField(self, request: Request) -> tuple[Any, list[str]]:
        name = request.arg("name") or ""
        kind = request.arg("type") or "string"
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise SelzyError("invalid_arg", f'name: invalid field name "{name}"')
        if name in self.fields:
            raise SelzyError("invalid_arg", f'name: field "{name}" already exists')
        if kind not in ("string", "text", "number", "date", "bool"):
            raise SelzyError("invalid_arg", f'type: unknown field type "{kind}"')
        self.fields[name] = kind
        return {"id": len(self.fields)}, []

    def m_importContacts(self, request: Request) -> tuple[Any, list[str]]:
        names = request.array("field_names")
        if "phone" not in names and "email" not in names:
            raise SelzyError("invalid_arg", "field_names: must contain email or phone")
        unknown = [
            n
            for n in names
            if n not in ("phone", "email", "phone_list_ids", "tags", "delete") and n not in self.fields
        ]
        if unknown:
            raise SelzyError("invalid_arg", f'field_names: unknown field "{unknown[0]}"')
        rows: dict[int, dict[int, str]] = {}
        for key, values in request.form.items():
            cell = _DATA_CELL.match(key)
            if cell and values:
                rows.setdefault(int(cell.group(1)), {})[int(cell.group(2))] = values[0]
        if len(rows) > MAX_CONTACTS:
            raise SelzyError(
                "invalid_arg", f"data: at most {MAX_CONTACTS} contacts per call, got {len(rows)}"
            )
        log: list[dict[str, Any]] = []
        inserted = updated = 0
        for index in sorted(rows):
            row = {names[c]: v for c, v in rows[index].items() if c < len(names)}
            phone = row.get("phone", "").lstrip("+")
            if not self._valid_phone(phone):
                log.append({"index": index, "code": "invalid_arg", "message": f'invalid phone "{phone}"'})
                continue
            list_ids = [int(x) for x in row.get("phone_list_ids", "").split(",") if x.strip().isdigit()]
            missing = [x for x in list_ids if x not in self.lists]
            if missing:
                log.append(
                    {"index": index, "code": "invalid_arg", "message": f"invalid list_id {missing[0]}"}
                )
                continue
            fields = {k: v for k, v in row.items() if k not in ("phone", "phone_list_ids", "email")}
            for list_id in list_ids:
                members = self.contacts[list_id]
                if phone in members:
                    updated += 1
                else:
                    inserted += 1
                members[phone] = fields
        result = {
            "total": len(rows),
            "inserted": inserted,
            "updated": updated,
            "deleted": 0,
            "new_emails": 0,
            "invalid": len(log),
            "log": log,
        }
        return result, []

    # ------------------------------------------------------------------ campaigns

    def m_createSmsMessage(self, request: Request) -> tuple[Any, list[str]]:
        sender = request.arg("sender") or ""
        body = request.arg("body") or ""
        raw_list = request.arg("list_id") or ""
        if not re.fullmatch(r"[A-Za-z0-9 .\-_!]{3,11}", sender):
            raise SelzyError("invalid_arg", f'invalid sender "{sender}"')
        if not body:
            raise SelzyError("invalid_arg", "body: required")
        if not raw_list.isdigit() or int(raw_list) not in self.lists:
            raise SelzyError("invalid_arg", f'invalid list_id "{raw_list}"')
        list_id = int(raw_list)
        message_id = self._id()
        snapshot = {p: dict(f) for p, f in self.contacts[list_id].items()}
        self.messages[message_id] = SmsMessage(sender=sender, body=body, list_id=list_id, contacts=snapshot)
        return {"message_id": message_id}, []

    def m_createCampaign(self, request: Request) -> tuple[Any, list[str]]:
        raw = request.arg("message_id") or ""
        if not raw.isdigit() or int(raw) not in self.messages:
            raise SelzyError("invalid_arg", f'invalid message_id "{raw}"')
        message_id = int(raw)
        now_utc = datetime.now(UTC)
        start = self.now()
        start_time = request.arg("start_time")
        if start_time:
            if (request.arg("timezone") or "UTC") != "UTC":
                raise SelzyError("invalid_arg", "timezone: only UTC is supported")
            try:
                when = datetime.strptime(start_time, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
            except ValueError as exc:
                raise SelzyError(
                    "invalid_arg", f'start_time: expected YYYY-MM-DD hh:mm, got "{start_time}"'
                ) from exc
            ahead = (when - now_utc).total_seconds()
            if ahead > MAX_SCHEDULE_DAYS * 86400:
                raise SelzyError("invalid_arg", f"start_time: at most {MAX_SCHEDULE_DAYS} days ahead")
            start += max(0.0, ahead)
        for campaign in self.campaigns.values():
            if (
                campaign.message_id == message_id
                and not campaign.canceled
                and abs(campaign.start - start) < 3600
            ):
                raise SelzyError(
                    "invalid_arg", "message_id: this message is already scheduled within one hour"
                )
        message = self.messages[message_id]
        campaign_id = self._id()
        texts = {
            phone: _substitute(message.body, {**fields, "phone": phone})
            for phone, fields in message.contacts.items()
        }
        self.campaigns[campaign_id] = SmsCampaign(
            message_id=message_id,
            start=start,
            created_at=now_utc.strftime("%Y-%m-%d %H:%M:%S"),
            start_time=(start_time or now_utc.strftime("%Y-%m-%d %H:%M")),
            texts=texts,
        )
        status = "scheduled" if start > self.now() else "in_progress"
        return {"campaign_id": campaign_id, "status": status, "count": len(texts)}, []

    def _campaign(self, request: Request) -> tuple[int, SmsCampaign]:
        raw = request.arg("campaign_id") or ""
        if not raw.isdigit() or int(raw) not in self.campaigns:
            raise SelzyError("invalid_arg", f'invalid campaign_id "{raw}"')
        return int(raw), self.campaigns[int(raw)]

    def message_status(self, campaign_id: int, campaign: SmsCampaign, phone: str) -> str:
        if self.now() < campaign.start:
            return "err_skip_letter" if campaign.canceled else "not_sent"
        stage = self.stage(campaign.start)
        if stage == 0:
            return "not_sent"
        if stage == 1:
            return "ok_sent"
        return OUTCOME_STATUS[self.outcome(f"{campaign_id}:{phone}")]

    def campaign_state(self, campaign_id: int, campaign: SmsCampaign) -> str:
        if campaign.canceled:
            return "canceled"
        if self.now() < campaign.start:
            return "scheduled"
        if all(
            self.message_status(campaign_id, campaign, p) not in ("not_sent", "ok_sent")
            for p in campaign.texts
        ):
            return "completed"
        return "in_progress"

    def m_cancelCampaign(self, request: Request) -> tuple[Any, list[str]]:
        _, campaign = self._campaign(request)
        if campaign.canceled:
            return {}, ["campaign is already canceled"]
        if self.now() >= campaign.start:
            raise SelzyError(
                "invalid_arg", "campaign_id: only a campaign that has not started can be canceled"
            )
        campaign.canceled = True
        return {}, []

    def m_getCampaignStatus(self, request: Request) -> tuple[Any, list[str]]:
        campaign_id, campaign = self._campaign(request)
        return {
            "status": self.campaign_state(campaign_id, campaign),
            "creation_time": campaign.created_at,
            "start_time": campaign.start_time,
        }, []

    def m_getCampaignDeliveryStats(self, request: Request) -> tuple[Any, list[str]]:
        campaign_id, campaign = self._campaign(request)
        rows = [[phone, self.message_status(campaign_id, campaign, phone)] for phone in campaign.texts]
        return {"fields": ["phone", "send_result"], "data": rows}, []

    def m_getCampaignCommonStats(self, request: Request) -> tuple[Any, list[str]]:
        campaign_id, campaign = self._campaign(request)
        statuses = [self.message_status(campaign_id, campaign, p) for p in campaign.texts]
        delivered = statuses.count("ok_delivered")
        sent = sum(1 for s in statuses if s.startswith("ok_"))
        return {
            "total": len(statuses),
            "sent": sent,
            "delivered": delivered,
            "read_unique": 0,
            "read_all": 0,
            "clicked_unique": 0,
            "clicked_all": 0,
            "unsubscribed": 0,
            "spam": 0,
        }, []


def _substitute(body: str, fields: dict[str, str]) -> str:
    """Selzy's ``{{field}}`` substitution; an unknown field becomes empty."""
    return _PLACEHOLDER.sub(lambda m: fields.get(m.group(1), ""), body)


def create_emulator(**knobs: Any) -> SelzyEmulator:
    return SelzyEmulator(**knobs)
