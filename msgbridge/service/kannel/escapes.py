"""Kannel's ``%`` escape codes in a ``dlr-url``, filled in two passes, and Kannel's URL encoding.

Source: the Kannel user guide (Debian ``kannel-docs`` 1.4.5), Table 7-10 "Parameters (Escape Codes)", and
where the guide says less than the program does, Kannel's ``gw/urltrans.c``
(``urltrans_fill_escape_codes``) and ``gwlib/octstr.c`` (``octstr_url_encode``):

- "%d the delivery report value", "%A the delivery report SMSC reply, if any", "%F the foreign
  (smsc-provided) message ID. Only relevant on DLR url's", "%I the SMS ID of the internal message
  structure", "%p the phone number of the sender of the SMS message", "%P the phone number of the
  receiver of the SMS message", "%t the time the message was sent, formatted as "YYYY-MM-DD HH:MM"",
  "%T the time the message was sent, in UNIX epoch timestamp format", "%i the smsc-id of the connection
  that received the message", "%n the sendsms-user or sms-service name", "%c message coding: 0 (default,
  7 bits), 1 (8 bits) or 2 (Unicode)", "%u udh of incoming message", "%B billing identifier/information
  ... for SMPP DLR it is the DLR message err component", "%o account identifier/information", "%O DCS
  (Data coding schema) value", "%D meta-data from the SMSC", "%q like %p, but a leading `00' is replaced
  with `+'", "%Q like %P ...", "%a all words of the SMS message", "%b the original SMS message, in a
  binary form (URL-encoded)", "%k the keyword", "%s next word", "%S same as %s, but '*' is converted to
  '~' ... URL encoding isn't done", "%r words not yet used by %s", "%e ... printable hexadecimal byte
  codes", "%C message charset", "%m message class bits of DCS", "%M mwi", "%R the delivery report URL
  value", "%v Validity period in minutes", "%V Deferred in minutes", "%#group#parameter#" (meta-data).
- On a delivery report Kannel keeps the original message's sender and receiver as they were
  (``dlr.c``: ``O_SET(msg->sms.receiver, dlr->destination); O_SET(msg->sms.sender, dlr->source)``) and
  ``urltrans.c`` fills ``%p`` from ``sms.receiver``, ``%P`` from ``sms.sender``: in a dlr-url ``%p`` is the
  handset the message went to and ``%P`` the sender it went from.
- ``%t`` is written ``"%04d-%02d-%02d+%02d:%02d:%02d"`` in UTC (``gw_gmtime``): the guide's "YYYY-MM-DD
  HH:MM" with seconds, the space already encoded as ``+``.
- The message text behind ``%a %b %k %s %S %r %e`` is, on a delivery report, the SMSC's reply (``msgdata``
  of the report is the reply), the same text as ``%A``.
- An escape Kannel does not know is copied as it is (``default: octstr_format_append(result, "%%%c", ...)``)
  and ``%%`` is one ``%``.
- URL encoding keeps ``A-Z a-z 0-9 - _ . ! ~ * ' ( )``, writes a space as ``+`` and every other byte as
  ``%XX`` with upper-case hex digits (RFC 2396's unreserved set, ``urlcode_init``).

Why two passes: some values are known only when the message is submitted (the transport chosen for
``%i``, the sendsms user for ``%n``, the coding asked for ``%c``), the others only when its report comes.
The front fills the first kind into the stored URL (:func:`fill` with ``final=False``, which leaves every
other escape and ``%%`` as it was and doubles each ``%`` it writes), the callback format fills the rest
(``final=True``). So nothing has to be kept for a report beside the message and its callback URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import quote_plus

# Kept as they are by octstr_url_encode beside letters and digits (quote_plus keeps "_.-~" itself).
SAFE = "!*'()"

# The escapes the front fills when the message is submitted; the callback format fills all others.
SUBMIT_TIME = frozenset("incCmMuoODR#")


def url_encode(text: str) -> str:
    """``text`` encoded as Kannel's ``octstr_url_encode`` does (UTF-8 bytes, space as ``+``)."""
    return quote_plus(text, safe=SAFE)


def meta_value(meta_data: str, group: str, name: str) -> str:
    """One parameter of Kannel meta-data (``?smpp?my-data=Hello+World&k=v?group2?...``), or ""."""
    parts = meta_data.split("?")
    for i in range(1, len(parts) - 1, 2):
        if parts[i] == group:
            for pair in parts[i + 1].split("&"):
                key, _, value = pair.partition("=")
                if key == name:
                    return value
    return ""


Filler = Callable[[str], str | None]  # an escape's letter -> its text, None: not filled by this pass


def fill(template: str, values: Mapping[str, str] | Filler, *, final: bool, meta_data: str = "") -> str:
    """``template`` with the escapes that ``values`` knows replaced.

    ``final=False``: unknown escapes and ``%%`` stay, and every ``%`` in a filled value is doubled, so the
    final pass reads the value as text. ``final=True``: unknown escapes stay as Kannel leaves them and
    ``%%`` becomes ``%``. ``%#group#param#`` reads ``meta_data`` (in the pass that has ``"#"`` in values).
    """
    lookup: Filler = values.get if isinstance(values, Mapping) else values
    out: list[str] = []
    pos, end = 0, len(template)
    while pos < end:
        c = template[pos]
        if c != "%" or pos + 1 >= end:
            out.append(c)
            pos += 1
            continue
        code = template[pos + 1]
        if code == "%":
            out.append("%" if final else "%%")
            pos += 2
            continue
        if code == "#" and lookup("#") is not None:
            group_end = template.find("#", pos + 2)
            name_end = template.find("#", group_end + 1) if group_end >= 0 else -1
            if name_end >= 0:
                meta = url_encode(
                    meta_value(meta_data, template[pos + 2 : group_end], template[group_end + 1 : name_end])
                )
                out.append(meta if final else meta.replace("%", "%%"))
                pos = name_end + 1
                continue
        filled = lookup(code) if code != "#" else None
        if filled is None:
            out.append(template[pos : pos + 2])
        else:
            out.append(filled if final else filled.replace("%", "%%"))
        pos += 2
    return "".join(out)
