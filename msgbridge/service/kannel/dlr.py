"""The ``kannel`` and ``jasmin`` callback formats: a stored status event as the request each gateway makes.

Kannel (user guide, Debian ``kannel-docs`` 1.4.5, chapter 10 "SMS Delivery Reports" and Table 7-17):
"The delivery report types currently implemented are: 1: delivery success 2: delivery failure 4:
message buffered 8: smsc submit 16: smsc reject. If you want multiple report types, you simply add the
values together"; "dlr-url should contain the URL to which Kannel should place a HTTP requests once the
delivery report is ready"; the example: "you send a message using dlr-mask=7 and
dlr-url=http://www.xyz.com/cgi/dlr.php?myId=123456&type=%d ... Kannel calls
http://www.xyz.com/cgi/dlr.php?myId=123456&type=4 to indicate the message being buffered ... Kannel calls
http://www.xyz.com/cgi/dlr.php?myId=123456&type=1 to indicate the final success". A report whose type is
not in the mask is not sent (``dlr.c``: ``if ((typ & dlr->mask) > 0)``); smsbox fetches the URL with a
GET. The escapes are filled as :mod:`msgbridge.service.kannel.escapes` describes.

Which of our statuses is which report type (:data:`KANNEL_TYPES`): SMPP receipts map as Kannel's
``smsc_smpp.c`` maps ``stat:`` ("DELIVRD" -> success; "ACCEPTD", "ACKED", "BUFFRED", "BUFFERD", "ENROUTE"
-> buffered; everything else -> failure), and a submit answered with a message id is "smsc submit", one
refused before the SMSC took it (no native id) "smsc reject". MAYBE_SUBMITTED (we do not know whether the
SMSC has it), QUEUED and UNKNOWN report nothing: Kannel has no such report. CANCELED (never handed to an
SMSC) is "smsc reject", so an application waiting for a final report gets one.

``%A`` (the SMSC's reply): Kannel writes ``ACK/`` for an smsc submit, ``NACK/0x<status>/<text>`` for an
SMPP reject (``bb_smscconn.c``, ``smsc_smpp.c``) and the receipt's text for a receipt; msgbridge keeps the
receipt's fields, not its text, so it is rebuilt in SMPP 3.4 Appendix B's shape (``id:... sub:001
dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:...``).

Jasmin (``misc/doc/sources/apis/http/index.rst``, "Receiving DLR"; ``jasmin/routing/throwers.py``
``http_dlr_callback``; ``jasmin/managers/dlr.py``): "a delivery receipt (DLR) will be sent back to the
application url (set in dlr-url) through HTTP GET/POST depending on dlr-method", level 1 (SMS-C level: the
submit_sm_resp) with ``id``, ``message_status`` ("ESME_* SMPP Command status"), ``level``, ``connector``;
level 2 (terminal: the receipt) adds ``id_smsc``, ``sub``, ``dlvrd``, ``subdate``, ``donedate``, ``err``,
``text`` ("The first 20 characters of the short message"), ``message_status`` being one of "DELIVRD",
"EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD" (``content.py``); dlr-level 3 gets both.
GET puts the arguments in the query, POST in an ``application/x-www-form-urlencoded`` body. The receiver
answers ``ACK/Jasmin`` (Jasmin retries otherwise); msgbridge's worker counts any 2xx as delivered.
The ``connector`` (our transport name) is known when the message is submitted: the front keeps it in the
stored URL's fragment (``#connector=NAME``, a part of a URL no HTTP client sends), which is removed here.

The formats carry no signature: neither gateway signs its reports (``secret`` is not used).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.errors import ErrorInfo
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.kannel.escapes import fill, url_encode
from msgbridge.smpp.status import STATUS_TABLE
from msgbridge.store.base import MessageRecord, StoredEvent
from msgbridge.webhooks.request import CallbackFormat, CallbackRequest

S = DeliveryStatus
DELIVERED, UNDELIVERED, BUFFERED, SMSC_SUBMIT, SMSC_REJECT = 1, 2, 4, 8, 16

# Our status -> Kannel's report type: (when the SMSC took the message (it has a native id), when it did
# not); None: no report. Every row is tested.
KANNEL_TYPES: dict[DeliveryStatus, tuple[int | None, int | None]] = {
    S.QUEUED: (None, None),
    S.MAYBE_SUBMITTED: (None, None),
    S.UNKNOWN: (None, None),
    S.SUBMITTED: (SMSC_SUBMIT, SMSC_SUBMIT),
    S.ACCEPTED: (BUFFERED, BUFFERED),
    S.DELIVERED: (DELIVERED, DELIVERED),
    S.PARTIALLY_DELIVERED: (UNDELIVERED, UNDELIVERED),  # not all of it reached the phone
    S.UNDELIVERABLE: (UNDELIVERED, UNDELIVERED),
    S.EXPIRED: (UNDELIVERED, UNDELIVERED),
    S.DELETED: (UNDELIVERED, UNDELIVERED),
    S.REJECTED: (UNDELIVERED, SMSC_REJECT),
    S.FAILED: (UNDELIVERED, SMSC_REJECT),
    S.CANCELED: (SMSC_REJECT, SMSC_REJECT),
}

# Our status -> the SMPP 3.4 Appendix B ``stat`` a receipt would say (Jasmin's level-2 ``message_status``).
RECEIPT_STATS: dict[DeliveryStatus, str] = {
    S.ACCEPTED: "ACCEPTD",
    S.DELIVERED: "DELIVRD",
    S.PARTIALLY_DELIVERED: "UNDELIV",
    S.UNDELIVERABLE: "UNDELIV",
    S.EXPIRED: "EXPIRED",
    S.DELETED: "DELETED",
    S.REJECTED: "REJECTD",
    S.FAILED: "UNDELIV",
    S.UNKNOWN: "UNKNOWN",
}
SUBMIT_FAILED = "ESME_RSUBMITFAIL"  # SMPP 0x45 "submit_sm failed": a refusal that names no SMPP status
JASMIN_SMSC, JASMIN_TERMINAL, JASMIN_BOTH = 1, 2, 3


def took(message: MessageRecord | None) -> bool:
    """Whether the SMSC took the message: it gave an id for it."""
    return message is not None and bool(message.native_id)


def kannel_type(status: DeliveryStatus, smsc_took: bool) -> int | None:
    """The Kannel report type of ``status`` (1, 2, 4, 8, 16), or None when Kannel has none for it."""
    taken, not_taken = KANNEL_TYPES[status]
    return taken if smsc_took else not_taken


def smpp_date(moment: float) -> str:
    """SMPP 3.4 Appendix B's ``YYMMDDhhmm`` in UTC."""
    return time.strftime("%y%m%d%H%M", time.gmtime(moment))


def err_code(error: ErrorInfo | None) -> str:
    """A receipt's ``err:`` field: the peer's code as three digits when it is a number, else 000."""
    code = error.native_code if error is not None else None
    text = str(code) if code is not None else ""
    return f"{int(text):03d}" if text.isdigit() else "000"


def receipt_fields(event: StoredEvent, message: MessageRecord | None) -> dict[str, str]:
    """The fields of an SMPP 3.4 Appendix B receipt, from the event and its message."""
    status = event.status or S.UNKNOWN
    segments = event.segments or (message.segments if message is not None else 1) or 1
    final = status.is_final
    return {
        "id": (message.native_id if message is not None else None) or "",
        "sub": f"{segments:03d}",
        "dlvrd": f"{segments if status is S.DELIVERED else 0:03d}",
        "submit date": smpp_date(message.created_at) if message is not None else "",
        "done date": smpp_date(event.occurred_at) if final else "",
        "stat": RECEIPT_STATS.get(status, "UNKNOWN"),
        "err": err_code(event.error),
        "text": (message.message.text[:20] if message is not None else ""),
    }


def smsc_reply(event: StoredEvent, message: MessageRecord | None, report: int) -> str:
    """What Kannel's ``%A`` says: ``ACK/``, ``NACK/...`` or the receipt's text."""
    if report == SMSC_SUBMIT:
        return "ACK/"
    if report == SMSC_REJECT:
        error = event.error
        if error is None:
            return f"NACK/{event.status}" if event.status else "NACK/"
        if isinstance(error.native_code, int):
            return f"NACK/0x{error.native_code:08x}/{error.native_message}"
        code = error.native_code if error.native_code is not None else error.code.value
        return f"NACK/{code}/{error.native_message}"
    fields = receipt_fields(event, message)
    if event.native_status:
        fields["stat"] = event.native_status
    return " ".join(f"{k}:{v}" for k, v in fields.items())


def kannel_escapes(event: StoredEvent, message: MessageRecord | None, report: int) -> dict[str, str]:
    """The escapes known when a report comes (the others were filled at submit time, see escapes.py)."""
    reply = smsc_reply(event, message, report)
    parts = reply.split()
    to = event.to or (message.message.to if message is not None else "") or ""
    sender = (message.message.sender if message is not None else None) or ""
    sent = message.message if message is not None else None
    created = message.created_at if message is not None else event.occurred_at
    validity = sent.validity.total_seconds() if sent is not None and sent.validity is not None else None
    deferred = sent.scheduled_at.timestamp() if sent is not None and sent.scheduled_at is not None else None
    return {
        "d": str(report),
        "A": url_encode(reply),
        "a": "+".join(url_encode(w) for w in parts),
        "b": url_encode(reply),
        "k": url_encode(parts[0]) if parts else "",
        "s": url_encode(parts[1]) if len(parts) > 1 else "",
        "S": parts[1].replace("*", "~") if len(parts) > 1 else "",
        "r": "+".join(url_encode(w) for w in parts[2:]),
        "e": reply.encode().hex().upper(),
        "F": url_encode((message.native_id if message is not None else None) or ""),
        "I": event.message_id or "",
        "p": url_encode(to),
        "P": url_encode(sender),
        "q": url_encode("+" + to[2:]) if to.startswith("00") else url_encode(to),
        "Q": url_encode("+" + sender[2:]) if sender.startswith("00") else url_encode(sender),
        "t": time.strftime("%Y-%m-%d+%H:%M:%S", time.gmtime(event.occurred_at)),
        "T": str(int(event.occurred_at)),
        "B": url_encode(str(event.error.native_code))
        if event.error and event.error.native_code is not None
        else "",
        "v": str(int((created + validity - event.occurred_at) // 60)) if validity is not None else "",
        "V": str(int((deferred - event.occurred_at) // 60)) if deferred is not None else "",
        "f": "",  # the SMSC's own number: only a GSM modem (Kannel's AT driver) reports it
    }


class KannelFormat:
    """A Kannel ``dlr-url``: fetched with GET, the report's escapes filled in, for the mask's types only."""

    name = "kannel"
    needs_message = True  # the SMSC's id, the sender, the text: read from the message

    def request(
        self, event: StoredEvent, message: MessageRecord | None, target: CallbackTarget, secret: bytes | None
    ) -> CallbackRequest | None:
        if event.status is None:
            return None
        report = kannel_type(event.status, took(message))
        if report is None or (target.mask is not None and not report & target.mask):
            return None
        url = fill(target.url, kannel_escapes(event, message, report), final=True)
        return CallbackRequest(method="GET", url=url, headers={}, body=b"")


def jasmin_level(event: StoredEvent, message: MessageRecord | None) -> int | None:
    """1 for what the SMSC said to the submit, 2 for a receipt; None: Jasmin reports neither."""
    status = event.status
    if status is None or status in (S.QUEUED, S.MAYBE_SUBMITTED):
        return None
    if status is S.SUBMITTED or status is S.CANCELED:
        return JASMIN_SMSC
    if status in (S.REJECTED, S.FAILED) and not took(message):
        return JASMIN_SMSC
    return JASMIN_TERMINAL


def esme_status(event: StoredEvent) -> str:
    """Level 1's ``message_status``: ESME_ROK for a submit, else the SMPP name of the refusal."""
    if event.status is S.SUBMITTED:
        return "ESME_ROK"
    code = event.error.native_code if event.error is not None else None
    row = STATUS_TABLE.get(code) if isinstance(code, int) else None
    return row.name if row is not None and code != 0 else SUBMIT_FAILED


CONNECTOR = "connector"


def split_connector(url: str) -> tuple[str, str]:
    """The URL without its ``#connector=NAME`` fragment, and the name ("unknown" when there is none,
    as Jasmin says when it has none)."""
    parts = urlsplit(url)
    found = dict(parse_qsl(parts.fragment)).get(CONNECTOR)
    return urlunsplit(parts._replace(fragment="")), found or "unknown"


def with_connector(url: str, transport: str) -> str:
    """``url`` carrying the transport's name for the report (see :func:`split_connector`)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(fragment=urlencode({CONNECTOR: transport})))


class JasminFormat:
    """A Jasmin DLR: level 1 and/or 2 as the target's mask (``dlr-level``) asks, GET or POST."""

    name = "jasmin"
    needs_message = True

    def request(
        self, event: StoredEvent, message: MessageRecord | None, target: CallbackTarget, secret: bytes | None
    ) -> CallbackRequest | None:
        level = jasmin_level(event, message)
        wanted = target.mask if target.mask is not None else JASMIN_BOTH
        if level is None or not (wanted == JASMIN_BOTH or wanted == level):
            return None
        url, connector = split_connector(target.url)
        args = {"id": event.message_id or "", "level": str(level), "connector": connector}
        if level == JASMIN_SMSC:
            args["message_status"] = esme_status(event)
        else:
            fields = receipt_fields(event, message)
            args["message_status"] = fields["stat"]
            args |= {
                "id_smsc": fields["id"],
                "sub": fields["sub"],
                "dlvrd": fields["dlvrd"],
                "subdate": fields["submit date"],
                "donedate": fields["done date"],
                "err": fields["err"],
                "text": fields["text"],
            }
        encoded = urlencode(args)
        if target.method == "GET":
            parts = urlsplit(url)
            query = f"{parts.query}&{encoded}" if parts.query else encoded
            return CallbackRequest(
                "GET", urlunsplit(parts._replace(query=query)), {"Accept": "text/plain"}, b""
            )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/plain"}
        return CallbackRequest("POST", url, headers, encoded.encode())


KANNEL: CallbackFormat = KannelFormat()
JASMIN: CallbackFormat = JasminFormat()
