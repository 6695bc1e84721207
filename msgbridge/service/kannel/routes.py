"""``GET|POST /cgi-bin/sendsms`` (Kannel) and ``GET|POST /send`` (Jasmin) on the service's HTTP app.

Why on the main app rather than a listener of its own on Kannel's port 13013: the routes need exactly
what the API has (the gateway, the key ring, the drain gate, request metrics, body limits), and one
listener is one thing to run, secure and monitor. An application written for Kannel changes its
``http://kannel:13013/cgi-bin/sendsms`` to ``http://msgbridge:PORT/cgi-bin/sendsms``; one that cannot
change the port runs ``msgbridge serve --listen 0.0.0.0:13013`` (the paths do not collide with ``/v1``).

Each request is one :meth:`Gateway.accept` (all receivers in one commit, or none): the answer comes after
the commit, like Kannel's default (``immediate-sendsms-reply = false``: "smsbox will not reply to HTTP
request until the bearerbox has received the message"). "0: Accepted for delivery" when the transport is
up, "3: Queued for later delivery" when it is not (Kannel's "temporarily no SMSC driver to accept the
message so it was queued"). The report URL is kept as the message's callback target in the ``kannel`` or
``jasmin`` format (:mod:`msgbridge.service.kannel.dlr`), delivered by the durable callback worker.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ErrorCode
from msgbridge.service.contract import FieldError, InvalidSubmission, Submission
from msgbridge.service.http.auth import may_use
from msgbridge.service.http.state import service
from msgbridge.service.http.transports import resolve
from msgbridge.service.kannel.dlr import with_connector
from msgbridge.service.kannel.escapes import fill, url_encode
from msgbridge.service.kannel.params import (
    SendSms,
    check_jasmin,
    check_kannel,
    credentials,
    jasmin_args,
    read_kannel,
    smpp_when,
)
from msgbridge.service.kannel.replies import Refused, jasmin, kannel
from msgbridge.service.runtime import NotAccepting
from msgbridge.store import StoreError

router = APIRouter(include_in_schema=False)

SENDSMS = "/cgi-bin/sendsms"  # Kannel's ``sendsms-url`` default
JASMIN_SEND = "/send"
KANNEL_DCS = {0: "00", 2: "08"}  # %O: fields_to_dcs() of coding 0 / 2 without a class, as "%02d"


def retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}


def submit_time_values(send: SendSms, dlr_url: str, transport: str) -> dict[str, str]:
    """The escapes known when the message is submitted (escapes.SUBMIT_TIME), as Kannel fills them."""
    return {
        "i": url_encode(transport),
        "n": url_encode(send.username),
        "c": str(send.coding),
        "C": send.charset,
        "m": "-1",  # no message class: a request with one is refused
        "M": "-1",
        "u": "",
        "o": url_encode(send.account or ""),
        "O": KANNEL_DCS[send.coding],
        "D": "",
        "R": url_encode(dlr_url),
        "#": "",
    }


def submit_time_url(send: SendSms, dlr_url: str, transport: str) -> str:
    """The dlr-url with the escapes known now filled in (the report fills the rest, see escapes.py)."""
    return fill(dlr_url, submit_time_values(send, dlr_url, transport), final=False)


KANNEL_FIELDS = {"text": "Text", "sender": "Sender", "reference": "Reference", "options": "Options"}


def kannel_refusal(errors: tuple[FieldError, ...], send: SendSms) -> Response:
    """Kannel's answer to what the runtime's checks refused."""
    first = errors[0]
    if any(e.field == "to" for e in errors):
        bad = [send.to[e.index] for e in errors if e.field == "to"]
        return kannel("denied", receivers=" Denied receivers are: " + " ".join(bad))
    if first.field in ("callback", "callback_url"):
        return kannel("dlr_url")
    if first.field == "transport":
        return kannel("not_routable")
    if first.field == "text":
        return kannel("text_too_long" if first.code is ErrorCode.MESSAGE_TOO_LONG else "empty_text")
    return kannel("misformed", field=KANNEL_FIELDS.get(first.field, first.field.capitalize()))


@router.api_route(SENDSMS, methods=["GET", "POST"])
async def sendsms(request: Request) -> Response:
    """Kannel's SMS push: queue the message to every receiver; the reply line says how it went."""
    svc = service(request)
    try:
        req = await read_kannel(request)
        username, password = credentials(req)
        key = svc.keys.login(username, password)
        if key is None:
            return kannel("authorization")
        wait = svc.keys.admit(key)
        if wait is not None:
            return kannel("temporary", headers=retry_after(wait))
        send = check_kannel(req, username)
    except Refused as refused:
        return refused.response
    transport = resolve(svc.gateway, send.smsc)
    if transport is None or not may_use(key, svc.gateway, transport):
        return kannel("not_routable")  # Kannel: the bearerbox has no SMSC for it (ack_failed)
    callback = None
    if send.dlr_url is not None:
        url = submit_time_url(send, send.dlr_url, transport)
        callback = CallbackTarget(url=url, format="kannel", mask=send.dlr_mask, method="GET", key=key.name)
    now = datetime.now(UTC)
    items = [
        Submission(
            to=number,
            text=send.text,
            sender=send.sender,
            transport=transport,
            callback=callback,
            validity=timedelta(minutes=send.validity) if send.validity is not None else None,
            scheduled_at=now + timedelta(minutes=send.deferred) if send.deferred is not None else None,
        )
        for number in send.to
    ]
    try:
        await svc.gateway.accept(items, scope=key.name)
    except InvalidSubmission as exc:
        return kannel_refusal(exc.errors, send)
    except NotAccepting:
        return kannel("temporary")
    except StoreError:
        return kannel("sending_failed")
    up = {h.name: h.up for h in svc.gateway.health()}
    carried = any(up.get(t) for t in svc.gateway.carriers(transport))  # a route: any of its transports
    return kannel("accepted" if carried else "queued")


JASMIN_NAMES = {
    "to": "to",
    "text": "content",
    "sender": "from",
    "callback": "dlr-url",
    "callback_url": "dlr-url",
}


@router.api_route(JASMIN_SEND, methods=["GET", "POST"])
async def send(request: Request) -> Response:
    """Jasmin's ``/send``: one message; ``Success "<id>"`` once it is queued."""
    svc = service(request)
    try:
        sent = check_jasmin(await jasmin_args(request))
    except Refused as refused:
        return refused.response
    key = svc.keys.login(sent.username, sent.password)
    if key is None:
        return jasmin("authentication", username=sent.username)
    if svc.keys.admit(key) is not None:
        return jasmin("throughput")
    transport = resolve(svc.gateway, None)
    if transport is None or not may_use(key, svc.gateway, transport):
        return jasmin("no_route")
    now = datetime.now(UTC)
    scheduled = smpp_when(sent.scheduled, now) if sent.scheduled is not None else None
    if sent.scheduled is not None and scheduled is None:
        return jasmin("invalid_value", name="sdt", value=sent.scheduled)
    callback = None
    if sent.dlr_url is not None:
        callback = CallbackTarget(
            url=with_connector(sent.dlr_url, transport), format="jasmin", mask=sent.dlr_level,
            method=sent.dlr_method, key=key.name,
        )  # fmt: skip
    item = Submission(
        to=sent.to,
        text=sent.text,
        sender=sent.sender,
        transport=transport,
        callback=callback,
        validity=timedelta(minutes=sent.validity) if sent.validity else None,
        scheduled_at=scheduled,
    )
    try:
        accepted = await svc.gateway.accept([item], scope=key.name)
    except InvalidSubmission as exc:
        first = exc.errors[0]
        given = {
            "to": sent.to,
            "sender": sent.sender or "",
            "callback": sent.dlr_url or "",
            "callback_url": sent.dlr_url or "",
        }
        return jasmin(
            "invalid_value",
            name=JASMIN_NAMES.get(first.field, first.field),
            value=given.get(first.field, first.message),
        )
    except NotAccepting:
        return jasmin("unavailable", why="not accepting messages now, try again later")
    except StoreError:
        return jasmin("server", why="the message could not be queued, try again later")
    return jasmin("success", id=accepted[0].id)
