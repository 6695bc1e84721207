"""Reading recipient CSV files, with errors a user can act on.

Spreadsheets export CSV in many shapes: a UTF-8 BOM, UTF-16 with its BOM
(Excel's "Unicode text"), semicolons instead of commas (European locales), a
header in odd case with spaces. This reader accepts those and turns the rest
(wrong encoding, binary data, no phone column, a repeated column, no header)
into one-line ConfigErrors that name the file, and the line where it matters.

The file is read as a stream, one physical line at a time with a cap on the
line length, so ``/dev/zero`` or a mistaken binary ends with an error at once
instead of filling memory. A record is one line: a quoted field that does not
close on its line (a stray ``"`` in a name) would otherwise swallow every
following line into one recipient's text, so such a record is a bad row named
by the line where its quote opened, and reading goes on from the next line.
Quoted fields spanning lines are accepted only when the caller allows it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from msgbridge.core.errors import ConfigError

DELIMITERS = ",;\t|"
# Longest physical line, and longest record when fields may span lines. The longest SMS a provider takes is
# 255 segments of at most 160 characters (40,800); a longer line is not a recipient.
MAX_LINE_CHARS = 65_536
# With multi-line fields allowed, a quoted field may span at most this many lines: a stray quote closed by
# another stray quote further down must not turn the recipients in between into one message.
MAX_RECORD_LINES = 10
SNIFF_BYTES = 4096

# Byte order marks that decide the encoding whatever --encoding says (UTF-32 first: its LE mark starts
# with UTF-16's).
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
WIDE_CODECS = ("utf-16", "utf-32")  # codec-name prefixes whose text has NUL bytes in it
# A byte the decoder could not read, as errors="surrogateescape" keeps it.
_UNDECODED = re.compile("[\udc80-\udcff]")


class CsvRow(NamedTuple):
    """One recipient record (a tuple: made once per row of a file of millions, it is the cheapest record)."""

    line: int  # 1-based line in the file where the record starts (the header is line 1)
    fields: dict[str, str]
    problem: str | None = None  # set when the record itself is malformed


@dataclass(frozen=True)
class CsvData:
    path: str
    columns: tuple[str, ...]
    phone_column: str  # as spelled in the header
    rows: tuple[CsvRow, ...]
    encoding: str = "utf-8-sig"  # the one the file was read with (a BOM can override the requested one)


def _codec_name(name: str, encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except (LookupError, ValueError) as exc:  # ValueError: a name Python cannot even look up (a NUL in it)
        raise ConfigError(f"unknown text encoding {encoding!r}") from exc


def choose_encoding(name: str, head: bytes, encoding: str) -> str:
    """The encoding to read with: a UTF-16/32 byte order mark decides; NULs without one are refused.

    A UTF-16 file read as UTF-8 fails on its first byte, and the generic advice (try cp1251) would be
    wrong; with a BOM the file says what it is, so it is decoded as such. Without one, ASCII text in
    UTF-16 has a NUL in every other byte; that is named, with the --encoding that reads it.
    """
    codec = _codec_name(name, encoding)
    if codec.startswith(WIDE_CODECS):
        return encoding
    for bom, wide in BOMS:
        if head.startswith(bom):
            if codec.startswith("utf-8"):
                return wide
            raise ConfigError(
                f"{name}: the file starts with a {wide.upper()} byte order mark, so it is not {encoding} text; "
                f"leave out --encoding (or pass --encoding {wide})"
            )
    pairs = head[: len(head) - len(head) % 2]
    if len(pairs) >= 4 and b"\x00" in pairs:
        even, odd = pairs[0::2], pairs[1::2]
        for zeros, other, variant in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
            if zeros.count(0) >= 0.9 * len(zeros) and other.count(0) <= 0.1 * len(other):
                raise ConfigError(
                    f"{name}: the file looks like UTF-16 without a byte order mark (every other byte is NUL); "
                    f"save it as UTF-8 or pass --encoding {variant}"
                )
    return encoding


class _Lines:
    """Physical lines of a text stream, numbered, checked, with push-back for re-reading."""

    def __init__(self, name: str, text: IO[str], encoding: str) -> None:
        self.name = name
        self.text = text
        self.encoding = encoding
        self.number = 0
        self.pushed: deque[tuple[int, str]] = deque()

    def pull(self) -> tuple[int, str] | None:
        if self.pushed:
            return self.pushed.popleft()
        line = self.text.readline(MAX_LINE_CHARS + 1)
        if not line:
            return None
        self.number += 1
        n = self.number
        if "\x00" in line:
            raise ConfigError(f"{self.name}: line {n} contains NUL bytes; this is not a text CSV file")
        if len(line) > MAX_LINE_CHARS:
            raise ConfigError(
                f"{self.name}: line {n} is longer than {MAX_LINE_CHARS:,} characters; this is not a recipients CSV"
            )
        bad = None if line.isascii() else _UNDECODED.search(line)
        if bad is not None:
            raise ConfigError(
                f"{self.name}: line {n} is not valid {self.encoding} (byte 0x{ord(bad.group()) - 0xDC00:02x}); "
                f"save the file as UTF-8 or pass its encoding (e.g. --encoding cp1251)"
            )
        return n, line

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self.pushed.extendleft(reversed(lines))


class _Record(NamedTuple):
    line: int
    last_line: int
    cells: list[str]
    closed: bool  # False: a quoted field was still open at the end of the file or of the allowed span


def _next_record(lines: _Lines, delimiter: str, span: int, *, quick: bool = True) -> _Record | None:
    """The next record starting at the next line, reading at most ``span`` lines for it.

    A record that is not complete within ``span`` lines is returned with ``closed=False`` and the lines
    after its first are pushed back, to be read as records of their own. ``quick=False`` reads every
    quoted record the long way (the tests hold both ways to the same records).
    """
    first = lines.pull()
    if first is None:
        return None
    if '"' not in first[1]:
        # Without a quote the csv module only splits at the delimiter: do that directly (most lines).
        return _Record(first[0], first[0], first[1].rstrip("\r\n").split(delimiter), closed=True)
    if quick:
        # Most quoted records close on their line. In strict mode the csv module raises where a quoted field
        # is still open at the end of the line (and on quoting it would read leniently), and parses the same
        # as the lenient reader below wherever it does not raise; whatever it refuses is read below.
        with contextlib.suppress(csv.Error):
            cells = next(csv.reader((first[1],), delimiter=delimiter, strict=True))
            return _Record(first[0], first[0], cells, closed=True)
    consumed = [first]
    ended = False

    def feed() -> Iterator[str]:
        nonlocal ended
        yield first[1]
        size = len(first[1])
        while len(consumed) < span:
            nxt = lines.pull()
            if nxt is None:
                break
            consumed.append(nxt)
            size += len(nxt[1])
            if size > MAX_LINE_CHARS:
                break
            yield nxt[1]
        ended = True  # the reader asked for more than it may have: the quoted field never closed

    cells = next(csv.reader(feed(), delimiter=delimiter), [])
    if ended:
        lines.push_back(consumed[1:])
        return _Record(first[0], first[0], cells, closed=False)
    return _Record(first[0], consumed[-1][0], cells, closed=True)


def _open_quote(cells: list[str]) -> list[str]:
    """The cells of a record whose quote never closed, cut at the line break (for the bad row's phone)."""
    return [c.split("\n", 1)[0].split("\r", 1)[0] for c in cells]


class CsvStream:
    """An open recipients file: its header, and its records read one at a time (once).

    What ``campaign run`` prepares from: the file is never held whole, so a campaign of any size reads in
    the memory of one record. ``rows()`` raises, once the file ends, if it had no data line at all.
    """

    def __init__(
        self, name: str, lines: _Lines, columns: tuple[str, ...], phone_column: str, delimiter: str, span: int
    ) -> None:
        self.path = name
        self.columns = columns
        self.phone_column = phone_column
        self.encoding = lines.encoding
        self._lines = lines
        self._delimiter = delimiter
        self._span = span

    def rows(self) -> Iterator[CsvRow]:
        name, lines, columns = self.path, self._lines, self.columns
        named = tuple((i, col) for i, col in enumerate(columns) if col)
        seen = 0
        try:
            while (record := _next_record(lines, self._delimiter, self._span)) is not None:
                row = _row(record, columns, named, self._span > 1)
                if row is not None:
                    seen += 1
                    yield row
        except UnicodeDecodeError as exc:  # a decoder that refuses even with surrogateescape (UTF-16 halves)
            raise ConfigError(f"{name}: the file is not valid {self.encoding} ({exc.reason})") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read CSV {name}: {exc.strerror or exc}") from exc
        if not seen:
            raise ConfigError(f"{name}: no recipients: the file has a header and no data lines")


@contextmanager
def open_csv(
    path: str | Path,
    *,
    phone_column: str = "phone",
    encoding: str = "utf-8-sig",
    allow_multiline: bool = False,
) -> Iterator[CsvStream]:
    """Open a recipients file and read its header; the phone column is found case-insensitively.

    Header problems (no phone column, a repeated column, not text) are raised here, before any record is
    read. ``allow_multiline`` accepts quoted fields that span lines (up to MAX_RECORD_LINES); without it such
    a record is a bad row, since an SMS built from it would carry a line break the user did not ask for.
    """
    name = str(path)
    try:
        raw = open(path, "rb")
    except FileNotFoundError as exc:
        raise ConfigError(f"cannot read CSV {name}: no such file") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"cannot read CSV {name}: it is a directory") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read CSV {name}: {exc.strerror or exc}") from exc
    try:
        try:
            head = raw.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        except OSError as exc:
            raise ConfigError(f"cannot read CSV {name}: {exc.strerror or exc}") from exc
        used = choose_encoding(name, head, encoding)
        text = io.TextIOWrapper(raw, encoding=used, errors="surrogateescape", newline="")
    except BaseException:
        raw.close()
        raise
    with text:
        lines = _Lines(name, text, used)
        try:
            delimiter, columns = _header(name, lines, phone_column)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{name}: the file is not valid {used} ({exc.reason})") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read CSV {name}: {exc.strerror or exc}") from exc
        wanted = phone_column.strip().lower()
        found = [c for c in columns if c.lower() == wanted]
        if not found:
            shown = ", ".join(repr(c) for c in columns if c) or "(none)"
            raise ConfigError(
                f"{name}: no {phone_column!r} column; the header has {shown} (choose one with --phone-column)"
            )
        span = MAX_RECORD_LINES if allow_multiline else 1
        yield CsvStream(name, lines, columns, found[0], delimiter, span)


def read_csv(
    path: str | Path,
    *,
    phone_column: str = "phone",
    encoding: str = "utf-8-sig",
    allow_multiline: bool = False,
) -> CsvData:
    """A whole (small) recipients file in memory; ``open_csv`` reads one of any size record by record."""
    with open_csv(
        path, phone_column=phone_column, encoding=encoding, allow_multiline=allow_multiline
    ) as csv_:
        rows = tuple(csv_.rows())
        return CsvData(
            path=csv_.path,
            columns=csv_.columns,
            phone_column=csv_.phone_column,
            rows=rows,
            encoding=csv_.encoding,
        )


def _header(name: str, lines: _Lines, phone_column: str) -> tuple[str, tuple[str, ...]]:
    """(delimiter, columns) from the first non-blank line."""
    while True:
        got = lines.pull()
        if got is None:
            raise ConfigError(
                f"{name}: the file is empty (expected a header line with a {phone_column!r} column)"
            )
        if got[1].strip():
            break
    n, first = got
    # The header decides the delimiter: csv.Sniffer guesses wrong on files whose rows are ragged.
    delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
    lines.push_back([got])
    record = _next_record(lines, delimiter, 1)
    assert record is not None
    if not record.closed:
        raise ConfigError(f"{name}: line {n}: the header has a quote that is not closed on its line")
    columns = tuple(h.strip().lstrip("\ufeff") for h in record.cells)
    seen: dict[str, int] = {}
    for i, col in enumerate(columns, 1):
        if not col:
            continue
        if col.lower() in seen:
            raise ConfigError(
                f"{name}: line {n}: column {col!r} appears twice in the header (columns {seen[col.lower()]} "
                f"and {i}); rename one"
            )
        seen[col.lower()] = i
    return delimiter, columns


def _row(
    record: _Record, columns: tuple[str, ...], named: tuple[tuple[int, str], ...], allow_multiline: bool
) -> CsvRow | None:
    """The recipient row of one record (None for a blank line), with its problem if it is malformed.
    ``named``: (index, name) of each column that has a name."""
    closed = record.closed
    cells = record.cells if closed else _open_quote(record.cells)
    if closed and not "".join(cells).strip():
        return None
    problem = None
    if not closed:
        more = (
            f"within {MAX_RECORD_LINES} lines (a field may span lines with --allow-multiline, up to that)"
            if allow_multiline
            else "on this line (a stray quote? a field spanning lines needs --allow-multiline)"
        )
        problem = f"a quote opens a field that is not closed {more}"
    elif len(cells) > len(columns):
        problem = f"{len(cells)} fields but the header has {len(columns)}"
    # A short record lacks its last fields (None in a template: an error naming the row), not blanks.
    fields = {col: cells[i].strip() for i, col in named if i < len(cells)}
    return CsvRow(record.line, fields, problem)
