"""API keys: created once, stored as hashes only, checked against every stored hash, limited per key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msgbridge.core.errors import ConfigError
from msgbridge.service import apikeys
from msgbridge.service.apikeys import KeyRing, create_key, read_keys, revoke_key


def test_the_key_is_random_and_only_its_hash_is_written(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    key, token = create_key(path, "shop", transports=["SMS", "sms", "mail"], rate=5)
    other, token2 = create_key(path, "crm")
    assert token.startswith("mbk_") and token != token2 and len(token) >= 4 + 43
    text = path.read_text(encoding="utf-8")
    assert token not in text and token[HINT_TAIL:] not in text
    assert apikeys.digest(token) in text
    assert os.stat(path).st_mode & 0o077 == 0  # the owner's only
    keys = read_keys(path)
    assert keys["shop"] == key and keys["crm"] == other
    assert key.transports == ("sms", "mail") and key.rate == 5 and other.transports == ()
    assert key.may_use("sms") and not key.may_use("kz") and other.may_use("kz")


HINT_TAIL = apikeys.HINT_CHARS


def test_authenticate_finds_the_key_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    _, token = create_key(path, "shop")
    _, token2 = create_key(path, "crm")
    ring = KeyRing.load(path)
    found = ring.authenticate(token)
    assert found is not None and found.name == "shop"
    assert (ring.authenticate(token2) or found).name == "crm"
    for wrong in ("", token[:-1], token + "x", apikeys.digest(token), token.upper()):
        assert ring.authenticate(wrong) is None


def test_names_and_duplicates_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    for bad in ("", "a:b", "with space", "x" * 65, "ключ"):
        with pytest.raises(ConfigError, match="name"):
            create_key(path, bad)
    create_key(path, "shop")
    with pytest.raises(ConfigError, match="exists already"):
        create_key(path, "shop")
    with pytest.raises(ConfigError, match="rate"):
        create_key(path, "fast", rate=0)


def test_revoke_and_a_running_ring_notices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys.toml"
    _, token = create_key(path, "shop")
    monkeypatch.setattr(apikeys, "RELOAD_SECONDS", 0.0)
    ring = KeyRing.load(path)
    assert ring.authenticate(token) is not None
    revoke_key(path, "shop")
    assert ring.authenticate(token) is None
    _, again = create_key(path, "shop")
    assert ring.authenticate(again) is not None and ring.authenticate(token) is None
    with pytest.raises(ConfigError, match="no API key named 'nope'"):
        revoke_key(path, "nope")


def test_a_broken_file_is_named_and_a_running_ring_keeps_its_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.toml"
    with pytest.raises(ConfigError, match="no API key file"):
        KeyRing.load(path)
    _, token = create_key(path, "shop")
    monkeypatch.setattr(apikeys, "RELOAD_SECONDS", 0.0)
    ring = KeyRing.load(path)
    path.write_text("[keys.shop\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_keys(path)
    assert ring.authenticate(token) is not None
    path.write_text('[keys.shop]\nsha256 = "zz"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="64 hex digits"):
        read_keys(path)


def test_rate_admits_a_burst_then_names_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    key, _ = create_key(path, "slow", rate=0.5)
    free, _ = create_key(path, "free")
    ring = KeyRing.load(path)
    assert ring.admit(key) is None
    wait = ring.admit(key)
    assert wait is not None and 0 < wait <= 2.0
    assert all(ring.admit(free) is None for _ in range(1000))


def test_cli_prints_the_key_once_on_stdout(tmp_path: Path) -> None:
    config = tmp_path / "msgbridge.toml"
    config.write_text('[transports]\nsms = "memory://"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGBRIDGE_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "msgbridge", "--config", str(config), "apikey", *args],
            capture_output=True, text=True, timeout=60, check=False, env=env,
        )  # fmt: skip

    created = run("create", "shop", "--transport", "sms", "--rate", "10")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("mbk_") and "\n" not in token
    keys_file = tmp_path / "msgbridge-keys.toml"  # next to the config by default
    assert keys_file.is_file() and token not in keys_file.read_text(encoding="utf-8")
    listed = run("list")
    assert listed.returncode == 0 and "shop" in listed.stdout and token not in listed.stdout
    assert token[:8] in listed.stdout
    started = time.time()
    assert abs(read_keys(keys_file)["shop"].created_at - started) < 600
    revoked = run("revoke", "shop")
    assert revoked.returncode == 0 and read_keys(keys_file) == {}
    again = run("revoke", "shop")
    assert (
        again.returncode == 2
        and "no API key named 'shop'" in again.stderr
        and "Traceback" not in again.stderr
    )
