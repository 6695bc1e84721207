"""An SMSC.ru emulator: ``/sys/send.php``, ``status.php``, ``balance.php`` and ``phones.php``.

It answers in whichever ``fmt`` (0 text, 1 comma list, 2 XML, 3 JSON) the
client asks for, with the provider's numeric error codes inside an HTTP 200,
checks ``login``/``psw`` (plain or MD5) or ``apikey``, refuses an identical
send repeated within a minute (error 9), charges a balance per segment, and
moves each (id, phone) through -1 -> 0 -> a final status drawn from the
configured mix.

With ``status_limits`` (the default) status.php keeps SMSC.ru's documented
limit: error 9 for "более пяти запросов на получение статуса одного и того же
сообщения или более одного массового запроса в течение минуты" (more than five
requests naming one message, or more than one naming several, within a
minute). ``status_refused`` counts those answers.

With ``push_url`` it also calls the client's status handler, as SMSC.ru documents it: "after each receipt
of the delivery status of a message", so each (id, phone) is pushed twice, status 0 (handed to the
operator) at ``accept_after`` and its final status at ``final_after``, with ``id``, ``phone``, ``status``,
``time``, ``ts`` and ``err``. The handler URL's own parameters are obeyed as the documents describe them:
``charset`` (windows-1251 by default), ``fmt=3`` (a JSON body instead of a form) and ``md5``/``sha1``
(that hash added, over ``id:phone:status:<push_secret>``). A call not answered 2xx is tried again up to
``push_retries`` times, ``push_interval`` seconds longer each time (SMSC.ru publishes no retry schedule:
these are the emulator's).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape

import httpx

from msgbridge.core.encoding import info as text_info
from msgbridge.simulators.http.push import Pusher
from msgbridge.simulators.http.server import Emulator, Request, Response, text_response

ERROR_TEXTS: dict[int, str] = {
    1: "parameters error",
    2: "invalid login or password",
    3: "not enough money",
    4: "IP address is temporarily blocked",
    5: "invalid date format",
    6: "message is prohibited",
    7: "invalid phone number format",
    8: "message cannot be delivered",
    9: "duplicate request, wait a minute",
}
CONTACT_ERROR_TEXTS: dict[int, str] = {
    1: "parameters error",
    2: "invalid login or password",
    3: "records not found",
    4: "IP address is temporarily blocked",
    5: "operation failed",
    9: "too many identical requests",
}

# Generic outcome -> (final status, err) as status.php reports it.
OUTCOME_STATUS: dict[str, tuple[int, int]] = {
    "delivered": (1, 0),
    "undeliverable": (20, 1),
    "expired": (3, 6),
    "rejected": (23, 0),
}

MAX_TEXT = 1000

# status.php, error 9: at most this many requests about one message, and this many mass requests
# (naming several messages), within STATUS_WINDOW seconds.
STATUS_PER_MESSAGE = 5
STATUS_MASS = 1
STATUS_WINDOW = 60.0
STATUS_LIMIT_TEXT = (
    "more than five status requests for one message, or more than one mass request, within a minute"
)


@dataclass
class Sent:
    sms_id: int
    phone: str
    created: float
    segments: int


@dataclass
class Contact:
    id: int
    phone: str
    name: str = ""
    group: str = ""


@dataclass
class Group:
    id: int
    name: str
    number: str = ""
    members: set[str] = field(default_factory=set)


class SmscEmulator(Emulator):
    name = "smsc"

    def __init__(
        self,
        *,
        logins: Mapping[str, str] | None = None,
        balance: float = 1000.0,
        price: float = 1.5,
        duplicate_window: float = 60.0,
        wall_clock: Callable[[], float] = time.time,
        status_limits: bool = True,
        push_url: str | None = None,
        push_secret: str = "",
        push_retries: int = 3,
        push_interval: float = 60.0,
        **knobs: Any,
    ) -> None:
        super().__init__(**knobs)
        self.pusher = Pusher(push_url, retries=push_retries, interval=push_interval) if push_url else None
        self.push_secret = push_secret
        self.status_limits = status_limits
        self.status_refused = 0  # error-9 answers on status.php
        self._status_times: dict[tuple[str, str], deque[float]] = {}
        self._mass_times: deque[float] = deque()
        self.logins: dict[str, str] = dict(logins if logins is not None else {"user": "secret"})
        self.balance = balance
        self.price = price
        self.duplicate_window = duplicate_window
        self.wall_clock = wall_clock
        self.sent: dict[tuple[str, str], Sent] = {}
        self.sends: list[dict[str, str]] = []  # every accepted send request's parameters (tests read them)
        self._next_id = 1
        # request key -> times seen within duplicate_window, oldest first; the deque lets
        # expiry run in O(1) per request however many requests a benchmark makes
        self._recent: dict[str, deque[float]] = {}
        self._recent_order: deque[tuple[float, str]] = deque()
        self.contacts: dict[str, Contact] = {}
        self.groups: dict[int, Group] = {}
        self._next_contact = 1

    # -- plumbing

    def _expire(self, now: float) -> None:
        while self._recent_order and now - self._recent_order[0][0] >= self.duplicate_window:
            _, key = self._recent_order.popleft()
            times = self._recent.get(key)
            if times:
                times.popleft()
                if not times:
                    del self._recent[key]

    def _remember(self, key: str, now: float) -> None:
        self._recent.setdefault(key, deque()).append(now)
        self._recent_order.append((now, key))

    def endpoint(self, request: Request) -> str:
        return request.path.rsplit("/", 1)[-1].removesuffix(".php") or request.path

    def _authorised(self, request: Request) -> bool:
        apikey = request.arg("apikey")
        if apikey is not None:
            return apikey in self.api_keys
        login, psw = request.arg("login"), request.arg("psw")
        if login is None or psw is None or login not in self.logins:
            return False
        password = self.logins[login]
        return psw in (password, hashlib.md5(password.encode()).hexdigest())

    async def dispatch(self, request: Request) -> Response:
        op = self.endpoint(request)
        handler = {
            "send": self._send,
            "status": self._status,
            "balance": self._balance,
            "phones": self._phones,
        }.get(op)
        if handler is None or not request.path.startswith("/sys/"):
            return text_response("<html><body>404 Not Found</body></html>", 404, "text/html")
        fmt = _int(request.arg("fmt"), 0)
        contacts = op == "phones"
        if self.rate_limited():
            return render_error(fmt, 9 if contacts else 4, contacts=contacts)
        if not self._authorised(request):
            return render_error(fmt, 2, contacts=contacts)
        return handler(request, fmt)

    # -- send.php

    def _send(self, request: Request, fmt: int) -> Response:
        raw_phones = request.arg("phones") or ""
        text = request.arg("mes")
        if not raw_phones or text is None or text == "" or len(text) > MAX_TEXT:
            return render_error(fmt, 1)
        phones = [p.strip().lstrip("+") for p in raw_phones.replace(";", ",").split(",") if p.strip()]
        key = "send:" + json.dumps([sorted(phones), text, request.arg("sender"), request.arg("id")])
        now = self.now()
        self._expire(now)
        if self._recent.get(key):
            return render_error(fmt, 9)
        good = [p for p in phones if p.isdigit() and 10 <= len(p) <= 15]
        if not good:
            return render_error(fmt, 7)
        segments = text_info(text).segments
        cost = segments * len(good) * self.price
        if cost > self.balance:
            return render_error(fmt, 3)
        self._remember(key, now)
        client_id = _int(request.arg("id"), 0)
        sms_id = client_id if client_id > 0 else self._next_id
        self._next_id = max(self._next_id, sms_id) + 1
        self.balance -= cost
        for phone in good:
            self.sent[(str(sms_id), phone)] = Sent(sms_id, phone, now, segments)
            if self.pusher is not None:
                sent = self.sent[(str(sms_id), phone)]
                final, err = OUTCOME_STATUS[self.outcome(f"{sms_id}:{phone}")]
                self.pusher.schedule(
                    [
                        (self.accept_after, self._status_call(sent, 0, 0)),
                        (max(0.0, self.final_after - self.accept_after), self._status_call(sent, final, err)),
                    ]
                )
        self.sends.append(
            {k: v[0] for k, v in {**request.query, **request.form}.items() if k not in ("psw", "apikey")}
        )
        row: dict[str, object] = {"id": sms_id, "cnt": segments * len(good)}
        if _int(request.arg("cost"), 0) >= 2:
            row["cost"] = f"{cost:.2f}"
        if _int(request.arg("cost"), 0) >= 3:
            row["balance"] = f"{self.balance:.2f}"
        if request.arg("op") == "1":
            row["phones"] = [
                {"phone": p, "mccmnc": "25001", "cost": f"{segments * self.price:.2f}", "status": "0"}
                if p in good
                else {"phone": p, "error": "7", "error_text": ERROR_TEXTS[7]}
                for p in phones
            ]
        if fmt == 0:
            extra = "".join(f", {k.upper()} - {row[k]}" for k in ("cost", "balance") if k in row)
            return text_response(f"OK - {row['cnt']} SMS, ID - {sms_id}{extra}")
        if fmt == 1:
            return text_response(",".join(str(row[k]) for k in ("id", "cnt", "cost", "balance") if k in row))
        if fmt == 2:
            return _xml("result", {k: v for k, v in row.items() if k != "phones"})
        return _json(row)

    def _status_call(self, sent: Sent, status: int, err: int) -> Callable[[int], httpx.Request]:
        """The handler call reporting ``status`` of ``sent``, shaped by the handler URL's own parameters."""
        assert self.pusher is not None
        url = self.pusher.url
        asked = {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
        codec = {"utf-8": "utf-8", "koi8-r": "koi8-r"}.get(asked.get("charset", "").lower(), "cp1251")

        def build(attempt: int) -> httpx.Request:
            ts = int(self.wall_clock())
            fields: dict[str, str] = {
                "id": str(sent.sms_id),
                "phone": sent.phone,
                "status": str(status),
                "time": time.strftime("%d.%m.%Y %H:%M:%S", time.gmtime(ts)),
                "ts": str(ts),
                "err": str(err),
            }
            base = f"{fields['id']}:{fields['phone']}:{fields['status']}:{self.push_secret}".encode()
            for name, digest in (("md5", hashlib.md5), ("sha1", hashlib.sha1)):
                if name in asked:
                    fields[name] = digest(base).hexdigest()
            if asked.get("fmt") == "3":
                body = json.dumps(fields).encode("utf-8")
                return httpx.Request("POST", url, content=body, headers={"Content-Type": "application/json"})
            form = urlencode(fields, encoding=codec).encode("ascii")
            return httpx.Request(
                "POST", url, content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
            )

        return build

    # -- status.php

    def _status_of(self, sent: Sent | None) -> dict[str, object]:
        if sent is None:
            return {"status": -3, "last_date": "", "last_timestamp": 0, "err": 0}
        stage = self.stage(sent.created)
        err = 0
        if stage == 0:
            status = -1
        elif stage == 1:
            status = 0
        else:
            status, err = OUTCOME_STATUS[self.outcome(f"{sent.sms_id}:{sent.phone}")]
        ts = int(self.wall_clock())
        return {
            "status": status,
            "last_date": time.strftime("%d.%m.%Y %H:%M:%S", time.gmtime(ts)),
            "last_timestamp": ts,
            "err": err,
        }

    def _status(self, request: Request, fmt: int) -> Response:
        raw_ids, raw_phones = request.arg("id") or "", request.arg("phone") or ""
        ids = [i for i in raw_ids.split(",") if i != ""]
        phones = [p.lstrip("+") for p in raw_phones.split(",") if p != ""]
        if not ids or len(ids) != len(phones):
            return render_error(fmt, 1)
        if self.status_limits and not self._status_allowed(list(zip(ids, phones, strict=True))):
            self.status_refused += 1
            return render_error(fmt, 9, text=STATUS_LIMIT_TEXT)
        rows = []
        for sms_id, phone in zip(ids, phones, strict=True):
            row = self._status_of(self.sent.get((sms_id, phone)))
            rows.append({**row, "id": sms_id, "phone": phone})
        as_list = "," in raw_ids
        if fmt == 0:
            lines = [f"Status = {r['status']}, check_time = {r['last_date']}, err = {r['err']}" for r in rows]
            return text_response("\n".join(lines))
        if fmt == 1:
            return text_response("\n".join(f"{r['status']},{r['last_timestamp']},{r['err']}" for r in rows))
        if fmt == 2:
            return _xml_list("list", "sms", rows) if as_list else _xml("result", rows[0])
        return _json(rows if as_list else rows[0])

    def _status_allowed(self, pairs: list[tuple[str, str]]) -> bool:
        """Count this request against the documented limits; False (nothing counted) when it breaks one."""
        now = self.now()

        def recent(times: deque[float]) -> deque[float]:
            while times and times[0] <= now - STATUS_WINDOW:
                times.popleft()
            return times

        mass = len(pairs) > 1
        if mass and len(recent(self._mass_times)) >= STATUS_MASS:
            return False
        per_pair = [self._status_times.setdefault(pair, deque()) for pair in pairs]
        if any(len(recent(times)) >= STATUS_PER_MESSAGE for times in per_pair):
            return False
        if mass:
            self._mass_times.append(now)
        for times in per_pair:
            times.append(now)
        return True

    # -- balance.php

    def _balance(self, request: Request, fmt: int) -> Response:
        value = f"{self.balance:.2f}"
        if fmt == 3:
            return _json({"balance": value})
        if fmt == 2:
            return _xml("result", {"balance": value})
        return text_response(value)

    # -- phones.php: contacts and groups

    def _phones(self, request: Request, fmt: int) -> Response:
        params = {
            k: v[0]
            for k, v in {**request.query, **request.form}.items()
            if k not in ("psw", "apikey", "login")
        }
        key = "phones:" + json.dumps(sorted(params.items()))
        now = self.now()
        self._expire(now)
        hits = self._recent.get(key, ())
        if len(hits) >= 3 and not (params.get("get") or params.get("get_group")):
            return render_error(fmt, 9, contacts=True)
        self._remember(key, now)
        if params.get("add") == "1":
            phone = (params.get("phone") or "").lstrip("+")
            if not phone.isdigit():
                return render_error(fmt, 1, contacts=True)
            contact = Contact(self._next_contact, phone, params.get("name", ""), params.get("grp", ""))
            self._next_contact += 1
            self.contacts[phone] = contact
            return _created(fmt, contact.id, "phone")
        if params.get("del") == "1":
            phone = (params.get("phone") or "").lstrip("+")
            if self.contacts.pop(phone, None) is None:
                return render_error(fmt, 3, contacts=True)
            return _ok(fmt)
        if params.get("get") == "1":
            grp = params.get("grp")
            rows = [
                {
                    "phone": c.phone,
                    "name": c.name,
                    "group": c.group,
                    "first_name": "",
                    "last_name": "",
                    "middle_name": "",
                    "birthday": "",
                    "id": str(c.id),
                    "comments": "",
                    "tags": "",
                    "phone_other": "",
                }
                for c in self.contacts.values()
                if grp is None or c.group == grp
            ]
            if not rows:
                return render_error(fmt, 3, contacts=True)
            return _listing(fmt, "contact", rows)
        if params.get("add_group") == "1":
            name = params.get("name")
            if not name:
                return render_error(fmt, 1, contacts=True)
            group = Group(self._next_contact, name, params.get("num", ""))
            self._next_contact += 1
            self.groups[group.id] = group
            return _created(fmt, group.id, "group")
        if params.get("del_group") == "1":
            if self.groups.pop(_int(params.get("id"), -1), None) is None:
                return render_error(fmt, 3, contacts=True)
            return _ok(fmt)
        if params.get("get_group") == "1":
            groups: list[dict[str, object]] = [
                {
                    "id": g.id,
                    "name": g.name,
                    "number": g.number,
                    "cnt": str(sum(1 for c in self.contacts.values() if c.group == str(g.id))),
                }
                for g in self.groups.values()
            ]
            if not groups:
                return render_error(fmt, 3, contacts=True)
            return _listing(fmt, "group", groups)
        return render_error(fmt, 1, contacts=True)


# --------------------------------------------------------------------------- rendering in four formats


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _json(obj: object) -> Response:
    return text_response(json.dumps(obj, ensure_ascii=False), content_type="application/json; charset=utf-8")


def _xml(root: str, row: Mapping[str, object]) -> Response:
    inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in row.items())
    return text_response(f"<{root}>{inner}</{root}>", content_type="text/xml; charset=utf-8")


def _xml_list(root: str, item: str, rows: Iterable[Mapping[str, object]]) -> Response:
    items = "".join(
        f"<{item}>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in r.items()) + f"</{item}>"
        for r in rows
    )
    return text_response(f"<{root}>{items}</{root}>", content_type="text/xml; charset=utf-8")


def render_error(
    fmt: int, code: int, *, contacts: bool = False, sms_id: int | None = None, text: str | None = None
) -> Response:
    text = text or (CONTACT_ERROR_TEXTS if contacts else ERROR_TEXTS).get(code, "error")
    if fmt == 1:
        return text_response(f"{sms_id or 0},-{code}")
    if fmt == 2:
        row: dict[str, object] = {"error": text, "error_code": code}
        if sms_id:
            row["id"] = sms_id
        return _xml("result", row)
    if fmt == 3:
        obj: dict[str, object] = {"error": text, "error_code": code}
        if sms_id:
            obj["id"] = sms_id
        return _json(obj)
    tail = f", ID - {sms_id}" if sms_id else ""
    return text_response(f"ERROR = {code} ({text}){tail}")


def _created(fmt: int, new_id: int, kind: str) -> Response:
    if fmt == 1:
        return text_response(str(new_id))
    if fmt == 2:
        return _xml(kind, {"id": new_id})
    if fmt == 3:
        return _json({"id": new_id})
    return text_response(f"ID = {new_id}")


def _ok(fmt: int) -> Response:
    if fmt == 2:
        return text_response("<result>OK</result>", content_type="text/xml; charset=utf-8")
    if fmt == 3:
        return _json({"result": "OK"})
    return text_response("OK")


def _listing(fmt: int, item: str, rows: Sequence[Mapping[str, object]]) -> Response:
    if fmt == 3:
        return _json(rows)
    if fmt == 2:
        return _xml_list("list", item, rows)
    if fmt == 1:
        return text_response("\n".join(",".join(str(v) for v in r.values()) for r in rows))
    return text_response("\n".join(", ".join(f"{k} = {v}" for k, v in r.items()) for r in rows))


def create_emulator(**knobs: Any) -> SmscEmulator:
    """Knobs: api_keys, logins {login: password}, balance, price, rate_limit, final_mix, accept_after, final_after,
    seed, status_limits (default on: status.php keeps SMSC.ru's per-message and mass-request limits)."""
    return SmscEmulator(**knobs)
