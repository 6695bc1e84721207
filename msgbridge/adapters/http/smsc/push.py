"""SMSC.ru's status handler calls into receipts: ``GET|POST /v1/providers/NAME/callback`` for ``smsc://``.

Documented (SMSC.ru, "Передача статусов и сообщений на обработчик Клиента" / "Transmitting statuses and
messages to the Client handler"):

- "In the Client's personal account in "User settings" it is possible to specify the http(s) address (URL)
  of the script for processing the delivery statuses of messages, incoming SMS messages ... The specified
  script will be called by the Server after each receipt of the delivery status of a message previously
  sent by the Client, after receiving an incoming SMS message from the subscriber": so every status
  change is pushed, not only final ones, and inbound messages come to the same URL;
- "In the address of the handler, you can specify the charset parameter ... The default encoding is
  windows-1251": the bytes are read in the ``charset`` the handler URL names (see :func:`charset_of`);
- "in the address of the status handler and incoming messages, you can pass the fmt parameter ...
  fmt=2 (for xml format) and fmt=3 (for json format)": we read form parameters (the default) and JSON;
- "To protect the transmitted data from spoofing, you can additionally specify any of the md5, sha1, or
  crc32 parameters in the handler address that define the algorithm for calculating" the hash the call
  then carries in that parameter;
- the status codes and ``err`` delivery errors are status.php's (``tables.STATUSES``,
  ``tables.DELIVERY_ERRORS``), read here by the same :func:`receipt_from_row` the poller uses.

Our reading (not confirmed by a document we could read in full; public client code reads it the same way):

- the fields of a status call are ``id``, ``phone``, ``status``, ``time``/``ts``, ``err`` (as status.php
  names them); our native id is ``"<id>:<phone digits>"``, as the send result recorded it;
- the hash is ``md5``/``sha1`` of ``"id:phone:status:<secret>"``, the secret being the transport URL's
  ``push_secret``; crc32 is not accepted on its own, since a CRC is linear and proves no knowledge of a
  secret;
- a call carrying no hash is accepted only with our own shared secret in the handler URL's query
  (``...?secret=<push_secret>``): configure one or the other;
- an inbound message carries ``phone`` (the sender), ``to`` (our number) and ``mes`` (the text);
- the handler answers HTTP 200 with ``OK``; SMSC.ru names no other acknowledgement.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping

from msgbridge.adapters.base import Transport
from msgbridge.adapters.http.smsc.payload import native_id, receipt_from_row
from msgbridge.adapters.pushes import Push, PushRefused, PushReply, PushRequest, push_secret
from msgbridge.core.errors import ErrorCode
from msgbridge.core.message import InboundMessage
from msgbridge.core.phone import digits

# The hash parameters a call may carry -> how each is computed over "id:phone:status:<secret>".
HASHES: dict[str, Callable[[bytes], str]] = {
    "md5": lambda data: hashlib.md5(data).hexdigest(),  # the provider's scheme, not our choice
    "sha1": lambda data: hashlib.sha1(data).hexdigest(),
}
SIGNED_FIELDS: tuple[str, ...] = ("id", "phone", "status")
QUERY_SECRET = "secret"  # our fallback: the shared secret in the handler URL's query
DEFAULT_CHARSET = "windows-1251"  # "The default encoding is windows-1251"
CHARSETS: dict[str, str] = {"utf-8": "utf-8", "koi8-r": "koi8-r", "windows-1251": "cp1251"}
ACK = PushReply(200, "OK", "text/plain")


def charset_of(request: PushRequest) -> str:
    """The Python codec of the ``charset`` the handler URL names (windows-1251 when it names none)."""
    named = request.fields("latin-1").get("charset", DEFAULT_CHARSET).strip().lower()
    codec = CHARSETS.get(named)
    if codec is None:
        raise PushRefused(f"unknown charset {named!r}", status=400, code=ErrorCode.INVALID_ARGUMENT)
    return codec


def signature(fields: Mapping[str, str], secret: str, algorithm: str) -> str:
    """The hash SMSC.ru puts in ``md5``/``sha1``: over ``id:phone:status:<secret>`` (see the docstring)."""
    base = ":".join(fields.get(k, "") for k in SIGNED_FIELDS) + ":" + secret
    return HASHES[algorithm](base.encode("utf-8"))


def verified(fields: Mapping[str, str], query: Mapping[str, str], secret: str) -> bool:
    """Every hash the call carries matches, or it carries none and the handler URL holds our secret."""
    given = {name: fields[name].strip().lower() for name in HASHES if fields.get(name, "").strip()}
    if given:
        return all(hmac.compare_digest(v, signature(fields, secret, name)) for name, v in given.items())
    shared = query.get(QUERY_SECRET, "")
    return bool(shared) and hmac.compare_digest(shared.encode("utf-8"), secret.encode("utf-8"))


class SmscPushes:
    """The receiver of SMSC.ru's status and inbound calls (see the module docstring)."""

    methods = frozenset({"GET", "POST"})

    def read(self, request: PushRequest, transport: Transport) -> Push:
        codec = charset_of(request)
        fields = request.fields(codec)
        query = PushRequest(request.method, request.query, b"").fields(codec)
        if not verified(fields, query, push_secret(transport)):
            raise PushRefused(
                "the call's md5/sha1 does not match id:phone:status:secret (or, without one, the URL's secret)"
            )
        phone = fields.get("phone", "")
        if "mes" in fields and "status" not in fields:
            message = InboundMessage(
                source=phone,
                destination=fields.get("to", ""),
                text=fields["mes"],
                link=transport.link,
                raw=dict(fields),
            )
            return Push(inbound=(message,), push_id=_push_id("in", fields), reply=ACK)
        sms_id, status = fields.get("id", ""), fields.get("status", "")
        if not sms_id or not digits(phone) or not status.lstrip("-").isdigit():
            raise PushRefused(
                "a status call needs id, phone and a numeric status",
                status=400,
                code=ErrorCode.INVALID_ARGUMENT,
            )
        receipt = receipt_from_row(fields, native_id(sms_id, phone), transport.link)
        return Push(receipts=(receipt,), push_id=_push_id("st", fields), reply=ACK)


def _push_id(kind: str, fields: Mapping[str, str]) -> str:
    """What names one call across SMSC.ru's repeats of it: the message, the status and its time."""
    parts = (kind, *(fields.get(k, "") for k in ("id", "sms_id", "phone", "status", "err", "ts", "time")))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


RECEIVER = SmscPushes()
