"""A mail as an SMS: the text a person meant to send, without the mail around it.

Mail clients wrap a one-line note in MIME parts, HTML, quoted history,
signatures and "Sent from my phone" footers; an SMS has room for none of it.
The standard library does the decoding (transfer encodings, charsets,
RFC 2047 subjects); this module only decides what to keep.

Two things never reach an SMS. Control characters (NUL, ESC, BEL, BS...)
are removed: on a phone they are garbage at best and a terminal escape
sequence at worst wherever the text is shown later; line breaks and the
whitespace controls stay for ``collapse`` to normalise. And a base64 text part
that does not decode to text is refused (``Undecodable``) rather than sent as
the noise it decodes to.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.policy
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from html.parser import HTMLParser

SUBJECT_POLICIES = ("ignore", "prepend", "fallback")

# Whitespace controls that ``collapse`` turns into spaces and line breaks; every other C0, DEL and C1 goes.
WHITESPACE_CONTROLS = "\t\n\r\x0b\x0c"
_STRIP: dict[int, None] = {
    code: None for code in (*range(0x20), *range(0x7F, 0xA0)) if chr(code) not in WHITESPACE_CONTROLS
}
# A base64 part whose decoded text is more than this share control characters is binary, not text.
MAX_CONTROL_SHARE = 0.05


class Undecodable(ValueError):
    """The mail's text part cannot be decoded to text; the mail is refused, not sent as garbage."""


# Footers that phones and webmail append; cut from the first one down.
FOOTERS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^sent from my \w+", re.IGNORECASE),
    re.compile(r"^sent from (outlook|yahoo mail|mail) for \w+", re.IGNORECASE),
    re.compile(r"^get outlook for \w+", re.IGNORECASE),
    re.compile(r"^отправлено с (моего )?\w+", re.IGNORECASE),
)
# "On Mon, 1 Jan 2024, Alice <a@b> wrote:" and its common translations: the quoted history starts here.
ATTRIBUTION = re.compile(
    r"^(on\b.*\bwrote:|am\b.*\bschrieb\b.*:|le\b.*\ba écrit\s*:|.*\bнаписал[а]?:?)\s*$", re.IGNORECASE
)
ORIGINAL = re.compile(
    r"^-{2,}\s*(original message|forwarded message|исходное сообщение)\s*-{2,}", re.IGNORECASE
)


class _HtmlText(HTMLParser):
    """HTML to plain text: block elements become line breaks, scripts and styles vanish."""

    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"}
    )
    SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        if tag == "blockquote":
            self._quote += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag == "blockquote" and self._quote:
            self._quote -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._quote:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def strip_replies(text: str) -> str:
    """Drop quoted lines, everything from an attribution line down, and the signature."""
    kept: list[str] = []
    for line in text.splitlines():
        bare = line.strip()
        if line.rstrip("\r") == "-- " or line.rstrip() == "--":
            break
        if ATTRIBUTION.match(bare) or ORIGINAL.match(bare) or any(f.match(bare) for f in FOOTERS):
            break
        if bare.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


def collapse(text: str) -> str:
    """One space between words, one newline between lines, no blank runs: every character costs."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class MailText:
    text: str
    subject: str
    message_id: str | None
    from_header: str | None


def parse(raw: bytes) -> Message:
    # compat32 keeps headers raw and decodes only what we ask for; the modern
    # policy parses every header into objects, which costs more than the
    # rest of the gateway's work per mail put together.
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def _text_part(msg: Message) -> Message | None:
    """The first inline text/plain part, else the first inline text/html part."""
    plain: Message | None = None
    html: Message | None = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
        if disposition == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = part
        elif ctype == "text/html" and html is None:
            html = part
    return plain or html


def strip_controls(text: str) -> str:
    """``text`` without control characters other than whitespace (tabs, line breaks)."""
    return text.translate(_STRIP)


def _decode(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "us-ascii"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    if str(part.get("Content-Transfer-Encoding", "")).strip().lower() == "base64":
        return _decode_base64_text(part, payload, charset)
    try:
        return payload.decode(charset)
    except UnicodeDecodeError:
        # Undeclared 8-bit text is UTF-8 far more often than anything else.
        return payload.decode("utf-8", errors="replace")


def _decode_base64_text(part: Message, payload: bytes, charset: str) -> str:
    """Base64 is how binary travels: its result must be text in the declared charset, or the mail is refused.

    The standard library ignores characters outside the base64 alphabet (as
    RFC 2045 6.8 says a decoder should) and adds missing padding, both
    harmless; but data of an impossible length it returns undecoded, and text
    that was never base64 decodes to bytes that are no text in any charset.
    """
    if any(isinstance(d, email.errors.InvalidBase64LengthDefect) for d in part.defects):
        raise Undecodable("the base64 data is truncated")
    for candidate in dict.fromkeys((charset, "utf-8")):  # undeclared or ASCII-declared text is often UTF-8
        try:
            text = payload.decode(candidate)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Undecodable(f"the base64 data is not {charset} text")
    controls = sum(1 for c in text if ord(c) in _STRIP)
    if text and controls / len(text) > MAX_CONTROL_SHARE:
        raise Undecodable("the base64 data is binary, not text")
    return text


def body_text(msg: Message) -> str:
    """text/plain preferred, else HTML converted; attachments ignored.

    Undecodable 8-bit bytes are replaced; an undecodable base64 part raises ``Undecodable``.
    """
    part = _text_part(msg)
    if part is None:
        return ""
    content = _decode(part)
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    return content


def extract(raw: bytes, subject_policy: str = "ignore") -> MailText:
    """The SMS text of one mail under a subject policy: ignore it, prepend it, or use it when the body is empty."""
    if subject_policy not in SUBJECT_POLICIES:
        raise ValueError(f"subject policy must be one of {SUBJECT_POLICIES}")
    msg = parse(raw)
    subject = " ".join(strip_controls(_header(msg, "Subject") or "").split())
    text = collapse(strip_replies(strip_controls(body_text(msg))))
    if subject_policy == "prepend" and subject:
        text = f"{subject}\n{text}" if text else subject
    elif subject_policy == "fallback" and not text:
        text = subject
    message_id = _header(msg, "Message-ID")
    return MailText(
        text=text,
        subject=subject,
        message_id=message_id.strip() if message_id else None,
        from_header=_header(msg, "From"),
    )


def _header(msg: Message, name: str) -> str | None:
    """A header as text with RFC 2047 words decoded, or None when absent; broken encodings are kept raw."""
    value = msg.get(name)
    if value is None:
        return None
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        return str(value)
