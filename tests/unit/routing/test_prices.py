"""Price tables: longest prefix, then country, then none; exact micros; CSV and inline TOML; refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.config import load_config
from msgbridge.core.errors import ConfigError
from msgbridge.core.money import format_micros
from msgbridge.routing.prices import Price, Prices, PriceTable, parse_price


def table() -> PriceTable:
    return PriceTable(
        {"7": Price(20_000, "EUR"), "7701": Price(15_000, "EUR"), "77012": Price(14_000, "EUR")},
        {"KZ": Price(18_000, "EUR"), "DE": Price(70_000, "EUR")},
    )


def test_longest_prefix_wins() -> None:
    t = table()
    assert t.price("+77012345678") == Price(14_000, "EUR")
    assert t.price("+77011234567") == Price(15_000, "EUR")
    assert t.price("+79161234567") == Price(20_000, "EUR")


def test_a_digit_prefix_wins_over_the_country() -> None:
    assert table().price("+77001234567") == Price(20_000, "EUR")  # KZ, but "7" matches


def test_the_country_applies_where_no_prefix_matches() -> None:
    assert table().price("+4915112345678") == Price(70_000, "EUR")


def test_no_price() -> None:
    assert table().price("+12015550123") is None
    assert Prices({"a": table()}).price("b", "+77011234567") is None
    assert Prices({"a": table()}).price("a", "+77011234567") == Price(15_000, "EUR")


@pytest.mark.parametrize(
    ("value", "micros"), [(0.015, 15_000), ("0.015", 15_000), (2, 2_000_000), (0, 0), ("0.000001", 1)]
)
def test_parse_price(value: object, micros: int) -> None:
    assert parse_price(value, "here") == micros


@pytest.mark.parametrize(
    ("value", "words"),
    [(-1, ">= 0"), ("x", "must be a number"), (True, "must be a number"), ("0.0000001", "at most 6 decimals"),
     ("inf", ">= 0"), ([1], "must be a number")],
)  # fmt: skip
def test_bad_prices(value: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_price(value, "here")


def test_sums_are_exact() -> None:
    assert sum(parse_price(0.1, "x") for _ in range(100_000)) == 10_000 * 1_000_000


@pytest.mark.parametrize(
    ("micros", "text"),
    [(12_345_000, "12.345 EUR"), (12_000_000, "12.00 EUR"), (15_000, "0.015 EUR"), (1, "0.000001 EUR"),
     (-1_500_000, "-1.50 EUR")],
)  # fmt: skip
def test_format_micros(micros: int, text: str) -> None:
    assert format_micros(micros, "EUR") == text


def config(tmp_path: Path, text: str) -> Prices:
    f = tmp_path / "sub" / "msgbridge.toml"
    f.parent.mkdir(exist_ok=True)
    f.write_text('[transports]\nsms = "memory://"\n' + text, encoding="utf-8")
    return load_config(str(f), env={}).routing.prices


def test_inline_toml(tmp_path: Path) -> None:
    prices = config(tmp_path, '[prices.sms]\ncurrency = "eur"\n"7" = 0.02\n"+7701" = 0.015\n"kz" = 0.018\n')
    assert prices.price("sms", "+77011234567") == Price(15_000, "EUR")
    assert prices.price("sms", "+77001234567") == Price(20_000, "EUR")
    assert prices["sms"] == PriceTable({"7": Price(20_000, "EUR"), "7701": Price(15_000, "EUR")},
                                       {"KZ": Price(18_000, "EUR")})  # fmt: skip


def test_csv_beside_the_config_file_inline_entries_win(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.csv").write_text(
        "prefix,price,currency\n7,0.02\n7701,0.015,USD\n\n# a comment\nDE,0.07\n", encoding="utf-8"
    )
    prices = config(tmp_path, '[prices.sms]\ncurrency = "EUR"\nfile = "p.csv"\n"7" = 0.03\n')
    assert prices.price("sms", "+79161234567") == Price(30_000, "EUR")
    assert prices.price("sms", "+77011234567") == Price(15_000, "USD")
    assert prices.price("sms", "+4915112345678") == Price(70_000, "EUR")


@pytest.mark.parametrize(
    ("text", "csv", "words"),
    [
        ('[prices.nope]\ncurrency = "EUR"\n', None, "no transport named 'nope'"),
        ('[prices.sms]\n"7" = 0.02\n', None, "give currency"),
        ('[prices.sms]\ncurrency = "E1"\n', None, "currency must be a code"),
        (
            '[prices.sms]\ncurrency = "EUR"\n"7x" = 0.02\n',
            None,
            "neither a digit prefix nor a two-letter country",
        ),
        (
            '[prices.sms]\ncurrency = "EUR"\n"ZZ" = 0.02\n',
            None,
            "neither a digit prefix nor a two-letter country",
        ),
        ('[prices.sms]\ncurrency = "EUR"\n"7" = -0.02\n', None, ">= 0"),
        ('[prices.sms]\ncurrency = "EUR"\nfile = "missing.csv"\n', None, "missing.csv"),
        (
            '[prices.sms]\ncurrency = "EUR"\nfile = "p.csv"\n',
            "7,0.02,EUR,extra\n",
            "line 1: expected prefix,price",
        ),
        ('[prices.sms]\nfile = "p.csv"\n', "7,0.02\n", "line 1: no currency"),
        (
            '[prices.sms]\ncurrency = "EUR"\nfile = "p.csv"\n',
            "7,0.02\n8,abc\n",
            "line 2: a price must be a number",
        ),
        ("[prices]\nsms = 3\n", None, "must be a table"),
    ],
)
def test_bad_tables(tmp_path: Path, text: str, csv: str | None, words: str) -> None:
    if csv is not None:
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "p.csv").write_text(csv, encoding="utf-8")
    with pytest.raises(ConfigError, match=words):
        config(tmp_path, text)
