"""[[routes]], [breaker] and [prices.NAME]: every match key, every strategy's reading, every refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.config import load_config
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.message import Channel, Message
from msgbridge.routing import numbers
from msgbridge.routing.config import (
    DEFAULT_FAILOVER,
    BreakerSettings,
    RateUnit,
    Route,
    RouteMatch,
    RoutingConfig,
    Strategy,
    read_routing,
)

TRANSPORTS = ("a", "b", "c")
KZ_MOBILE = "+77011234567"
RU_MOBILE = "+79161234567"
RU_FIXED = "+74951234567"
US = "+12015550123"


def msg(to: str = KZ_MOBILE, **kw: object) -> Message:
    return Message(to=to, text="hi", **kw)  # type: ignore[arg-type]


def read(text: str, tmp_path: Path) -> RoutingConfig:
    f = tmp_path / "msgbridge.toml"
    f.write_text(
        '[transports]\na = "memory://a"\nb = "memory://b"\nc = "memory://c"\n' + text, encoding="utf-8"
    )
    return load_config(str(f), env={}).routing


# -- match keys ---------------------------------------------------------------------------------------------


def test_prefixes_match_the_digits_after_plus() -> None:
    m = RouteMatch(prefixes=("7701", "7702"))
    assert m.matches(msg(KZ_MOBILE))
    assert not m.matches(msg(RU_MOBILE))


def test_countries_come_from_the_number() -> None:
    m = RouteMatch(countries=("KZ",))
    assert m.matches(msg(KZ_MOBILE))
    assert not m.matches(msg(RU_MOBILE))  # same calling code +7, another country


@pytest.mark.parametrize(
    "e164", [KZ_MOBILE, RU_MOBILE, RU_FIXED, US, "+441632960961", "+4915112345678", "+390612345678"]
)
def test_country_agrees_with_phonenumbers(e164: str) -> None:
    import phonenumbers

    assert numbers.country(e164) == phonenumbers.region_code_for_number(phonenumbers.parse(e164))


def test_number_types() -> None:
    mobile, fixed = RouteMatch(number_types=("mobile",)), RouteMatch(number_types=("fixed",))
    assert mobile.matches(msg(RU_MOBILE)) and not fixed.matches(msg(RU_MOBILE))
    assert fixed.matches(msg(RU_FIXED)) and not mobile.matches(msg(RU_FIXED))
    # FIXED_LINE_OR_MOBILE (the US) counts as both
    assert mobile.matches(msg(US)) and fixed.matches(msg(US))


def test_senders() -> None:
    m = RouteMatch(senders=("ACME",))
    assert m.matches(msg(sender="ACME"))
    assert not m.matches(msg(sender="OTHER"))
    assert not m.matches(msg())


def test_campaigns_are_fnmatch_patterns() -> None:
    m = RouteMatch(campaigns=("promo-*",))
    assert m.matches(msg(campaign="promo-june"))
    assert not m.matches(msg(campaign="otp"))
    assert not m.matches(msg())


def test_tags_are_comma_separated_metadata() -> None:
    m = RouteMatch(tags=("otp",))
    assert m.matches(msg(metadata={"tags": "billing, otp"}))
    assert not m.matches(msg(metadata={"tags": "promo"}))
    assert not m.matches(msg())


def test_channels() -> None:
    m = RouteMatch(channels=("email",))
    assert m.matches(msg("a@example.com", channel=Channel.EMAIL))
    assert not m.matches(msg())


def test_every_key_given_must_match() -> None:
    m = RouteMatch(prefixes=("7",), senders=("ACME",))
    assert m.matches(msg(sender="ACME"))
    assert not m.matches(msg(sender="X"))
    assert not m.matches(msg(US, sender="ACME"))


def test_no_keys_match_everything() -> None:
    assert RouteMatch().matches(msg(US)) and RouteMatch().empty


def test_first_matching_route_wins(tmp_path: Path) -> None:
    cfg = read(
        '[[routes]]\nname = "kz"\ncountries = ["KZ"]\ntransports = ["a"]\n'
        '[[routes]]\nname = "seven"\nprefixes = ["7"]\ntransports = ["b"]\n'
        '[[routes]]\nname = "default"\ntransports = ["c"]\n',
        tmp_path,
    )
    assert cfg.route_for(msg(KZ_MOBILE)).name == "kz"  # type: ignore[union-attr]
    assert cfg.route_for(msg(RU_MOBILE)).name == "seven"  # type: ignore[union-attr]
    assert cfg.route_for(msg(US)).name == "default"  # type: ignore[union-attr]
    assert cfg.route("seven").transports == ("b",)


def test_no_route_matches() -> None:
    cfg = RoutingConfig(routes=(Route("kz", ("a",), RouteMatch(countries=("KZ",))),))
    assert cfg.route_for(msg(US)) is None


def test_unknown_route_names_the_configured_ones() -> None:
    cfg = RoutingConfig(routes=(Route("kz", ("a",)),))
    with pytest.raises(ConfigError, match=r"'nope'.*configured: kz"):
        cfg.route("nope")


# -- reading --------------------------------------------------------------------------------------------


def test_a_full_route_is_read(tmp_path: Path) -> None:
    cfg = read(
        '[[routes]]\nname = "kz"\nprefixes = ["+7700", "7701"]\ncountries = ["kz"]\nnumber_types = ["Mobile"]\n'
        'senders = ["ACME"]\ncampaigns = ["promo-*"]\ntags = ["otp"]\nchannels = ["sms"]\n'
        'transports = ["A", "b"]\nstrategy = "weighted"\nweights = [70, 30]\n'
        'failover_on = ["network_error", "AUTH_FAILED"]\nfailover_on_timeout = true\n'
        'temporary_retries = 0\nrate = 100\nrate_unit = "segments"\n'
        "[breaker]\nfailures = 3\nerror_rate = 0.25\nwindow = 10\nmin_calls = 4\ncooldown = 0\n",
        tmp_path,
    )
    assert cfg.routes == (
        Route(
            name="kz",
            transports=("a", "b"),
            match=RouteMatch(
                prefixes=("7700", "7701"),
                countries=("KZ",),
                number_types=("mobile",),
                senders=("ACME",),
                campaigns=("promo-*",),
                tags=("otp",),
                channels=("sms",),
            ),
            strategy=Strategy.WEIGHTED,
            weights=(70.0, 30.0),
            failover_on=frozenset({ErrorCode.NETWORK_ERROR, ErrorCode.AUTH_FAILED}),
            failover_on_timeout=True,
            temporary_retries=0,
            rate=100.0,
            rate_unit=RateUnit.SEGMENTS,
        ),
    )
    assert cfg.breaker == BreakerSettings(failures=3, error_rate=0.25, window=10.0, min_calls=4, cooldown=0.0)


def test_defaults(tmp_path: Path) -> None:
    cfg = read('[[routes]]\nname = "d"\ntransports = ["a"]\n', tmp_path)
    route = cfg.routes[0]
    assert route == Route("d", ("a",))
    assert route.strategy is Strategy.FAILOVER and route.failover_on == DEFAULT_FAILOVER
    assert route.rate is None and route.rate_unit is RateUnit.MESSAGES and route.temporary_retries == 2
    assert cfg.breaker == BreakerSettings()
    assert DEFAULT_FAILOVER == {
        ErrorCode.NETWORK_ERROR, ErrorCode.AUTH_FAILED, ErrorCode.ACCOUNT_BLOCKED, ErrorCode.INSUFFICIENT_FUNDS,
        ErrorCode.WRONG_SERVER, ErrorCode.TEMPORARY_FAILURE, ErrorCode.UNSUPPORTED,
    }  # fmt: skip
    assert ErrorCode.TIMEOUT not in DEFAULT_FAILOVER


def test_cheapest_is_read(tmp_path: Path) -> None:
    cfg = read('[[routes]]\nname = "d"\ntransports = ["a", "b"]\nstrategy = "cheapest"\n', tmp_path)
    assert cfg.routes[0].strategy is Strategy.CHEAPEST


def test_a_config_without_routes_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(env={}).routing
    assert cfg == RoutingConfig() and cfg.route_for(msg()) is None


def test_routes_may_name_transports_from_the_environment(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text('[[routes]]\nname = "d"\ntransports = ["envy"]\n', encoding="utf-8")
    cfg = load_config(str(f), env={"MSGBRIDGE_TRANSPORT_ENVY": "memory://"}).routing
    assert cfg.routes[0].transports == ("envy",)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('name = "r"\ntransports = ["zz"]', "unknown transport 'zz'.*a, b, c"),
        ('name = "r"', "names no transports"),
        ('name = "r"\ntransports = []', "names no transports"),
        ('name = "r"\ntransports = ["a", "a"]', "twice"),
        ('transports = ["a"]', "needs a name"),
        (
            'name = "r"\ntransports = ["a"]\nstrategy = "random"',
            "strategy must be one of failover, weighted, cheapest",
        ),
        (
            'name = "r"\ntransports = ["a", "b"]\nstrategy = "weighted"\nweights = [1]',
            "1 weights for 2 transports",
        ),
        ('name = "r"\ntransports = ["a", "b"]\nstrategy = "weighted"', "0 weights for 2 transports"),
        ('name = "r"\ntransports = ["a", "b"]\nstrategy = "weighted"\nweights = [0, 0]', "add up to 0"),
        (
            'name = "r"\ntransports = ["a", "b"]\nstrategy = "weighted"\nweights = [1, -1]',
            "weights must be a number >= 0",
        ),
        (
            'name = "r"\ntransports = ["a", "b"]\nstrategy = "weighted"\nweights = [1, "x"]',
            "weights must be a number",
        ),
        ('name = "r"\ntransports = ["a", "b"]\nweights = [1, 1]', "weights go with strategy"),
        (
            'name = "r"\ntransports = ["a"]\nfailover_on = ["NETWORK_EROR"]',
            "unknown error code 'NETWORK_EROR'",
        ),
        ('name = "r"\ntransports = ["a"]\nfailover_on_timeout = "yes"', "true or false"),
        (
            'name = "r"\ntransports = ["a"]\ntemporary_retries = -1',
            "temporary_retries must be a whole number >= 0",
        ),
        (
            'name = "r"\ntransports = ["a"]\ntemporary_retries = 1.5',
            "temporary_retries must be a whole number",
        ),
        ('name = "r"\ntransports = ["a"]\nrate = 0', "rate must be a number > 0"),
        (
            'name = "r"\ntransports = ["a"]\nrate_unit = "bytes"',
            "rate_unit must be one of messages, segments",
        ),
        ('name = "r"\ntransports = ["a"]\nprefixes = ["7a"]', "prefixes must be digits"),
        ('name = "r"\ntransports = ["a"]\ncountries = ["KAZ"]', "alpha-2"),
        (
            'name = "r"\ntransports = ["a"]\nnumber_types = ["pager"]',
            "number_types must be among mobile, fixed",
        ),
        ('name = "r"\ntransports = ["a"]\nchannels = ["fax"]', "channels must be among sms, email"),
        ('name = "r"\ntransports = ["a"]\nsenders = [1]', "senders must be a list of non-empty strings"),
        ('name = "r"\ntransports = ["a"]\ncountry = ["KZ"]', "unknown key.*country"),
    ],
)
def test_bad_routes(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        read("[[routes]]\n" + text + "\n", tmp_path)


def test_two_routes_of_one_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"two \[\[routes\]\] are named 'r'"):
        read(
            '[[routes]]\nname = "r"\ntransports = ["a"]\n[[routes]]\nname = "r"\ntransports = ["b"]\n',
            tmp_path,
        )


def test_routes_must_be_an_array_of_tables() -> None:
    with pytest.raises(ConfigError, match="routes must be"):
        read_routing({"routes": "a"}, base=Path(), transports={"a"})
    with pytest.raises(ConfigError, match="#1 must be a table"):
        read_routing({"routes": ["a"]}, base=Path(), transports={"a"})


def test_the_error_names_the_file_and_route(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"msgbridge.toml: \[\[routes\]\] 'kz'"):
        read('[[routes]]\nname = "kz"\ntransports = ["zz"]\n', tmp_path)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("failures = 0", "failures must be a whole number >= 1"),
        ("min_calls = 0", "min_calls must be a whole number >= 1"),
        ("error_rate = 0", "error_rate must be a number > 0"),
        ("error_rate = 1.5", "at most 1"),
        ("window = 0", "window must be a number > 0"),
        ("cooldown = -1", "cooldown must be a number >= 0"),
        ('cooldown = "soon"', "cooldown must be a number"),
        ("failure = 3", "unknown key.*failure"),
    ],
)
def test_bad_breaker(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        read("[breaker]\n" + text + "\n", tmp_path)


def test_read_routing_directly() -> None:
    cfg = read_routing({"routes": [{"name": "x", "transports": ["a"]}]}, base=Path(), transports={"a"})
    assert cfg.route("x").transports == ("a",)


def test_country_agrees_with_phonenumbers_across_calling_codes() -> None:
    """Example numbers of every region (and the same with digits changed) against region_code_for_number."""
    import random

    import phonenumbers

    rng = random.Random(16)
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(11):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            for text in (e164, e164[:-3] + "".join(rng.choice("0123456789") for _ in range(3))):
                expected = phonenumbers.region_code_for_number(phonenumbers.parse(text))
                assert numbers.country(text) == (expected if expected != "001" else None), text
                checked += 1
    assert checked > 2000
