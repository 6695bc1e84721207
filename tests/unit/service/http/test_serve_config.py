"""[serve] and [apikeys] in msgbridge.toml, and the environment over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.config import DEFAULT_MAX_BODY, ServeSettings, load_config, parse_listen
from msgbridge.core.errors import ConfigError


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(env={})
    assert cfg.serve == ServeSettings() and cfg.serve.max_body == DEFAULT_MAX_BODY
    assert cfg.apikeys_file == "msgbridge-keys.toml"


def test_file_values_relative_to_the_file_and_env_over_them(tmp_path: Path) -> None:
    f = tmp_path / "conf" / "m.toml"
    f.parent.mkdir()
    f.write_text(
        '[serve]\nlisten = "0.0.0.0:9000"\ntls_cert = "c.pem"\ntls_key = "/abs/k.pem"\n'
        'drain_timeout = 5\nmax_body = "1MB"\nmax_upload = 4096\n[apikeys]\nfile = "keys.toml"\n',
        encoding="utf-8",
    )
    cfg = load_config(str(f), env={})
    s = cfg.serve
    assert (s.listen, s.address, s.drain_timeout, s.max_body, s.max_upload) == (
        "0.0.0.0:9000", ("0.0.0.0", 9000), 5.0, 1024 * 1024, 4096,
    )  # fmt: skip
    assert s.tls_cert == str(f.parent / "c.pem") and s.tls_key == "/abs/k.pem"
    assert cfg.apikeys_file == str(f.parent / "keys.toml")
    env = {
        "MSGBRIDGE_SERVE_LISTEN": "[::1]:0",
        "MSGBRIDGE_SERVE_DRAIN_TIMEOUT": "0.5",
        "MSGBRIDGE_SERVE_MAX_BODY": "512KB",
        "MSGBRIDGE_APIKEYS_FILE": "elsewhere.toml",
    }
    cfg = load_config(str(f), env=env)
    assert cfg.serve.address == ("::1", 0) and cfg.serve.drain_timeout == 0.5
    assert cfg.serve.max_body == 512 * 1024 and cfg.apikeys_file == "elsewhere.toml"
    f.write_text("", encoding="utf-8")
    assert load_config(str(f), env={}).apikeys_file == str(f.parent / "msgbridge-keys.toml")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[serve]\nlisten = "nohost"\n', "HOST:PORT"),
        ('[serve]\nlisten = "h:70000"\n', "HOST:PORT"),
        ("[serve]\ndrain_timeout = -1\n", "seconds"),
        ('[serve]\ndrain_timeout = "nan"\n', "seconds"),
        ('[serve]\nmax_body = "lots"\n', "size"),
        ("[serve]\nmax_body = 0\n", "size"),
        ('[serve]\ntls_cert = "c.pem"\n', "both or neither"),
        ('[serve]\nlisten_on = "h:1"\n', "unknown key"),
        ("serve = 1\n", r"\[serve\] must be a table"),
        ('[apikeys]\npath = "k"\n', "unknown key"),
        ("[apikeys]\nfile = 3\n", "non-empty string"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "m.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_config(str(f), env={})


def test_bad_env_values_name_the_variable(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="MSGBRIDGE_SERVE_DRAIN_TIMEOUT"):
        load_config(str(f), env={"MSGBRIDGE_SERVE_DRAIN_TIMEOUT": "soon"})
    assert parse_listen("localhost:8080") == ("localhost", 8080)
    assert parse_listen(":0") == ("127.0.0.1", 0)
