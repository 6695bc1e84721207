"""Callback targets and the URL check against SSRF: what may be called, and the target's stored form."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.config import load_config
from msgbridge.core.callbacks import (
    CallbackTarget,
    RowCallbacks,
    address_problem,
    callback_problem,
    literal_problem,
    target_problem,
)
from msgbridge.core.errors import ConfigError
from msgbridge.service.apikeys import create_key, parse_keys, read_keys


def test_a_target_is_stored_as_compact_canonical_json_and_read_back() -> None:
    plain = CallbackTarget("https://app.example/hook")
    assert plain.dumps() == '{"url":"https://app.example/hook"}'
    full = CallbackTarget("http://app.example/dlr?s=%d&id=%i", format="kannel", mask=31, method="GET", key="shop")
    assert full.dumps() == (
        '{"format":"kannel","key":"shop","mask":31,"method":"GET","url":"http://app.example/dlr?s=%d&id=%i"}'
    )
    assert CallbackTarget.loads(full.dumps()) == full and CallbackTarget.loads(plain.dumps()) == plain
    assert CallbackTarget.loads('{"method": "POST", "url": "https://app.example/hook"}').dumps() == plain.dumps()
    for bad in ('["x"]', '{"href": "x"}', '{"url": "x", "colour": 1}', '{"url": "x", "mask": "31"}'):
        with pytest.raises(ValueError):
            CallbackTarget.loads(bad)


@pytest.mark.parametrize(
    ("address", "what"),
    [
        ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.0.0.7", "private"), ("192.168.1.1", "private"),
        ("172.16.0.1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)  # fmt: skip
def test_addresses_inside_are_refused(address: str, what: str) -> None:
    why = address_problem(address)
    assert why is not None and what in why


def test_public_addresses_and_urls_pass() -> None:
    assert address_problem("93.184.216.34") is None and address_problem("2606:2800:220:1:248:1893:25c8:1946") is None
    assert callback_problem("https://93.184.216.34:8443/hook?x=1", allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://93.184.216.34/x", "http"), ("https:///nohost", "host"), ("https://u:p@93.184.216.34/", "credentials"),
        ("https://u@93.184.216.34/", "credentials"), ("http://127.0.0.1/", "loopback"), ("http://localhost/", "loopback"),
        ("http://[::1]:80/", "loopback"), ("http://93.184.216.34:99999/", "URL"), ("https://" + "a" * 2100, "longer"),
        ("http://no-such-host.invalid/", "does not resolve"),
    ],
)  # fmt: skip
def test_urls_refused_say_why(url: str, words: str) -> None:
    why = callback_problem(url, allow_private=False)
    assert why is not None and words in why, why


def test_private_targets_pass_when_allowed_but_the_form_still_counts() -> None:
    assert callback_problem("http://127.0.0.1:9/hook", allow_private=True) is None
    assert callback_problem("http://localhost/hook", allow_private=True) is None
    assert callback_problem("https://u:p@127.0.0.1/", allow_private=True) is not None
    assert target_problem(CallbackTarget("http://127.0.0.1/", format="smoke"), allow_private=True) is not None
    assert target_problem(CallbackTarget("http://127.0.0.1/", method="PUT"), allow_private=True) is not None


def test_a_rows_url_is_checked_without_resolving_and_the_campaigns_target_fills_in() -> None:
    rule = RowCallbacks(default=CallbackTarget("https://93.184.216.34/c"), key="shop")
    assert rule.target({}) == ('{"url":"https://93.184.216.34/c"}', None)
    assert rule.target({"callback_url": "https://app.example/r"}) == (
        '{"key":"shop","url":"https://app.example/r"}', None,
    )  # fmt: skip
    target, why = rule.target({"callback_url": "http://10.0.0.1/r"})
    assert target is None and why is not None and why.startswith("callback_url: ") and "private" in why
    assert RowCallbacks(default=None).target({"callback_url": " "}) == (None, None)
    assert literal_problem("http://no-such-host.invalid/", allow_private=False) is None  # resolved at delivery


def test_events_config_and_transport_tables(tmp_path: Path) -> None:
    f = tmp_path / "msgbridge.toml"
    f.write_text(
        '[transports]\nsms = "memory://"\n[transports.mail]\nurl = "smtp://relay:25"\n'
        'callback_url = "http://10.0.0.5/events"\n'
        '[events]\nrecord = "all"\nallow_private_callbacks = true\ninbound_url = "https://app.example/mo"\n'
    )
    cfg = load_config(str(f), env={})
    assert cfg.transports == {"sms": "memory://", "mail": "smtp://relay:25"}
    assert cfg.transport_callbacks == {"mail": "http://10.0.0.5/events"}  # the operator's: private is theirs to name
    assert cfg.events.record_all and cfg.events.allow_private_callbacks
    assert cfg.events.inbound_url == "https://app.example/mo"
    assert not load_config(env={}).events.record_all
    for text, match in [
        ('[events]\nrecord = "some"\n', "record"),
        ("[events]\nallow_private_callbacks = 1\n", "true or false"),
        ('[events]\ninbound_url = "ftp://x/"\n', "inbound_url"),
        ('[events]\ncolour = "x"\n', "unknown key"),
        ('[transports.a]\nurl = "memory://"\nwindow = 3\n', "unknown key"),
        ('[transports.a]\nurl = "memory://"\ncallback_url = "https://u:p@h/"\n', "credentials"),
    ]:
        f.write_text(text)
        with pytest.raises(ConfigError, match=match):
            load_config(str(f), env={})


def test_an_api_keys_default_callback_is_kept_in_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    create_key(path, "shop")
    path.write_text(path.read_text() + 'callback_url = "https://shop.example/events"\n')
    [key] = read_keys(path).values()
    assert key.callback_url == "https://shop.example/events"
    with pytest.raises(ConfigError, match="callback_url"):
        parse_keys(path.read_text().replace("https://shop.example/events", "ftp://shop"), "keys.toml")
