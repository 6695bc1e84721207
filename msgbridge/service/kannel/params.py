"""Reading a Kannel ``sendsms`` request and a Jasmin ``send`` request into plain values, in their order.

Kannel (user guide, Debian ``kannel-docs`` 1.4.5, "Using the HTTP interface to send SMS messages" and
Table 7-17 "SMS Push (send-sms) CGI Variables"; the order of the checks and their texts from
``gw/smsbox.c``):

- GET: "the URL looks something like this: http://smsbox.host.name:13013/cgi-bin/sendsms?
  username=foo&password=bar&to=0123456&text=Hello+world". ``username (or user)``, ``password (or
  pass)``; ``dlrmask`` and ``dlrurl`` are the deprecated spellings of ``dlr-mask`` and ``dlr-url``.
- POST: smsbox reads the body as the text and the other variables from X-Kannel headers (Table 7-11:
  ``X-Kannel-Username``, ``X-Kannel-To``, ``X-Kannel-DLR-Mask`` ...; "charset as in Content-Type:
  text/html; charset=ISO-8859-1"; ``text/plain`` defaults coding to 7 bits, ``application/octet-stream``
  to 8 bits). A body sent as an HTML form (``application/x-www-form-urlencoded``) is read like a GET's
  query here; Kannel itself would answer "Invalid content-type", which is also what any other type
  (``text/html``, ``text/xml``) gets.
- "to: ... To send to multiple receivers, separate each entry with space (' ', '+' url-encoded)";
  only ``sendsms-chars`` may appear in a number, by default "0123456789 +-".
- "charset: Charset of text message ... Defaults to UTF-8 if coding is 7 bits and UTF-16BE if coding is
  UCS-2." So the text's bytes are decoded from ``charset`` (the query is read as bytes for that).
- "coding: Accepts values 0 to 2, for 7bit, 8bit or UCS-2. If unset, defaults to 7 bits unless a udh is
  defined"; "validity: number (minutes) ... only try to send the message for this many minutes";
  "deferred: number (minutes) ... the SMS center will postpone the message to be delivered at now plus
  this many minutes"; "mclass: Accepts values between 0 and 3"; "priority: range 0-3 is allowed
  (Defaults to 0, which is the lowest priority)"; "dlr-mask ... 1: Delivered to phone, 2: Non-Delivered
  to Phone, 4: Queued on SMSC, 8: Delivered to SMSC, 16: Non-Delivered to SMSC"; "dlr-url: If dlr-mask
  is given, this is the url to be fetched. (Must be url-encoded)".
- Numbers are read as C's ``sscanf("%d")`` reads them (smsbox does): leading blanks, a sign, digits,
  anything after ignored; no number at all leaves the variable unset.

What msgbridge cannot carry is refused naming the field, never dropped in silence: a UDH, 8-bit data
(``coding=1``), a message class, MWI, compression, PID, alt-DCS, RPI, billing info, meta-data, and a
priority above 0 (msgbridge sends every message at priority 0). A GSM-7 or UCS-2 text is chosen by the
transport from the text itself, so ``coding=0`` and ``coding=2`` both send the text as it was decoded.

Jasmin (``misc/doc/sources/apis/http/index.rst``, "HTTP request parameters", and the checks of
``jasmin/protocols/http/endpoints/send.py``): ``to`` (one address, ``^\\+{0,1}\\d+$``), ``from``,
``coding`` (0-14 as SMPP data_coding, default 0), ``username``, ``password``, ``priority`` (0-3), ``sdt``,
``validity-period`` (minutes), ``dlr`` (yes/no), ``dlr-url``, ``dlr-level`` (1: SMS-C level, 2: terminal
level, 3: both), ``dlr-method`` (GET/POST), ``tags``, ``content`` or ``hex-content``, ``custom_tlvs``; an
argument not in this list is refused. "If a DLR is requested (dlr = 'yes'), dlr-url MUST be set, if not,
dlr value is reconsidered as 'no'"; ``dlr-url`` or ``dlr-level`` given means ``dlr=yes``; a DLR without
``dlr-level`` is level 1 and without ``dlr-method`` POST. Content bytes are in the coding's character set
(the documentation's UCS-2 example sends UTF-16BE bytes with ``coding=8``).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message as MimeHeader
from urllib.parse import parse_qsl

from starlette.requests import Request

from msgbridge.core.callbacks import callback_problem
from msgbridge.service.kannel.replies import Refused, jasmin, kannel

# -- raw arguments ---------------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

Args = dict[str, bytes]  # a request's variables, each the first value given, as the bytes sent


def cgi_args(query: bytes | str) -> Args:
    """The variables of a query string or form body, each value as the raw bytes it encodes."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    out: Args = {}
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
        out.setdefault(name, value.encode("latin-1"))
    return out


def content_type(request: Request) -> tuple[str, str | None]:
    """The media type (lower case) and its ``charset`` parameter."""
    header = MimeHeader()
    header["content-type"] = request.headers.get("content-type", "")
    return header.get_content_type(), header.get_param("charset")  # type: ignore[return-value]


def cgi_int(raw: bytes | None) -> int | None:
    """``raw`` read as ``sscanf("%d")`` reads it; None when it holds no number (the variable stays unset)."""
    if raw is None:
        return None
    found = re.match(rb"\s*([+-]?\d+)", raw)
    return int(found.group(1)) if found else None


def utf8(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


# -- Kannel ----------------------------------------------------------------------------------------------

# Deprecated spellings smsbox still reads (smsbox.c: "<dlrurl> field used and deprecated").
KANNEL_ALIASES: dict[str, str] = {
    "user": "username",
    "pass": "password",
    "dlrurl": "dlr-url",
    "dlrmask": "dlr-mask",
}

# Table 7-11 "X-Kannel Headers": the POST spelling of each variable (the text is the request body).
X_KANNEL: dict[str, str] = {
    "x-kannel-username": "username",
    "x-kannel-password": "password",
    "x-kannel-from": "from",
    "x-kannel-to": "to",
    "x-kannel-udh": "udh",
    "x-kannel-smsc": "smsc",
    "x-kannel-flash": "flash",
    "x-kannel-mclass": "mclass",
    "x-kannel-mwi": "mwi",
    "x-kannel-compress": "compress",
    "x-kannel-coding": "coding",
    "x-kannel-validity": "validity",
    "x-kannel-deferred": "deferred",
    "x-kannel-dlr-mask": "dlr-mask",
    "x-kannel-dlr-url": "dlr-url",
    "x-kannel-account": "account",
    "x-kannel-pid": "pid",
    "x-kannel-alt-dcs": "alt-dcs",
    "x-kannel-binfo": "binfo",
    "x-kannel-rpi": "rpi",
    "x-kannel-priority": "priority",
    "x-kannel-meta-data": "meta-data",
}

# Variables Kannel takes and msgbridge cannot put on the wire; their names as the refusal says them.
KANNEL_UNSUPPORTED: dict[str, str] = {
    "udh": "UDH",
    "flash": "Flash",
    "mclass": "MClass",
    "mwi": "MWI",
    "compress": "Compress",
    "pid": "PID",
    "alt-dcs": "Alt-DCS",
    "rpi": "RPI",
    "binfo": "BInfo",
    "meta-data": "Meta-Data",
}
# Of those, the ones whose value 0 asks for what msgbridge sends anyway (no compression, PID 0, the 0X form
# of the DCS, no reply path): an application that sends them explicitly is not refused.
KANNEL_ZERO_IS_DEFAULT = frozenset({"compress", "pid", "alt-dcs", "rpi"})

# Each integer variable's allowed range as smsbox_req_handle checks it, and the reply naming it.
KANNEL_RANGES: dict[str, tuple[int, int, str]] = {
    "dlr-mask": (-1, 63, "dlr_mask"),
    "mclass": (-1, 3, "mclass"),
    "coding": (-1, 2, "coding"),
    "validity": (-1, 2**31 - 1, "validity"),
    "deferred": (-1, 2**31 - 1, "deferred"),
    "priority": (0, 3, "priority"),
}
SENDSMS_CHARS = frozenset("0123456789 +-")  # smsbox's default ``sendsms-chars``
ACCOUNT_MAX_LEN = 64  # smsbox.c ACCOUNT_MAX_LEN
DLR_ENABLED = 31  # bits 1+2+4+8+16: a mask without any of them asks for no report (dlr.h DLR_IS_ENABLED)
CODING_7BIT, CODING_8BIT, CODING_UCS2 = 0, 1, 2
DEFAULT_CHARSET = {CODING_7BIT: "UTF-8", CODING_UCS2: "UTF-16BE"}


@dataclass(frozen=True, slots=True)
class KannelRequest:
    """A sendsms request's variables as sent (aliases resolved), before any check."""

    args: Args
    text: bytes | None
    charset: str | None
    post: bool  # X-Kannel headers and a body (the POST form of the interface)


@dataclass(frozen=True, slots=True)
class SendSms:
    """A sendsms request that passed Kannel's checks and msgbridge's."""

    username: str
    to: tuple[str, ...]  # each receiver as given
    text: str
    sender: str | None
    coding: int  # 0 (7 bits) or 2 (UCS-2): what %c says
    charset: str  # what the text was decoded from: what %C says
    validity: int | None  # minutes
    deferred: int | None  # minutes
    smsc: str | None
    dlr_mask: int | None  # None: no report asked for (no mask, or no report bit in it, or no URL)
    dlr_url: str | None
    account: str | None


async def read_kannel(request: Request) -> KannelRequest:
    """The variables of a GET query, a form body, or a POST body with X-Kannel headers."""
    query = cgi_args(request.url.query)
    if request.method == "GET":
        args, text, charset, post = query, query.get("text"), utf8(query.get("charset")), False
    else:
        body = await request.body()
        kind, charset = content_type(request)
        if kind == FORM:
            args = {**query, **cgi_args(body)}
            text, charset, post = args.get("text"), utf8(args.get("charset")), False
        elif kind in ("text/plain", "application/octet-stream"):
            args = {
                X_KANNEL[h.lower()]: v.encode("latin-1")
                for h, v in request.headers.items()
                if h.lower() in X_KANNEL
            }
            if kind == "application/octet-stream" and "coding" not in args:
                args["coding"] = str(
                    CODING_8BIT
                ).encode()  # Table 7-11: "On application/octet-stream, defaults to 8 bits"
            text, post = body, True
        else:
            raise Refused(kannel("invalid_content_type"))
    resolved = {k: v for k, v in args.items() if k not in KANNEL_ALIASES}
    for old, new in KANNEL_ALIASES.items():  # the current spelling wins over the deprecated one
        if old in args and new not in resolved:
            resolved[new] = args[old]
    return KannelRequest(args=resolved, text=text, charset=charset, post=post)


def credentials(req: KannelRequest) -> tuple[str, str]:
    return utf8(req.args.get("username")) or "", utf8(req.args.get("password")) or ""


def receivers(req: KannelRequest) -> tuple[str, ...]:
    """``to`` split on blanks, as smsbox does; refused when missing or empty (after authorization)."""
    raw = req.args.get("to")
    if raw is None:
        raise Refused(kannel("missing_to_post" if req.post else "missing_to"))
    if not raw:
        raise Refused(kannel("empty_to"))
    numbers = tuple(raw.decode("utf-8", "replace").split())
    denied = [n for n in numbers if not SENDSMS_CHARS.issuperset(n)]
    if denied or not numbers:
        raise Refused(
            kannel("denied", receivers=" Denied receivers are: " + " ".join(denied) if denied else "")
        )
    return numbers


def check_kannel(req: KannelRequest, username: str) -> SendSms:
    """Every variable checked in smsbox's order, then what msgbridge cannot carry; raises Refused."""
    to = receivers(req)
    args = req.args
    udh = args.get("udh")
    if udh is not None and udh and len(udh) != udh[0] + 1:
        raise Refused(kannel("udh_misformed"))
    account = utf8(args.get("account"))
    if account and (len(account) > ACCOUNT_MAX_LEN or any(c in account for c in "[]\n\r")):
        raise Refused(kannel("account"))
    dlr_url = utf8(args.get("dlr-url")) or None
    if dlr_url is not None and (
        not dlr_url.lower().startswith(("http://", "https://"))
        or callback_problem(dlr_url, allow_private=True)
    ):  # Kannel checks the scheme only; a URL with no host or with credentials is refused here too
        raise Refused(kannel("dlr_url"))
    numbers: dict[str, int | None] = {}
    for name, (low, high, reply) in KANNEL_RANGES.items():
        value = cgi_int(args.get(name))
        if value is not None and not low <= value <= high:
            raise Refused(kannel(reply))
        numbers[name] = value
    for name, field in KANNEL_UNSUPPORTED.items():
        raw = args.get(name)
        if raw and not (name in KANNEL_ZERO_IS_DEFAULT and cgi_int(raw) == 0):
            raise Refused(kannel("unsupported", field=field))
    coding = numbers["coding"]
    if coding is None or coding < 0:
        coding = CODING_7BIT
    if coding == CODING_8BIT:
        raise Refused(kannel("unsupported", field="Coding=1 (8-bit data)"))
    if numbers["priority"]:
        raise Refused(kannel("unsupported", field="Priority above 0"))
    charset = req.charset or DEFAULT_CHARSET[coding]
    try:
        codecs.lookup(charset)
        text = (req.text or b"").decode(charset)
    except (LookupError, UnicodeDecodeError):
        raise Refused(kannel("charset")) from None
    if not text.strip():
        raise Refused(kannel("empty_text"))
    if numbers["validity"] == 0:  # "try to send the message for this many minutes": 0 is never
        raise Refused(kannel("validity"))
    mask = numbers["dlr-mask"]
    wanted = mask is not None and mask & DLR_ENABLED and dlr_url is not None
    validity, deferred = numbers["validity"], numbers["deferred"]
    return SendSms(
        username=username,
        to=to,
        text=text,
        sender=utf8(args.get("from")) or None,
        coding=coding,
        charset=charset.upper(),
        validity=validity if validity is not None and validity >= 0 else None,
        deferred=deferred if deferred is not None and deferred > 0 else None,
        smsc=utf8(args.get("smsc")) or None,
        dlr_mask=mask if wanted else None,
        dlr_url=dlr_url if wanted else None,
        account=account or None,
    )


# -- Jasmin ----------------------------------------------------------------------------------------------

# send.py's ``fields``: each argument, whether it is optional, and the pattern its value must match.
JASMIN_FIELDS: dict[str, tuple[bool, re.Pattern[str] | None]] = {
    "to": (False, re.compile(r"^\+{0,1}\d+$")),
    "from": (True, None),
    "coding": (True, re.compile(r"^(0|1|2|3|4|5|6|7|8|9|10|13|14){1}$")),
    "username": (False, re.compile(r"^.{1,16}$")),
    "password": (False, None),  # Jasmin: ^.{1,16}$; here the password is an API key, which is longer
    "priority": (True, re.compile(r"^[0-3]$")),
    "sdt": (True, re.compile(r"^\d{2}\d{2}\d{2}\d{2}\d{2}\d{2}\d{1}\d{2}(\+|-|R)$")),
    "validity-period": (True, re.compile(r"^\d+$")),
    "dlr": (False, re.compile(r"^(yes|no)$")),
    "dlr-url": (True, re.compile(r"^(http|https)\://.*$")),
    "dlr-level": (True, re.compile(r"^[1-3]$")),
    "dlr-method": (True, re.compile(r"^(get|post)$", re.IGNORECASE)),
    "tags": (True, re.compile(r"^([-a-zA-Z0-9,])*$")),
    "content": (True, None),
    "hex-content": (True, None),
    "custom_tlvs": (True, None),
}
# data_coding -> the character set of the content's bytes: the text codings of SMPP 3.4 §5.2.19 that a
# transport can send as text (it picks GSM-7 or UCS-2 itself); 0 is "SMSC default", which Jasmin reads
# as UTF-8 and recodes to GSM 03.38. The others (binary, JIS, pictograms, ...) are refused.
JASMIN_CODINGS: dict[int, str] = {0: "utf-8", 1: "ascii", 3: "latin-1", 8: "utf-16-be"}


@dataclass(frozen=True, slots=True)
class JasminSend:
    username: str
    password: str
    to: str
    text: str
    sender: str | None
    validity: int | None  # minutes
    scheduled: str | None  # sdt as sent (SMPP absolute or relative time)
    dlr_url: str | None  # None: no DLR
    dlr_level: int | None
    dlr_method: str


SDT = re.compile(r"^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d)(\d{2})([+R-])$")


def smpp_when(sdt: str, now: datetime) -> datetime | None:
    """An SMPP 3.4 §7.1 time (``YYMMDDhhmmsstnnp``) as a moment; None when it names no valid date.

    Absolute: ``nn`` quarter hours ``p`` (``+``/``-``) of UTC. Relative (``R``): years, months, days ...
    from ``now``, a year read as 365 days and a month as 30 (as msgbridge writes relative times).
    """
    found = SDT.match(sdt)
    if found is None:
        return None
    yy, mo, dd, hh, mi, ss, tenths, nn = (int(g) for g in found.groups()[:8])
    sign = found.group(9)
    if sign == "R":
        return now + timedelta(days=yy * 365 + mo * 30 + dd, hours=hh, minutes=mi, seconds=ss)
    offset = timedelta(minutes=15 * nn) * (1 if sign == "+" else -1)
    try:
        local = datetime(2000 + yy, mo, dd, hh, mi, ss, tenths * 100_000, tzinfo=UTC)
    except ValueError:
        return None
    return local - offset


async def jasmin_args(request: Request) -> dict[str, str]:
    """The arguments of a GET query, a form body or a JSON object (send.py reads all three)."""
    args = {k: v.decode("utf-8", "surrogateescape") for k, v in cgi_args(request.url.query).items()}
    if request.method == "POST":
        body = await request.body()
        kind, _ = content_type(request)
        if kind == JSON:
            try:
                data = json.loads(body)
            except ValueError:
                raise Refused(jasmin("refused", why="the body is not JSON")) from None
            if not isinstance(data, dict):
                raise Refused(jasmin("refused", why="the JSON body is not an object"))
            args.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
        else:
            args.update({k: v.decode("utf-8", "surrogateescape") for k, v in cgi_args(body).items()})
    return args


def check_jasmin(args: Mapping[str, str]) -> JasminSend:
    """send.py's defaults and validation, then the content decoded; raises Refused."""
    values = dict(args)
    values.setdefault("coding", "0")
    if "dlr-url" in values or "dlr-level" in values:
        values["dlr"] = "yes"
    values.setdefault("dlr", "no")
    if values["dlr"] == "yes":
        values.setdefault("dlr-level", "1")
        values.setdefault("dlr-method", "POST")
    if "dlr-method" in values:
        values["dlr-method"] = values["dlr-method"].upper()
    if not args:
        raise Refused(jasmin("no_arguments"))
    for name in values:
        if name not in JASMIN_FIELDS:
            raise Refused(jasmin("unknown_argument", name=name))
    for name, (optional, pattern) in JASMIN_FIELDS.items():
        if name in values:
            if pattern is not None and pattern.match(values[name]) is None:
                raise Refused(jasmin("invalid_value", name=name, value=values[name]))
        elif not optional:
            raise Refused(jasmin("missing_argument", name=name))
    if "content" not in values and "hex-content" not in values:
        raise Refused(jasmin("no_content"))
    if "content" in values and "hex-content" in values:
        raise Refused(jasmin("both_contents"))
    if values.get("custom_tlvs") not in (None, "", "[]"):
        raise Refused(
            jasmin(
                "unsupported",
                name="custom_tlvs",
                value=values["custom_tlvs"],
                why="TLVs are not sent by this gateway",
            )
        )
    coding = int(values["coding"])
    charset = JASMIN_CODINGS.get(coding)
    if charset is None:
        raise Refused(
            jasmin(
                "unsupported",
                name="coding",
                value=str(coding),
                why="only text codings 0, 1, 3 and 8 are sent",
            )
        )
    try:
        if "hex-content" in values:
            data = bytes.fromhex(values["hex-content"])
        else:
            data = values["content"].encode("utf-8" if coding == 0 else "latin-1", "surrogateescape")
        text = data.decode(charset)
    except (ValueError, UnicodeError):
        name = "hex-content" if "hex-content" in values else "content"
        raise Refused(jasmin("invalid_value", name=name, value=f"not {charset} text")) from None
    if not text.strip():
        raise Refused(jasmin("refused", why="the content is empty"))
    if values.get("validity-period") is not None and int(values["validity-period"]) == 0:
        raise Refused(jasmin("invalid_value", name="validity-period", value="0"))
    dlr = values["dlr"] == "yes" and bool(values.get("dlr-url"))
    if dlr and callback_problem(values["dlr-url"], allow_private=True) is not None:
        raise Refused(jasmin("invalid_value", name="dlr-url", value=values["dlr-url"]))
    validity = values.get("validity-period")
    return JasminSend(
        username=values["username"],
        password=values["password"],
        to=values["to"],
        text=text,
        sender=values.get("from") or None,
        validity=int(validity) if validity is not None else None,
        scheduled=values.get("sdt"),
        dlr_url=values["dlr-url"] if dlr else None,
        dlr_level=int(values["dlr-level"]) if dlr else None,
        dlr_method=values.get("dlr-method", "POST"),
    )
