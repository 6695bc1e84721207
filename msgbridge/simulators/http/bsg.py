"""BSG one-api emulator: JWT login, SMS campaigns, stop, message pages, 422/429 as documented.

Follows BSG's API documentation (campaign endpoints, their fields and limits: 10,000
numbers, 9-15 digit numbers, reference_id of up to 32 [a-zA-Z0-9], validity
1-72 h, tariff_code 0-9, start_at at most 30 days ahead) and the public
digest of the API for what that documentation leaves out (``/api/auth/login`` and ``refresh``
returning ``{"bearer"}``, 422 ``{"message", "errors"}``, 429 "Too many
requests", ``GET /api/messages`` with ``filter[...]`` and ``page[...]``).
Tokens are JWT-shaped with an ``exp`` claim; ``revoke_tokens()`` makes every
issued token answer 401, as an early expiry would.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from msgbridge.core.encoding import is_gsm7
from msgbridge.simulators.http.server import Emulator, Request, Response, json_response, text_response

MAX_NUMBERS = 10_000
MAX_TEXT_GSM = 765
MAX_TEXT_UNICODE = 335
PAGE_MIN, PAGE_MAX, PAGE_DEFAULT = 15, 500, 50
STOPPABLE = ("creation", "paused", "sending", "scheduled")

OUTCOME_STATUS: dict[str, str] = {
    "delivered": "delivered",
    "undeliverable": "undelivered",
    "expired": "expired",
    "rejected": "failed",
}

_REFERENCE = re.compile(r"[a-zA-Z0-9]{1,32}")
_SENDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .\-_]{2,10}|\d{3,15}")
_STOP = re.compile(r"^/api/campaigns/(\d+)/stop$")
_DETAIL = re.compile(r"^/api/campaigns/(\d+)/detail$")


class Invalid(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("The given data was invalid.")
        self.errors = errors


@dataclass
class BsgMessage:
    id: int
    campaign_id: int
    phone: int
    text: str
    sender: str
    reference_id: str | None
    validity: int
    created_at: str


@dataclass
class BsgCampaign:
    id: int
    sender: str
    start: float  # emulator clock
    start_at: str
    created_at: str
    messages: list[int] = field(default_factory=list)
    stopped_at: float | None = None


def _jwt(claims: Mapping[str, Any]) -> str:
    def part(obj: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_urlsafe(16)}"


class BsgEmulator(Emulator):
    name = "bsg"

    def __init__(
        self,
        *,
        token_ttl: float = 3600.0,
        groups: Mapping[int, Iterable[tuple[str, Mapping[str, str]]]] | None = None,
        invalid_numbers: Iterable[str] = (),
        **knobs: Any,
    ) -> None:
        super().__init__(**knobs)
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}  # token -> expiry on the emulator clock
        self.groups: dict[int, list[tuple[str, dict[str, str]]]] = {
            gid: [(p, dict(f)) for p, f in members] for gid, members in (groups or {}).items()
        }
        self.invalid_numbers = {n.lstrip("+") for n in invalid_numbers}
        self.campaigns: dict[int, BsgCampaign] = {}
        self.messages: dict[int, BsgMessage] = {}
        self.references: dict[str, int] = {}
        self.logins = 0
        self.refreshes = 0
        self._next_campaign = 100
        self._next_message = 5000

    # ------------------------------------------------------------------ plumbing

    def endpoint(self, request: Request) -> str:
        path = re.sub(r"/\d+/", "/{id}/", request.path)
        return f"{request.method} {path}"

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _issue(self) -> str:
        token = _jwt(
            {"sub": "emulator", "exp": int(time.time() + self.token_ttl), "jti": secrets.token_hex(4)}
        )
        self.tokens[token] = self.now() + self.token_ttl
        return token

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        expiry = self.tokens.get(token)
        return expiry is not None and self.now() < expiry

    async def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/api/auth/login" and request.method == "POST":
            return self.login(request)
        if not self._authorised(request):
            return json_response({"message": "Unauthenticated."}, 401)
        if path == "/api/auth/refresh" and request.method == "POST":
            old = request.headers["authorization"][len("Bearer ") :]
            self.tokens.pop(old, None)
            self.refreshes += 1
            return json_response({"bearer": self._issue()})
        if self.rate_limited():
            return json_response({"message": "Too many requests"}, 429, headers=[("Retry-After", "1")])
        try:
            if request.method == "POST" and path == "/api/campaigns/sms/send":
                return self.send(self._json(request))
            if request.method == "POST" and path == "/api/campaigns/sms/send-individual":
                return self.send_individual(self._json(request))
            if request.method == "POST" and path == "/api/campaigns/sms/send-groups":
                return self.send_groups(self._json(request))
            if request.method == "PATCH" and (m := _STOP.match(path)):
                return self.stop(int(m.group(1)))
            if request.method == "GET" and (m := _DETAIL.match(path)):
                return self.detail(int(m.group(1)))
            if request.method == "GET" and path == "/api/messages":
                return self.list_messages(request)
        except Invalid as exc:
            return json_response({"message": "The given data was invalid.", "errors": exc.errors}, 422)
        return text_response('{"message":"Not Found"}', 404, "application/json")

    @staticmethod
    def _json(request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError as exc:
            raise Invalid({"body": ["The body must be JSON."]}) from exc
        if not isinstance(body, dict):
            raise Invalid({"body": ["The body must be a JSON object."]})
        return body

    def login(self, request: Request) -> Response:
        try:
            key = self._json(request).get("api_key")
        except Invalid:
            key = None
        if not isinstance(key, str) or key not in self.api_keys:
            return json_response({"message": "Invalid API key."}, 401)
        self.logins += 1
        return json_response({"bearer": self._issue()})

    # ------------------------------------------------------------------ validation (the documented limits)

    def _common(self, body: Mapping[str, Any], errors: dict[str, list[str]]) -> tuple[int, float, str]:
        validity = body.get("validity", 72)
        if not isinstance(validity, int) or not 1 <= validity <= 72:
            errors["validity"] = ["The validity must be between 1 and 72."]
        tariff = body.get("tariff_code", 0)
        if not isinstance(tariff, int) or not 0 <= tariff <= 9:
            errors["tariff_code"] = ["The tariff code must be between 0 and 9."]
        start = self.now()
        now_utc = datetime.now(UTC)
        start_at = now_utc.strftime("%Y-%m-%d %H:%M:%S")
        raw = body.get("start_at")
        if raw is not None:
            try:
                when = datetime.strptime(str(raw), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                errors["start_at"] = ["The start at does not match the format Y-m-d H:i:s."]
            else:
                ahead = (when - now_utc).total_seconds()
                if ahead > 30 * 86400:
                    errors["start_at"] = ["The start at must be a date within 30 days."]
                start += max(0.0, ahead)
                start_at = str(raw)
        return (validity if isinstance(validity, int) else 72), start, start_at

    def _check_sender(self, sender: Any, key: str, errors: dict[str, list[str]]) -> None:
        if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
            errors[key] = ["The sender format is invalid."]

    def _check_text(self, text: Any, key: str, errors: dict[str, list[str]]) -> None:
        if not isinstance(text, str) or not text:
            errors[key] = ["The text field is required."]
            return
        limit = MAX_TEXT_GSM if is_gsm7(text) else MAX_TEXT_UNICODE
        if len(text) > limit:
            errors[key] = [f"The text may not be greater than {limit} characters."]

    def _check_number(self, number: Any, key: str, errors: dict[str, list[str]]) -> None:
        if (
            not isinstance(number, int)
            or isinstance(number, bool)
            or not re.fullmatch(r"\d{9,15}", str(number))
        ):
            errors[key] = ["The number must be between 9 and 15 digits."]
        elif str(number) in self.invalid_numbers:
            errors[key] = ["The number is not a valid mobile number."]

    def _check_reference(self, ref: Any, key: str, seen: set[str], errors: dict[str, list[str]]) -> None:
        if ref is None:
            return
        if not isinstance(ref, str) or not _REFERENCE.fullmatch(ref):
            errors[key] = ["The reference id format is invalid."]
        elif ref in self.references or ref in seen:
            errors[key] = ["The reference id has already been taken."]
        else:
            seen.add(ref)

    def _items(
        self, body: Mapping[str, Any], name: str, errors: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        items = body.get(name)
        if not isinstance(items, list) or not items:
            errors[name] = [f"The {name} field is required."]
            return []
        if len(items) > MAX_NUMBERS:
            errors[name] = [f"The {name} may not have more than {MAX_NUMBERS} items."]
            return []
        return [i if isinstance(i, dict) else {} for i in items]

    # ------------------------------------------------------------------ campaigns

    def _create(
        self,
        sender: str,
        start: float,
        start_at: str,
        rows: Sequence[tuple[int, str, str, str | None]],
        validity: int,
    ) -> Response:
        self._next_campaign += 1
        now_text = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        campaign = BsgCampaign(
            id=self._next_campaign, sender=sender, start=start, start_at=start_at, created_at=now_text
        )
        for phone, text, msg_sender, ref in rows:
            self._next_message += 1
            message = BsgMessage(
                id=self._next_message,
                campaign_id=campaign.id,
                phone=phone,
                text=text,
                sender=msg_sender,
                reference_id=ref,
                validity=validity,
                created_at=now_text,
            )
            self.messages[message.id] = message
            campaign.messages.append(message.id)
            if ref is not None:
                self.references[ref] = message.id
        self.campaigns[campaign.id] = campaign
        return json_response({"data": self._campaign_json(campaign, "creation")})

    def send(self, body: Mapping[str, Any]) -> Response:
        errors: dict[str, list[str]] = {}
        items = self._items(body, "phones", errors)
        self._check_sender(body.get("sender"), "sender", errors)
        self._check_text(body.get("text"), "text", errors)
        validity, start, start_at = self._common(body, errors)
        seen: set[str] = set()
        for i, item in enumerate(items):
            self._check_number(item.get("number"), f"phones.{i}.number", errors)
            self._check_reference(item.get("reference_id"), f"phones.{i}.reference_id", seen, errors)
        if errors:
            raise Invalid(errors)
        rows = [
            (int(i["number"]), str(body["text"]), str(body["sender"]), i.get("reference_id")) for i in items
        ]
        return self._create(str(body["sender"]), start, start_at, rows, validity)

    def send_individual(self, body: Mapping[str, Any]) -> Response:
        errors: dict[str, list[str]] = {}
        items = self._items(body, "messages", errors)
        validity, start, start_at = self._common(body, errors)
        seen: set[str] = set()
        for i, item in enumerate(items):
            self._check_number(item.get("phone"), f"messages.{i}.phone", errors)
            self._check_sender(item.get("sender"), f"messages.{i}.sender", errors)
            self._check_text(item.get("text"), f"messages.{i}.text", errors)
            self._check_reference(item.get("reference_id"), f"messages.{i}.reference_id", seen, errors)
        if errors:
            raise Invalid(errors)
        rows = [(int(i["phone"]), str(i["text"]), str(i["sender"]), i.get("reference_id")) for i in items]
        return self._create(str(items[0]["sender"]), start, start_at, rows, validity)

    def send_groups(self, body: Mapping[str, Any]) -> Response:
        errors: dict[str, list[str]] = {}
        groups = body.get("groups")
        if not isinstance(groups, list) or not groups or not all(isinstance(g, int) for g in groups):
            errors["groups"] = ["The groups must be an array of list ids."]
            groups = []
        for i, gid in enumerate(groups):
            if gid not in self.groups:
                errors[f"groups.{i}"] = ["The selected group is invalid."]
        self._check_sender(body.get("sender"), "sender", errors)
        self._check_text(body.get("text"), "text", errors)
        validity, start, start_at = self._common(body, errors)
        contacts = [c for gid in groups if gid in self.groups for c in self.groups[gid]]
        if len(contacts) > MAX_NUMBERS:
            errors["groups"] = [f"The groups may not hold more than {MAX_NUMBERS} contacts."]
        if errors:
            raise Invalid(errors)
        template = str(body["text"])
        rows = [
            (
                int(phone.lstrip("+")),
                re.sub(r"\{(\w+)\}", lambda m, f=fields: f.get(m.group(1), ""), template),  # type: ignore[misc]
                str(body["sender"]),
                None,
            )
            for phone, fields in contacts
        ]
        return self._create(str(body["sender"]), start, start_at, rows, validity)

    def message_status(self, message: BsgMessage) -> str:
        """scheduled -> accepted -> sent -> final; a stop leaves what had not been handed over "scheduled"."""
        campaign = self.campaigns[message.campaign_id]
        if self.now() < campaign.start:
            return "scheduled"
        stopped = campaign.stopped_at
        if stopped is not None and self.stage(campaign.start, at=stopped) == 0:
            return "scheduled"
        stage = self.stage(campaign.start)
        if stage == 0:
            return "accepted"
        if stage == 1:
            return "sent"
        return OUTCOME_STATUS[self.outcome(str(message.id))]

    def campaign_status(self, campaign: BsgCampaign) -> str:
        if campaign.stopped_at is not None:
            return "stopped"
        if self.now() < campaign.start:
            return "scheduled"
        finals = set(OUTCOME_STATUS.values())
        if all(self.message_status(self.messages[m]) in finals for m in campaign.messages):
            return "done"
        return "sending"

    def _campaign_json(self, campaign: BsgCampaign, status: str | None = None) -> dict[str, Any]:
        statuses = [self.message_status(self.messages[m]) for m in campaign.messages]
        finished = status is None and self.campaign_status(campaign) in ("done", "stopped")
        return {
            "id": campaign.id,
            "name": f"API campaign {campaign.id}",
            "sender": campaign.sender,
            "status": status or self.campaign_status(campaign),
            "message_type": "sms",
            "start_at": campaign.start_at,
            "real_start_at": campaign.start_at if self.now() >= campaign.start else None,
            "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S") if finished else None,
            "created_at": campaign.created_at,
            "statistics": {
                "delivered": statuses.count("delivered"),
                "sent": sum(1 for s in statuses if s not in ("scheduled", "accepted")),
            },
        }

    def stop(self, campaign_id: int) -> Response:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            return json_response({"message": "Model not found"}, 404)
        current = self.campaign_status(campaign)
        if current not in STOPPABLE:
            return json_response({"message": "Invalid campaign status"}, 422)
        campaign.stopped_at = self.now()
        return json_response({"data": self._campaign_json(campaign)})

    def detail(self, campaign_id: int) -> Response:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            return json_response({"message": "Model not found"}, 404)
        data = self._campaign_json(campaign)
        counts: dict[str, int] = {}
        for m in campaign.messages:
            status = self.message_status(self.messages[m])
            counts[status] = counts.get(status, 0) + 1
        data.update(
            {
                "total_messages": len(campaign.messages),
                "total_phones": len(campaign.messages),
                "total_price": round(0.02 * len(campaign.messages), 2),
                "currency": "EUR",
                "messages": counts,
            }
        )
        return json_response({"data": data})

    def list_messages(self, request: Request) -> Response:
        filters = request.mapping("filter")
        page = request.mapping("page")
        try:
            limit = int(page.get("limit", PAGE_DEFAULT))
            offset = int(page.get("offset", 0))
        except ValueError as exc:
            raise Invalid({"page": ["The page must hold integers."]}) from exc
        if not PAGE_MIN <= limit <= PAGE_MAX:
            raise Invalid({"page.limit": [f"The page limit must be between {PAGE_MIN} and {PAGE_MAX}."]})
        if "campaign_id" in filters:
            campaign = (
                self.campaigns.get(int(filters["campaign_id"])) if filters["campaign_id"].isdigit() else None
            )
            ids = campaign.messages if campaign else []
        elif "reference_id" in filters:
            found = self.references.get(filters["reference_id"])
            ids = [found] if found is not None else []
        elif "id" in filters:
            ids = (
                [int(filters["id"])]
                if filters["id"].isdigit() and int(filters["id"]) in self.messages
                else []
            )
        else:
            ids = sorted(self.messages)
        chosen = ids[offset : offset + limit]
        data = [self._message_json(self.messages[i]) for i in chosen]
        return json_response({"data": data, "meta": {"total": len(ids), "limit": limit, "offset": offset}})

    def _message_json(self, message: BsgMessage) -> dict[str, Any]:
        status = self.message_status(message)
        return {
            "id": message.id,
            "campaign_id": message.campaign_id,
            "reference_id": message.reference_id,
            "type": "sms",
            "source": "rest",
            "text": message.text,
            "phone": message.phone,
            "validity": message.validity,
            "status": status,
            "amount": {"value": 0.02, "currency": "EUR"},
            "sender": message.sender,
            "created_at": message.created_at,
            "send_at": message.created_at,
            "delivered_at": message.created_at if status == "delivered" else None,
        }


def create_emulator(**knobs: Any) -> BsgEmulator:
    return BsgEmulator(**knobs)
