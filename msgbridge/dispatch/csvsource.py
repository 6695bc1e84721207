"""Reading recipient CSV files, with errors a user can act on.

Spreadsheets export CSV in many shapes: a UTF-8 BOM, semicolons instead of
commas (European locales), a header in odd case with spaces. This reader
accepts those and turns the rest (wrong encoding, no phone column, no header)
into one-line ConfigErrors that name the file, and the line where it matters.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from msgbridge.core.errors import ConfigError

DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class CsvRow:
    line: int  # 1-based line in the file where the record ends (the header is line 1)
    fields: dict[str, str]
    problem: str | None = None  # set when the record itself is malformed


@dataclass(frozen=True)
class CsvData:
    path: str
    columns: tuple[str, ...]
    phone_column: str  # as spelled in the header
    rows: tuple[CsvRow, ...]


def _decode(path: str, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}: line {line} is not valid {encoding} (byte 0x{data[exc.start]:02x}); "
            f"save the file as UTF-8 or pass its encoding (e.g. --encoding cp1251)"
        ) from exc
    except LookupError as exc:
        raise ConfigError(f"unknown text encoding {encoding!r}") from exc


def read_csv(path: str | Path, *, phone_column: str = "phone", encoding: str = "utf-8-sig") -> CsvData:
    """Read a recipients file; the phone column is found case-insensitively, names are stripped of spaces."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"cannot read CSV {name}: no such file") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"cannot read CSV {name}: it is a directory") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read CSV {name}: {exc.strerror or exc}") from exc
    text = _decode(name, data, encoding)
    if not text.strip():
        raise ConfigError(
            f"{name}: the file is empty (expected a header line with a {phone_column!r} column)"
        )
    # The header decides the delimiter: csv.Sniffer guesses wrong on files whose rows are ragged.
    first = text.lstrip("\ufeff").splitlines()[0]
    delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ConfigError(f"{name}: line 1: {exc}") from exc
    columns = tuple(h.strip().lstrip("\ufeff") for h in header)
    wanted = phone_column.strip().lower()
    found = [c for c in columns if c.lower() == wanted]
    if not found:
        shown = ", ".join(repr(c) for c in columns if c) or "(none)"
        raise ConfigError(
            f"{name}: no {phone_column!r} column; the header has {shown} (choose one with --phone-column)"
        )
    rows: list[CsvRow] = []
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ConfigError(f"{name}: line {reader.line_num}: {exc}") from exc
        if not any(cell.strip() for cell in record):
            continue
        problem = None
        if len(record) > len(columns):
            problem = f"{len(record)} fields but the header has {len(columns)}"
        # A short record lacks its last fields (None in a template: an error naming the row), not blanks.
        fields = {col: record[i].strip() for i, col in enumerate(columns) if col and i < len(record)}
        rows.append(CsvRow(line=reader.line_num, fields=fields, problem=problem))
    return CsvData(path=name, columns=columns, phone_column=found[0], rows=tuple(rows))
