from __future__ import annotations

from dataclasses import replace

import pytest

from msgbridge.core import options as opt
from msgbridge.core.errors import ConfigError, InvalidDestination, TemplateError
from msgbridge.core.options import OptionSet
from msgbridge.core.phone import digits, normalize
from msgbridge.core.template import fields, render
from msgbridge.core.url import REDACTED, Secret, TransportURL, redact


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+77011234567", None, "+77011234567"),
        ("77011234567", None, "+77011234567"),
        ("+7 (701) 123-45-67", None, "+77011234567"),
        ("0077011234567", None, "+77011234567"),
        ("87011234567", "KZ", "+77011234567"),
        ("8 701 123 45 67", "KZ", "+77011234567"),
        ("+442079460958", "KZ", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_normalize_valid(raw: str, region: str | None, expected: str) -> None:
    assert normalize(raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "+7701", "hello", "+999123456789", "87011234567"])
def test_normalize_invalid_names_the_input(raw: str) -> None:
    with pytest.raises(InvalidDestination) as info:
        normalize(raw)
    assert repr(raw) in str(info.value)
    assert info.value.code.value == "INVALID_DESTINATION"


def test_normalize_empty() -> None:
    with pytest.raises(InvalidDestination, match="empty"):
        normalize("  ")


def test_digits() -> None:
    assert digits("+77011234567") == "77011234567"


def test_render_and_escapes() -> None:
    assert render("Hi {name}, {{literal}} {code}", {"name": "Ann", "code": 7}) == "Hi Ann, {literal} 7"
    assert fields("{a} {b} {a} {{c}}") == ["a", "b"]


def test_missing_field_names_row_and_field() -> None:
    with pytest.raises(TemplateError) as info:
        render("Hi {name}", {"phone": "+7"}, row=12)
    assert str(info.value) == "row 12: template field {name} has no value"
    with pytest.raises(TemplateError, match=r"^template field \{code\} has no value$"):
        render("{code}", {"code": None})


def test_url_parse_and_secret_never_printed() -> None:
    url = TransportURL.parse("smpp://user:s3cr%40t@smsc.example:2775/path?window=10&tps=50")
    assert (url.scheme, url.user, url.host, url.port, url.path) == (
        "smpp",
        "user",
        "smsc.example",
        2775,
        "/path",
    )
    assert url.secret is not None and url.secret.reveal() == "s3cr@t"
    read = OptionSet(opt.integer("window", 1, 1, 100, "w"), opt.number("tps", 1.0, 0, 1000, "t")).read(url)
    assert read.get_int("window") == 10 and read.get_float("tps") == 50.0
    for text in (str(url), repr(url), str(url.secret), repr(url.secret), f"{url}"):
        assert "s3cr" not in text
    assert str(url) == f"smpp://user:{REDACTED}@smsc.example:2775/path?window=10&tps=50"
    assert TransportURL.parse(url.reveal()) == url


def test_lone_key_is_the_secret() -> None:
    url = TransportURL.parse("mobizon://KEY123@api.mobizon.kz", user_is_secret=True)
    assert url.user is None and url.secret == Secret("KEY123")
    assert "KEY123" not in str(url) and "KEY123" not in repr(url)
    assert url.reveal() == "mobizon://KEY123@api.mobizon.kz"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("smpp://u:pw@h:1", "smpp://u:***@h:1"),
        ("selzy://KEY@api.selzy.com/x", "selzy://***@api.selzy.com/x"),
        ("memory://", "memory://"),
        ("not a url", "not a url"),
    ],
)
def test_redact(raw: str, expected: str) -> None:
    assert redact(raw) == expected


def test_bad_options_are_config_errors_without_the_secret() -> None:
    url = TransportURL.parse("smpp://u:topsecret@h?window=ten&tls=maybe")
    window, tls = opt.integer("window", 1, 1, 100, "w"), opt.flag("tls", False, "t")
    with pytest.raises(ConfigError) as info:
        OptionSet(window).read(replace(url, options={"window": "ten"}))
    assert "topsecret" not in str(info.value)
    with pytest.raises(ConfigError):
        OptionSet(tls).read(replace(url, options={"tls": "maybe"}))
    with pytest.raises(ConfigError):
        TransportURL.parse("no-scheme-here")
    with pytest.raises(ConfigError, match="port"):
        TransportURL.parse("smpp://u:p@h:notaport")
