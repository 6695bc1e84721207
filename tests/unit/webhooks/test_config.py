"""[webhooks] in msgbridge.toml, and MSGBRIDGE_WEBHOOKS_* over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.config import WebhookSettings, load_config
from msgbridge.core.errors import ConfigError


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}).webhooks == WebhookSettings(
        secrets=(),
        max_age=86400.0,
        concurrency_per_url=4,
        timeout=10.0,
        breaker_failures=5,
        breaker_cooldown=30.0,
    )


def test_file_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text(
        '[webhooks]\nsecret = ["whsec_new", "whsec_old"]\nmax_age = 3600\nconcurrency_per_url = 8\n'
        "timeout = 2.5\nbreaker_failures = 3\nbreaker_cooldown = 10\n",
        encoding="utf-8",
    )
    w = load_config(str(f), env={}).webhooks
    assert w == WebhookSettings(("whsec_new", "whsec_old"), 3600.0, 8, 2.5, 3, 10.0)
    env = {"MSGBRIDGE_WEBHOOKS_SECRET": "whsec_env", "MSGBRIDGE_WEBHOOKS_CONCURRENCY_PER_URL": "2"}
    w = load_config(str(f), env=env).webhooks
    assert (w.secrets, w.concurrency_per_url, w.max_age) == (("whsec_env",), 2, 3600.0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("secret = 3", "secret must be a non-empty string"),
        ('secret = ""', "secret must be a non-empty string"),
        ("secret = []", "secret must be a non-empty string"),
        ("max_age = 0", "max_age must be a number of seconds > 0"),
        ("timeout = -1", "timeout must be a number of seconds >= 0"),
        ("concurrency_per_url = 0", "concurrency_per_url must be a whole number >= 1"),
        ("breaker_failures = 1.5", "breaker_failures must be a whole number >= 1"),
        ("breaker_cooldown = true", "breaker_cooldown must be a number of seconds"),
        ("retries = 3", "unknown key(s) in [webhooks]: retries"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, words: str) -> None:
    f = tmp_path / "m.toml"
    f.write_text(f"[webhooks]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(str(f), env={})
    assert words in str(caught.value)
