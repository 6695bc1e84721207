"""SMSC.ru replies in any of the four ``fmt`` formats (0 text, 1 comma list, 2 XML, 3 JSON), read to one shape.

We always ask for ``fmt=3`` but can read all four; errors come back as HTTP
200 with a numeric code. Nothing here raises on what the provider said: an
unreadable reply is ``malformed``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from msgbridge.adapters.http.replies import Reply, parse_json
from msgbridge.adapters.http.smsc.tables import ERRORS, FMT1_COLUMNS, NATIVE_TEXT_LIMIT
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo


@dataclass(frozen=True)
class SmscReply:
    """One reply in any ``fmt``, reduced to the same shape.

    ``rows`` holds one mapping per record (one for a single answer, many for
    lists); ``error_code`` is the provider's N when it said ``ERROR``;
    ``malformed`` marks a reply we could not read at all.
    """

    rows: tuple[dict[str, object], ...] = ()
    error_code: int | None = None
    error_text: str = ""
    error_id: str | None = None
    malformed: bool = False
    raw: str = ""

    @property
    def ok(self) -> bool:
        return self.error_code is None and not self.malformed

    def first(self) -> dict[str, object]:
        return self.rows[0] if self.rows else {}


def _truncate(text: str) -> str:
    return text if len(text) <= NATIVE_TEXT_LIMIT else text[:NATIVE_TEXT_LIMIT] + "..."


def _malformed(text: str, why: str) -> SmscReply:
    return SmscReply(malformed=True, error_text=f"{why}: {_truncate(text)!r}", raw=_truncate(text))


_FMT0_ERROR = re.compile(r"^ERROR\s*=\s*(-?\d+)\s*(?:\((.*?)\))?\s*(?:,\s*ID\s*-\s*(\S+))?\s*$")
_FMT0_SEND = re.compile(
    r"^OK\s*-\s*(\d+)\s*SMS\s*,\s*ID\s*-\s*(\S+?)(?:\s*,\s*COST\s*-\s*([\d.]+))?(?:\s*,\s*BALANCE\s*-\s*([\d.]+))?\s*$"
)


def _parse_fmt0(text: str) -> SmscReply:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    m = _FMT0_ERROR.match(lines[0])
    if m:
        return SmscReply(
            error_code=int(m.group(1)), error_text=m.group(2) or "", error_id=m.group(3), raw=text
        )
    rows: list[dict[str, object]] = []
    for line in lines:
        m = _FMT0_SEND.match(line)
        if m:
            row: dict[str, object] = {"cnt": m.group(1), "id": m.group(2)}
            if m.group(3):
                row["cost"] = m.group(3)
            if m.group(4):
                row["balance"] = m.group(4)
            rows.append(row)
            continue
        if line == "OK":
            rows.append({"result": "OK"})
            continue
        if "=" not in line:
            # balance.php answers a bare number
            rows.append({"value": line})
            continue
        row = {}
        for part in line.split(", "):
            key, sep, value = part.partition("=")
            if not sep:
                return _malformed(text, "unreadable fmt=0 line")
            row[key.strip().lower()] = value.strip()
        rows.append(row)
    return SmscReply(rows=tuple(rows), raw=text)


def _parse_fmt1(text: str, columns: Sequence[str]) -> SmscReply:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0].split(",")
    if len(first) == 2 and re.fullmatch(r"-\d+", first[1].strip()):
        sms_id = first[0].strip()
        return SmscReply(
            error_code=-int(first[1]),
            error_id=sms_id if sms_id not in ("", "0") else None,
            raw=text,
        )
    rows: list[dict[str, object]] = []
    for line in lines:
        if line == "OK":
            rows.append({"result": "OK"})
            continue
        values = line.split(",")
        row: dict[str, object] = {name: value.strip() for name, value in zip(columns, values, strict=False)}
        if not columns:
            row = {str(i): v.strip() for i, v in enumerate(values)}
        rows.append(row)
    return SmscReply(rows=tuple(rows), raw=text)


def _parse_fmt2(text: str) -> SmscReply:
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        return _malformed(text, f"bad XML ({exc})")

    def flat(elem: ET.Element) -> dict[str, object]:
        return {child.tag: (child.text or "").strip() for child in elem}

    if root.tag == "list":
        return SmscReply(rows=tuple(flat(child) for child in root), raw=text)
    row = flat(root)
    if not row:
        row = {"result": (root.text or "").strip()}
    if "error_code" in row or "error" in row:
        try:
            code = int(str(row.get("error_code", "")))
        except ValueError:
            return _malformed(text, "error without a numeric code")
        return SmscReply(
            error_code=code, error_text=str(row.get("error", "")), error_id=_opt_str(row.get("id")), raw=text
        )
    return SmscReply(rows=(row,), raw=text)


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _parse_fmt3(text: str) -> SmscReply:
    data, why = parse_json(text)
    if why is not None:
        return _malformed(text, why)
    if isinstance(data, list):
        if not all(isinstance(item, dict) for item in data):
            return _malformed(text, "a list of non-objects")
        return SmscReply(rows=tuple(data), raw=text)
    if not isinstance(data, dict):
        return _malformed(text, "neither an object nor a list")
    if "error_code" in data or "error" in data:
        try:
            code = int(data.get("error_code"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _malformed(text, "error without a numeric code")
        return SmscReply(
            error_code=code,
            error_text=str(data.get("error", "")),
            error_id=_opt_str(data.get("id")),
            raw=text,
        )
    return SmscReply(rows=(data,), raw=text)


def parse_reply(text: str, fmt: int = 3, *, op: str = "") -> SmscReply:
    """Read a reply in any of the four formats. Never raises: unreadable input is ``malformed``."""
    if not text.strip():
        return _malformed(text, "empty reply")
    stripped = text.lstrip()
    if stripped[:1] == "<" and fmt != 2:
        # an HTML error page from a proxy rather than an API answer
        return _malformed(text, "HTML instead of an API reply")
    if fmt == 0:
        return _parse_fmt0(text)
    if fmt == 1:
        return _parse_fmt1(text, FMT1_COLUMNS.get(op, ()))
    if fmt == 2:
        return _parse_fmt2(text)
    if fmt == 3:
        return _parse_fmt3(text)
    raise ConfigError(f"SMSC.ru has no fmt={fmt}")


def error_info(reply: SmscReply, table: Mapping[int, ErrorCode] = ERRORS) -> ErrorInfo | None:
    """The reply's failure as data; None when the reply is a success."""
    if reply.malformed:
        return ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=reply.error_text)
    if reply.error_code is None:
        return None
    code = table.get(reply.error_code, ErrorCode.PERMANENT_FAILURE)
    return ErrorInfo(
        code=code, native_code=reply.error_code, native_message=_truncate(reply.error_text or reply.raw)
    )


def read_reply(reply: Reply, op: str) -> SmscReply | None:
    """The SMSC reply in an exchange; None when the HTTP layer failed it (a 5xx, 429, a proxy page)
    or the body could not be read as text: then ``reply.error`` says why."""
    if reply.exchange_failed or not isinstance(reply.data, str):
        return None
    return parse_reply(reply.data, 3, op=op)
