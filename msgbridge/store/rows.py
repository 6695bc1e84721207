"""Rows as both backends write and read them: named, in one column order, converted in one place.

A row read back is a NamedTuple built from the driver's row (a sqlite3 tuple
or an asyncpg Record alike), so code reads ``row.native_ids``, never
``row[4]``. The column lists below are the SELECT lists: the NamedTuple's
fields are the columns, in order.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, NamedTuple

from msgbridge.core import records
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import redact
from msgbridge.store.base import CampaignRecord, MessageRecord

# Row text -> status by dict lookup: Enum(value) and .value are slow on hot paths. Statuses are
# bound to statements as the members themselves (a StrEnum is a str).
STATUS_BY_VALUE: dict[str, DeliveryStatus] = {s.value: s for s in DeliveryStatus}
_STATUS = STATUS_BY_VALUE

History = tuple[tuple[float, DeliveryStatus, str], ...]


def columns(row: type[Any], prefix: str = "") -> str:
    """A NamedTuple's fields as a SELECT list, each with ``prefix`` (a table alias and a dot)."""
    return ", ".join(prefix + name for name in row._fields)


# -- errors ------------------------------------------------------------------

_NO_ERROR: tuple[None, None, None, None] = (None, None, None, None)


def error_columns(error: ErrorInfo | None) -> tuple[str | None, str | None, str | None, float | None]:
    """(code, native code as JSON, native text, retry-after): the four error columns of ``messages``."""
    if error is None:
        return _NO_ERROR
    return error.code.value, json.dumps(error.native_code), error.native_message, error.retry_after


def error_from(
    code: str | None, native: str | None, text: str | None, retry: float | None
) -> ErrorInfo | None:
    if code is None:
        return None
    native_code = json.loads(native) if native is not None else None
    return ErrorInfo(
        code=ErrorCode(code), native_code=native_code, native_message=text or "", retry_after=retry
    )


def error_json(error: ErrorInfo | None) -> str | None:
    """A parked receipt's error, whole (``receipts.error``)."""
    return records.dump_json(error) if error is not None else None


# -- messages ----------------------------------------------------------------


class MessageRow(NamedTuple):
    """``messages`` as a record is read from it: what claim() returns and get() starts from."""

    id: str
    status: str
    attempts: int
    native_id: str | None
    native_ids: str | None  # JSON list, multi-part messages only
    link: str | None
    segments: int
    error_code: str | None
    error_native_code: str | None
    error_text: str | None
    error_retry_after: float | None
    created_at: float
    updated_at: float

    def record(self, message: Message, history: History = ()) -> MessageRecord:
        return MessageRecord(
            message,
            _STATUS[self.status],
            self.attempts,
            self.native_id,
            tuple(json.loads(self.native_ids)) if self.native_ids else (),
            self.link,
            self.segments,
            None
            if self.error_code is None
            else error_from(self.error_code, self.error_native_code, self.error_text, self.error_retry_after),
            self.created_at,
            self.updated_at,
            history,
        )


def message_columns(prefix: str = "") -> str:
    """MessageRow's SELECT list: ``messages`` keeps the link as a ``words`` id (``link_id``)."""
    return ", ".join(prefix + ("link_id" if name == "link" else name) for name in MessageRow._fields)


MESSAGE_COLUMNS = message_columns()


def message_of(body: str | Message) -> Message:
    return body if isinstance(body, Message) else Message.model_validate_json(body)


# -- the trail: a message's status changes on its own row -------------------
# One line per change, appended by the UPDATE that changes the status: that UPDATE rewrites the row
# anyway, whereas a row of its own per change was a b-tree insert at a random place (message ids are
# random) and a page more for every commit to write. Since schema version 3 a line is short:
#
#     <microseconds since created_at><status letter><note>\n
#
# the note written as "" for "result", "r<x>" for "receipt <x>" and "=<note>" for anything else, with
# backslash and newline escaped, so lines never split. (Version 2 wrote ``[at, "STATUS", "note"]`` JSON
# lines: ``v2_trail_entries`` reads them for the migration.)

APPEND_TRAIL = (
    "trail = COALESCE(trail, '') || CAST(? - CAST(round(created_at * 1000000) AS BIGINT) AS TEXT) || ?"
)

# The letters are stored: append only, never change one.
STATUS_LETTER: dict[DeliveryStatus, str] = {
    DeliveryStatus.QUEUED: "Q",
    DeliveryStatus.SUBMITTED: "S",
    DeliveryStatus.MAYBE_SUBMITTED: "M",
    DeliveryStatus.ACCEPTED: "A",
    DeliveryStatus.DELIVERED: "D",
    DeliveryStatus.PARTIALLY_DELIVERED: "P",
    DeliveryStatus.UNDELIVERABLE: "U",
    DeliveryStatus.REJECTED: "R",
    DeliveryStatus.EXPIRED: "E",
    DeliveryStatus.DELETED: "X",
    DeliveryStatus.CANCELED: "C",
    DeliveryStatus.FAILED: "F",
    DeliveryStatus.UNKNOWN: "K",
}
_BY_LETTER = {letter: status for status, letter in STATUS_LETTER.items()}
_LINE = re.compile(r"(-?\d+)([A-Z])(.*)")


def micros(at: float) -> int:
    return round(at * 1_000_000)


@functools.lru_cache(maxsize=4096)
def _note_text(note: str) -> str:
    if note == "result":
        return ""
    escaped = note.replace("\\", "\\\\").replace("\n", "\\n")
    return "r" + escaped[8:] if note.startswith("receipt ") else "=" + escaped


def _note_of(text: str) -> str:
    if not text:
        return "result"
    note = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text[1:])
    return "receipt " + note if text[0] == "r" else note


def trail_tail(status: DeliveryStatus, note: str) -> str:
    """A trail line less its time (which the UPDATE writes, relative to the row's created_at)."""
    return f"{STATUS_LETTER[status]}{_note_text(note)}\n"


def trail_line(at_us: int, created_at: float, status: DeliveryStatus, note: str) -> str:
    """A whole line, as the UPDATE that appends one writes it."""
    return f"{at_us - micros(created_at)}{trail_tail(status, note)}"


def trail_entries(text: str | None, created_at: float) -> list[tuple[float, DeliveryStatus, str]]:
    out = []
    base = micros(created_at)
    # split, not splitlines: a note may hold a form feed or U+2028, which only splitlines splits at.
    for line in (text or "").split("\n")[:-1]:
        m = _LINE.fullmatch(line)
        if m is None:
            raise ValueError(f"not a trail line: {line!r}")
        delta, letter, note = m.groups()
        out.append(((base + int(delta)) / 1_000_000, _BY_LETTER[letter], _note_of(note)))
    return out


def v2_trail_entries(text: str | None) -> list[tuple[float, DeliveryStatus, str]]:
    """A schema-version-2 trail (JSON lines), for the migration."""
    out = []
    for line in (text or "").splitlines():
        at, status, note = json.loads(line)
        out.append((float(at), _STATUS.get(status, DeliveryStatus.UNKNOWN), str(note)))
    return out


# -- parked receipts ---------------------------------------------------------


class ParkedRow(NamedTuple):
    """A receipt kept in ``receipts`` until the send result naming its native id is recorded."""

    id: int
    link: str
    native_id: str
    status: str
    native_status: str
    error: str | None
    message_hint: str | None
    received_at: float

    def receipt(self) -> DeliveryReceipt:
        return DeliveryReceipt(
            link=self.link,
            native_id=self.native_id,
            status=_STATUS[self.status],
            native_status=self.native_status,
            error=records.load_json(ErrorInfo, self.error) if self.error else None,
            message_id=self.message_hint,
            received_at=self.received_at,
        )


PARKED_COLUMNS = columns(ParkedRow)


def parked_params(r: DeliveryReceipt) -> tuple[Any, ...]:
    """``ParkedRow`` less its id, and ``matched`` false: the receipts INSERT."""
    return (
        r.link,
        r.native_id,
        r.status,
        r.native_status,
        error_json(r.error),
        r.message_id,
        r.received_at,
        False,
    )


# -- campaigns and inbound ---------------------------------------------------


class CampaignRow(NamedTuple):
    name: str
    template: str
    sender: str | None
    transport: str | None
    created_at: float
    options: str  # JSON object

    def record(self) -> CampaignRecord:
        return CampaignRecord(
            name=self.name,
            template=self.template,
            sender=self.sender,
            transport=stored_transport(self.transport),
            created_at=self.created_at,
            options=json.loads(self.options),
        )

    @classmethod
    def of(cls, record: CampaignRecord) -> CampaignRow:
        return cls(
            record.name,
            record.template,
            record.sender,
            stored_transport(record.transport),
            record.created_at,
            json.dumps(record.options),
        )


CAMPAIGN_COLUMNS = columns(CampaignRow)


def stored_transport(transport: str | None) -> str | None:
    """What the ``campaigns.transport`` column may hold: a config name or a URL without its secret.

    Applied on write and on read, so neither a caller that passes a full URL
    nor a row written before this rule can bring a password back to a screen.
    """
    return redact(transport) if transport else transport


class InboundRow(NamedTuple):
    id: str
    source: str
    destination: str
    text: str
    link: str
    received_at: float
    parts: int
    raw: str | None  # JSON

    def message(self) -> InboundMessage:
        return InboundMessage(
            id=self.id,
            source=self.source,
            destination=self.destination,
            text=self.text,
            link=self.link,
            received_at=self.received_at,
            parts=self.parts,
            raw=json.loads(self.raw) if self.raw else None,
        )

    @classmethod
    def of(cls, m: InboundMessage) -> InboundRow:
        raw = json.dumps(m.raw, default=str) if m.raw is not None else None
        return cls(m.id, m.source, m.destination, m.text, m.link, m.received_at, m.parts, raw)


INBOUND_COLUMNS = columns(InboundRow)
