"""The CSV reader on hostile input: stray quotes, fields spanning lines, UTF-16, binary data, bad headers."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.core.errors import ConfigError
from msgbridge.dispatch.csvsource import (
    BOMS,
    MAX_LINE_CHARS,
    MAX_RECORD_LINES,
    _Lines,
    _next_record,
    choose_encoding,
    read_csv,
)


def stray_quote_file(path: Path, rows: int = 500, stray: dict[int, str] | None = None) -> Path:
    """The issue's reproduction: 500 recipients, row 4 (file line 5) with an opening quote and no closing one."""
    lines = ["phone,name"] + [f"+7701{i:07d},N{i}" for i in range(rows)]
    for index, text in (stray or {4: '+77010000003,"Dmitry'}).items():
        lines[index] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_stray_quote_is_a_bad_row_at_its_line_and_the_rest_is_read(tmp_path: Path) -> None:
    data = read_csv(stray_quote_file(tmp_path / "s.csv"))
    assert len(data.rows) == 500  # one row per data line of the file
    bad = [(r.line, r.fields, r.problem) for r in data.rows if r.problem]
    assert len(bad) == 1
    line, fields, problem = bad[0]
    assert line == 5 and fields == {"phone": "+77010000003", "name": "Dmitry"}
    assert problem is not None and "not closed on this line" in problem and "--allow-multiline" in problem
    assert [r.line for r in data.rows] == list(range(2, 502))
    assert all("\n" not in v and len(v) < 20 for r in data.rows for v in r.fields.values())


def test_a_field_spanning_lines_is_refused_unless_allowed(tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text('phone,name\n+77010000001,"Anna\nMaria"\n+77010000002,Bob\n', encoding="utf-8")
    refused = read_csv(f)
    # line 2 is bad; line 3 is read as a record of its own, so no recipient disappears silently
    assert [(r.line, r.problem is not None) for r in refused.rows] == [(2, True), (3, False), (4, False)]
    assert refused.rows[1].fields == {"phone": 'Maria"'}
    allowed = read_csv(f, allow_multiline=True)
    assert [(r.line, r.fields, r.problem) for r in allowed.rows] == [
        (2, {"phone": "+77010000001", "name": "Anna\nMaria"}, None),
        (4, {"phone": "+77010000002", "name": "Bob"}, None),
    ]


def test_an_unclosed_quote_is_bad_even_when_multiline_is_allowed(tmp_path: Path) -> None:
    data = read_csv(stray_quote_file(tmp_path / "s.csv"), allow_multiline=True)
    assert len(data.rows) == 500
    [bad] = [r for r in data.rows if r.problem]
    assert bad.line == 5 and bad.problem is not None and f"within {MAX_RECORD_LINES} lines" in bad.problem


def test_two_stray_quotes_far_apart_do_not_merge_the_rows_between(tmp_path: Path) -> None:
    """A quote opened on line 5 and one "closing" it on line 60: with multi-line allowed, still not one record."""
    f = stray_quote_file(tmp_path / "s.csv", 100, {4: '+77010000003,"Dmitry', 59: '+77010000058,Anna"'})
    data = read_csv(f, allow_multiline=True)
    assert len(data.rows) == 100
    assert [r.line for r in data.rows if r.problem] == [5]
    assert data.rows[58].fields == {"phone": "+77010000058", "name": 'Anna"'}
    # within the allowed span the same pair is one record, as CSV says
    near = stray_quote_file(tmp_path / "n.csv", 20, {4: '+77010000003,"Dmitry', 6: '+77010000005,Anna"'})
    rows = read_csv(near, allow_multiline=True).rows
    assert rows[3].line == 5 and rows[3].problem is None and rows[3].fields["name"].count("\n") == 2
    assert len(rows) == 18


@pytest.mark.parametrize(("bom", "codec"), BOMS)
def test_a_byte_order_mark_decides_the_encoding(tmp_path: Path, bom: bytes, codec: str) -> None:
    endian = "le" if bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE) else "be"
    f = tmp_path / "u.csv"
    f.write_bytes(bom + "phone\tname\r\n+77010000001\tАлия\r\n".encode(f"{codec}-{endian}"))
    data = read_csv(f)
    assert data.encoding == codec and data.columns == ("phone", "name")
    assert [(r.line, r.fields) for r in data.rows] == [(2, {"phone": "+77010000001", "name": "Алия"})]
    with pytest.raises(ConfigError, match=f"starts with a {codec.upper()} byte order mark"):
        read_csv(f, encoding="cp1251")
    assert read_csv(f, encoding=codec).rows == data.rows


@pytest.mark.parametrize("variant", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_named_not_taken_for_cp1251(tmp_path: Path, variant: str) -> None:
    f = tmp_path / "u.csv"
    f.write_bytes("phone,name\n+77010000001,Ann\n".encode(variant))
    with pytest.raises(ConfigError, match=f"looks like UTF-16 .* --encoding {variant}") as err:
        read_csv(f)
    assert "cp1251" not in str(err.value)
    assert read_csv(f, encoding=variant).rows[0].fields["name"] == "Ann"


def test_choose_encoding_leaves_ordinary_text_alone() -> None:
    assert choose_encoding("x", b"phone,name\n+7701,A\n", "utf-8-sig") == "utf-8-sig"
    assert choose_encoding("x", "phone,name\n".encode("cp1251"), "cp1251") == "cp1251"
    with pytest.raises(ConfigError, match="unknown text encoding 'nope'"):
        choose_encoding("x", b"", "nope")


def test_an_encoding_name_python_cannot_look_up_is_a_clear_error_too() -> None:
    # codecs.lookup raises ValueError, not LookupError, for a name with a NUL in it
    with pytest.raises(ConfigError, match="unknown text encoding"):
        choose_encoding("x", b"phone\n", "utf\x008")


def test_dev_zero_and_binary_files_end_with_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="/dev/zero: line 1 contains NUL bytes"):
        read_csv("/dev/zero")
    f = tmp_path / "b.csv"
    f.write_bytes(b"phone,name\n+77010000001,A\x00B\n")
    with pytest.raises(ConfigError, match="line 2 contains NUL bytes"):
        read_csv(f)


def test_an_overlong_line_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "l.csv"
    f.write_text("phone,name\n+77010000001,A\n+77010000002," + "x" * MAX_LINE_CHARS + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"line 3 is longer than {MAX_LINE_CHARS:,} characters"):
        read_csv(f)
    ok = tmp_path / "ok.csv"
    ok.write_text("phone,name\n+77010000001," + "x" * 1000 + "\n", encoding="utf-8")
    assert len(read_csv(ok).rows[0].fields["name"]) == 1000


@pytest.mark.parametrize(
    ("header", "column", "where"),
    [("phone,name,name", "name", "columns 2 and 3"), ("Phone;NAME;x;name", "name", "columns 2 and 4"),
     ("phone,phone", "phone", "columns 1 and 2")],
)  # fmt: skip
def test_a_repeated_header_column_is_refused(tmp_path: Path, header: str, column: str, where: str) -> None:
    f = tmp_path / "h.csv"
    f.write_text(f"{header}\n+77010000001,A,B\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=f"line 1: column '{column}' appears twice in the header \\({where}\\)"
    ):
        read_csv(f)


def test_empty_columns_may_repeat(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text("phone,,name,\n+77010000001,,A,\n", encoding="utf-8")
    assert read_csv(f).rows[0].fields == {"phone": "+77010000001", "name": "A"}


def test_header_problems(tmp_path: Path) -> None:
    only = tmp_path / "o.csv"
    only.write_text("phone,name\n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no recipients: the file has a header and no data lines"):
        read_csv(only)
    quoted = tmp_path / "q.csv"
    quoted.write_text('phone,"name\n+77010000001,A\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="line 1: the header has a quote that is not closed"):
        read_csv(quoted)
    late = tmp_path / "late.csv"
    late.write_text("\n\nphone,name\n+77010000001,A\n", encoding="utf-8")
    assert [(r.line, r.fields["name"]) for r in read_csv(late).rows] == [(4, "A")]


def test_an_undecodable_byte_is_named_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "w.csv"
    f.write_bytes("phone,name\n+77010000001,A\n+77010000002,Алия\n".encode("cp1251"))
    with pytest.raises(ConfigError, match=r"line 3 is not valid utf-8-sig \(byte 0xc0\)"):
        read_csv(f)


@settings(max_examples=400)
@given(
    text=st.lists(st.text(alphabet='a,;" \r\nя', max_size=12), max_size=8).map("\n".join),
    span=st.sampled_from([1, MAX_RECORD_LINES]),
    delimiter=st.sampled_from([",", ";"]),
)
def test_quoted_records_read_quickly_are_the_records_read_the_long_way(text: str, span: int, delimiter: str) -> None:
    # The quick way (a strict parse of the one line) must give, record for record, what the lenient reader
    # over as many lines as the span allows gives: the same cells, lines and closed flag, whatever it refuses.
    def records(quick: bool) -> list[object]:
        lines = _Lines("f.csv", io.StringIO(text, newline=""), "utf-8")
        out: list[object] = []
        while (record := _next_record(lines, delimiter, span, quick=quick)) is not None:
            out.append(record)
        return out

    assert records(True) == records(False)
