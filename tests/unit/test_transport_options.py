"""Every URL option of every built-in transport is read through its declaration, range and all.

The range table is generated from the declarations, and each row is checked
through the real constructor (``open_transport``): the edges are accepted,
one step outside them, NaN, infinities and non-numbers are refused, every
choice is accepted and a made-up one refused. The hand-written table below it
holds the cases that were reported, so the generated table cannot quietly
shrink to nothing.
"""

from __future__ import annotations

import json
import math
import re
from urllib.parse import quote

import pytest

from msgbridge.adapters.base import Transport, open_transport, registry
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.options import Kind, Option

# A URL each transport can be built from without a network, and options some option values need.
BASE: dict[str, str] = {
    "memory": "memory://",
    "smpp": "smpp://u:p@127.0.0.1:2775",
    "selzy": "selzy://KEY@127.0.0.1",
    "bsg": "bsg://KEY@127.0.0.1",
    "smsc": "smsc://login:pw@127.0.0.1",
    "mobizon": "mobizon://KEY@127.0.0.1",
    "smtp": "smtp://u:p@127.0.0.1",
}
CONTEXT: dict[str, dict[str, str]] = {"smtp": {"domain": "sms.example"}}
# A value each text option accepts (text options have no range, but many have a shape).
TEXT_SAMPLES: dict[str, str] = {
    "mix": "delivered:0.5,expired:0.5",
    "base_url": "http://127.0.0.1:1",
    "backup_url": "http://127.0.0.1:2",
    "platform": "msgbridge2",
    "text_field": "sms_text",
    "from": "Shop",
    "currency": "KZT",
}
BUILTIN = sorted(registry.BUILTIN)


def url_with(scheme: str, **options: str) -> str:
    merged = {**CONTEXT.get(scheme, {}), **options}
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in merged.items())
    return BASE[scheme] + (f"?{query}" if query else "")


def declared(scheme: str) -> list[Option]:
    cls = registry.get(scheme)
    assert cls.declared_options is not None, scheme
    return list(cls.declared_options)


def accepted(scheme: str, name: str) -> list[str]:
    option = next(o for o in declared(scheme) if o.name == name)
    if option.kind in (Kind.INT, Kind.FLOAT):
        assert option.low is not None and option.high is not None
        low = option.low if not option.low_open else option.low + 0.001
        return [_n(option, low), _n(option, option.high)]
    if option.kind is Kind.BOOL:
        return ["yes", "no", "1", "0", "true", "off"]
    if option.kind is Kind.CHOICE:
        return [*option.choices, option.choices[0].upper()]
    return [TEXT_SAMPLES.get(name, "x")]


def refused(scheme: str, name: str) -> list[str]:
    option = next(o for o in declared(scheme) if o.name == name)
    if option.kind in (Kind.INT, Kind.FLOAT):
        assert option.low is not None and option.high is not None
        step = 1 if option.kind is Kind.INT else max(option.high * 1e-6, 1e-9)
        below = option.low if option.low_open else option.low - step
        out = [_n(option, below), _n(option, option.high + step), "nan", "inf", "-inf", "ten", "1" * 40]
        return out + (["1.5"] if option.kind is Kind.INT else [])
    if option.kind is Kind.BOOL:
        return ["maybe", "2"]
    if option.kind is Kind.CHOICE:
        return ["no-such-choice"]
    bad = ["x" * (option.max_length + 1)]
    return bad + (["é"] if option.pattern else [])


def _n(option: Option, value: float) -> str:
    return str(int(value)) if option.kind is Kind.INT else repr(float(value))


ROWS = [(scheme, o.name) for scheme in BUILTIN for o in declared(scheme)]


@pytest.mark.parametrize(("scheme", "name"), ROWS)
def test_every_option_accepts_its_range_and_refuses_what_is_outside(scheme: str, name: str) -> None:
    for value in accepted(scheme, name):
        transport = open_transport(url_with(scheme, **{name: value}))
        assert name in transport.settings.given
    for value in refused(scheme, name):
        with pytest.raises(ConfigError) as info:
            open_transport(url_with(scheme, **{name: value}))
        assert info.value.code is ErrorCode.INVALID_ARGUMENT
        assert f"option {name}" in str(info.value), str(info.value)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("scheme", BUILTIN)
@pytest.mark.parametrize(("option", "hint"), [("bogus", None), ("widnow", "window"), ("timeot", "timeout")])
def test_unknown_options_are_refused_with_the_known_ones(scheme: str, option: str, hint: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        open_transport(url_with(scheme, **{option: "1"}))
    message = str(info.value)
    assert f"{scheme}:// has no option {option!r}" in message
    for known in declared(scheme)[:3]:
        assert known.name in message
    names = {o.name for o in declared(scheme)}
    if hint in names:
        assert f"did you mean {hint}?" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smpp://u:p@h:1?timeout=nan", "option timeout='nan'"),
        ("smpp://u:p@h:1?timeout=inf", "option timeout='inf'"),
        ("smpp://u:p@h:1?timeout=0", "option timeout='0'"),
        ("smpp://u:p@h:1?timeout=-1", "option timeout='-1'"),
        ("smpp://u:p@h:1?window=99999999999999999999", "option window="),
        ("smpp://u:p@h:1?window=0", "option window='0'"),
        ("smpp://u:p@h:1?binds=1e3", "option binds='1e3'"),
        ("smpp://u:p@h:1?enquire_link=0", "option enquire_link='0'"),
        ("selzy://K@h?timeout=nan", "option timeout='nan'"),
        ("mobizon://K@h?task_poll=0", "option task_poll='0'"),
        ("smtp://u:p@h?timeout=0", "option timeout='0'"),
        ("smtp://u:p@h?pool=0", "option pool='0'"),
        ("memory://?dlr_delay_ms=-5", "option dlr_delay_ms='-5'"),
        ("smpp://u:p@h:1?source=A&from=B", "options source and from are the same option"),
        ("smpp://u:p@h:1?system_type=ABCDEFGHIJKLM", "system_type is 13 characters long; at most 12"),
        ("smpp://u:p@h:1?service_type=ABCDEF", "service_type is 6 characters long; at most 5"),
    ],
)
def test_reported_values_are_refused(url: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        open_transport(url)


def test_values_reach_the_transport() -> None:
    """The declarations are what the constructors read: a value given in the URL is the value used."""
    smpp = open_transport("smpp://u:p@h:1?window=7&timeout=0.5&mode=tx%2Brx&source=Shop")
    assert (smpp.options.window, smpp.options.response_timeout, smpp.options.mode, smpp.options.source) == (  # type: ignore[attr-defined]
        7,
        0.5,
        "tx+rx",
        "Shop",
    )
    assert open_transport("smpp://u:p@h:1?mode=tx+rx").options.mode == "tx+rx"  # type: ignore[attr-defined]
    http = open_transport("selzy://K@h?timeout=2.5&attempts=5&rate=0")
    assert (http.timeout, http.connect_timeout, http.attempts, http.bucket) == (2.5, 2.5, 5, None)  # type: ignore[attr-defined]
    smtp = open_transport("smtp://u:p@h?pool=3&timeout=4&tls=none")
    assert (smtp.config.pool, smtp.config.timeout, smtp.config.port) == (3, 4.0, 25)  # type: ignore[attr-defined]
    memory = open_transport("memory://?max_batch=7&seed=3&fail_code=throttled")
    assert memory.capabilities.max_batch == 7 and memory.fail_code is ErrorCode.THROTTLED  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "field", "limit"),
    [
        ("smpp://u:123456789@h:1", "password", 8),  # SMPP 3.4: password C-Octet String of 9
        ("smpp://abcdefghijklmnop@h:1", "system_id", 15),  # system_id of 16
        ("smpp://u:12345678901234567890@h:1", "password", 8),
    ],
)
def test_smpp_bind_fields_over_their_size_are_refused_at_parse_time(url: str, field: str, limit: int) -> None:
    with pytest.raises(ConfigError) as info:
        open_transport(url)
    message = str(info.value)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert f"smpp:// {field} is" in message and f"at most {limit}" in message
    assert "123456789" not in message  # the password itself is never shown


@pytest.mark.parametrize("url", ["smpp://u:pässwörd@h:1", "smpp://ü:p@h:1", "smpp://u:%E2%82%AC@h:1"])
def test_smpp_bind_fields_must_be_ascii(url: str) -> None:
    with pytest.raises(ConfigError, match="must be ASCII"):
        open_transport(url)


def test_smpp_fields_at_their_size_are_accepted() -> None:
    t = open_transport("smpp://abcdefghijklmno:12345678@h:1?system_type=ABCDEFGHIJKL")
    assert t.url.user == "abcdefghijklmno"


def test_a_transport_without_declarations_reads_its_url_itself() -> None:
    class Legacy(Transport):
        scheme = "legacy"

        async def send(self, messages):  # type: ignore[no-untyped-def]
            return []

    t = Legacy.from_url("legacy://h?anything=1")
    assert t.url.options == {"anything": "1"} and dict(t.settings) == {}


def test_numbers_are_finite() -> None:
    for scheme in BUILTIN:
        for option in declared(scheme):
            if option.kind in (Kind.INT, Kind.FLOAT):
                assert option.low is not None and option.high is not None and math.isfinite(option.high)


def test_transports_command_lists_the_declared_options() -> None:
    from click.testing import CliRunner

    from msgbridge.cli.main import cli

    as_json = CliRunner().invoke(cli, ["transports", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    for scheme in BUILTIN:
        listed = {o["name"]: o for o in data[scheme]["options"]}
        assert set(listed) == {o.name for o in declared(scheme)}
    assert (
        data["smpp"]["options"][2]["name"] == "window" and data["smpp"]["options"][2]["range"] == "1 to 10000"
    )
    text = CliRunner().invoke(cli, ["transports", "--options"], terminal_width=250)
    assert text.exit_code == 0, text.output
    for scheme in BUILTIN:
        assert f"{scheme}:// options" in text.output
    assert "bind_timeout" in text.output and "key_in" in text.output
