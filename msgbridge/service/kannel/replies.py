"""Every answer the Kannel and Jasmin fronts give, as data: HTTP status and body text.

An application written for Kannel or Jasmin reads these bodies (many compare the first characters), so
the texts are theirs, letter for letter, wherever they have one:

- Kannel user guide (Debian ``kannel-docs`` 1.4.5, ``userguide.html``, Table 7-16 "SMS Push reply codes"):
  "202 0: Accepted for delivery -- The message has been accepted and is delivered onward to a SMSC
  driver", "202 3: Queued for later delivery -- The bearerbox accepted and stored the message, but there
  was temporarily no SMSC driver to accept the message so it was queued", "4xx (varies) -- There was
  something wrong in the request", "503 Temporal failure, try again later." and, in Table 7-17,
  "Must be username of the one 'sendsms-user' group ... or results in 'Authorization failed' reply".
  The guide leaves the 4xx texts to the source: those rows quote Kannel's ``gw/smsbox.c``
  (``smsbox_req_sendsms``, ``smsbox_sendsms_post``, ``smsbox_req_handle``, ``delayed_http_reply``), where
  each refusal is ``HTTP_BAD_REQUEST`` (400) but authorization (403, ``HTTP_FORBIDDEN``) and a message
  the bearerbox cannot route (``ack_failed``: 403 "Not routable. Do not try again.").
- Jasmin HTTP API (``misc/doc/sources/apis/http/index.rst``, "HTTP response"): 200 ``Success "<id>"``,
  400 ``Error "Mandatory arguments not found, please refer to the HTTPAPI specifications."``,
  ``Error "Argument _ is unknown."``, ``Error "Argument _ has an invalid value: _."``, ``Error "Mandatory
  argument _ is not found."``, 403 ``Error "Authentication failure for username:_"``; the ``[...]``
  around names and values is how ``jasmin/protocols/http/validation.py`` fills the ``_``.

Rows marked ``MSGBRIDGE`` answer checks Kannel or Jasmin do not make (an empty text, a parameter this
gateway cannot carry, a phone number that is no phone number), in the same style, so an application's
"starts with a digit and a colon" or "starts with Error" test still reads them right.
"""

from __future__ import annotations

from typing import NamedTuple

from starlette.responses import PlainTextResponse

KANNEL_GUIDE = "kannel userguide table 7-16"
SMSBOX = "kannel gw/smsbox.c"
JASMIN = "jasmin http api"
MSGBRIDGE = "msgbridge"

# Kannel's smsbox sends ``Content-type: text/html`` with ``Pragma: no-cache`` and ``Cache-Control: no-cache``
# on every sendsms answer (smsbox.c, ``sendsms_reply_hdrs``); Jasmin answers ``text/plain``.
KANNEL_HEADERS = {"Pragma": "no-cache", "Cache-Control": "no-cache"}


class Reply(NamedTuple):
    status: int
    text: str  # may hold ``{name}`` fields, filled by :func:`answer`
    source: str  # where the text is quoted from


KANNEL_REPLIES: dict[str, Reply] = {
    "accepted": Reply(202, "0: Accepted for delivery", KANNEL_GUIDE),
    "queued": Reply(202, "3: Queued for later delivery", KANNEL_GUIDE),
    "temporary": Reply(503, "Temporal failure, try again later.", KANNEL_GUIDE),
    "not_routable": Reply(403, "Not routable. Do not try again.", SMSBOX),
    "sending_failed": Reply(500, "Sending failed.", SMSBOX),
    "authorization": Reply(403, "Authorization failed for sendsms", SMSBOX),
    "missing_to": Reply(400, "Missing receiver number, rejected", SMSBOX),
    "missing_to_post": Reply(400, "Missing receiver(s) number(s), rejected", SMSBOX),
    "empty_to": Reply(400, "Empty receiver number not allowed, rejected", SMSBOX),
    "denied": Reply(400, "Number(s) has/have been denied by white- and/or black-lists.{receivers}", SMSBOX),
    "invalid_content_type": Reply(400, "Invalid content-type", SMSBOX),
    "charset": Reply(400, "Charset or body misformed, rejected", SMSBOX),
    "udh_misformed": Reply(400, "UDH field misformed, rejected", SMSBOX),
    "dlr_url": Reply(400, "DLR-URL field misformed, rejected", SMSBOX),
    "dlr_mask": Reply(400, "DLR-Mask field misformed, rejected", SMSBOX),
    "mclass": Reply(400, "MClass field misformed, rejected", SMSBOX),
    "coding": Reply(400, "Coding field misformed, rejected", SMSBOX),
    "validity": Reply(400, "Validity field misformed, rejected", SMSBOX),
    "deferred": Reply(400, "Deferred field misformed, rejected", SMSBOX),
    "priority": Reply(400, "Priority field misformed, rejected", SMSBOX),
    "account": Reply(400, "Account field misformed or too long, rejected", SMSBOX),
    "empty_text": Reply(400, "Text field missing or empty, rejected", MSGBRIDGE),
    "text_too_long": Reply(400, "Text field too long, rejected", MSGBRIDGE),
    "misformed": Reply(400, "{field} field misformed, rejected", MSGBRIDGE),
    "unsupported": Reply(400, "{field} field not supported by this gateway, rejected", MSGBRIDGE),
}

JASMIN_REPLIES: dict[str, Reply] = {
    "success": Reply(200, 'Success "{id}"', JASMIN),
    "no_arguments": Reply(
        400, 'Error "Mandatory arguments not found, please refer to the HTTPAPI specifications."', JASMIN
    ),
    "unknown_argument": Reply(400, 'Error "Argument [{name}] is unknown."', JASMIN),
    "invalid_value": Reply(400, 'Error "Argument [{name}] has an invalid value: [{value}]."', JASMIN),
    "missing_argument": Reply(400, 'Error "Mandatory argument [{name}] is not found."', JASMIN),
    "no_content": Reply(400, 'Error "content or hex-content not present."', JASMIN),
    "both_contents": Reply(
        400, 'Error "content and hex-content cannot be used both in same request."', JASMIN
    ),
    "authentication": Reply(403, 'Error "Authentication failure for username:{username}"', JASMIN),
    "throughput": Reply(403, 'Error "User throughput exceeded"', JASMIN),
    "no_route": Reply(412, 'Error "No route found"', JASMIN),
    "unsupported": Reply(
        400, 'Error "Argument [{name}] has an unsupported value: [{value}]: {why}."', MSGBRIDGE
    ),
    "refused": Reply(400, 'Error "{why}"', MSGBRIDGE),
    "server": Reply(500, 'Error "{why}"', MSGBRIDGE),
    "unavailable": Reply(503, 'Error "{why}"', MSGBRIDGE),
}


def _filled(reply: Reply, fields: dict[str, str]) -> str:
    return reply.text.format(**fields) if fields else reply.text


def kannel(row: str, /, *, headers: dict[str, str] | None = None, **fields: str) -> PlainTextResponse:
    """Kannel's answer ``row`` (a key of :data:`KANNEL_REPLIES`) with its ``{fields}`` filled in."""
    reply = KANNEL_REPLIES[row]
    return PlainTextResponse(
        _filled(reply, fields), status_code=reply.status, media_type="text/html",
        headers={**KANNEL_HEADERS, **(headers or {})},
    )  # fmt: skip


def jasmin(row: str, /, *, headers: dict[str, str] | None = None, **fields: str) -> PlainTextResponse:
    """Jasmin's answer ``row`` (a key of :data:`JASMIN_REPLIES`) with its ``{fields}`` filled in."""
    reply = JASMIN_REPLIES[row]
    return PlainTextResponse(_filled(reply, fields), status_code=reply.status, headers=headers)


class Refused(Exception):
    """A request refused while it is read: the answer to give, and nothing was queued."""

    def __init__(self, response: PlainTextResponse) -> None:
        super().__init__(bytes(response.body).decode())
        self.response = response
