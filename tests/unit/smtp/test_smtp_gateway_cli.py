"""The gateway's command line: refusing unsafe setups, the users-file helper, --via names."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from msgbridge.cli.gateway import resolve_via
from msgbridge.cli.main import cli
from msgbridge.core.errors import ConfigError
from msgbridge.inbound.users import parse_users, verify_password


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_nobody_could_send_is_refused() -> None:
    code, out = run("gateway", "smtp", "--domain", "sms.example.com")
    assert code != 0 and "nobody could send" in out


def test_bad_listen_address_is_refused() -> None:
    code, out = run(
        "gateway", "smtp", "--domain", "d.example", "--allow", "127.0.0.1", "--listen", "nonsense"
    )
    assert code != 0 and "HOST:PORT" in out


def test_users_file_with_a_user_needs_tls(tmp_path: Path) -> None:
    code, line = run("gateway", "smtp-user", "bob", "--password", "pw")
    assert code == 0
    users = tmp_path / "users.txt"
    users.write_text(line)
    code, out = run("gateway", "smtp", "--domain", "d.example", "--users", str(users))
    assert code != 0 and "--users needs --tls-cert" in out


def test_smtp_user_prints_a_hashed_line() -> None:
    code, out = run("gateway", "smtp-user", "alice", "--sender", "Shop", "--password", "s3cret")
    assert code == 0 and "s3cret" not in out
    user = parse_users(out)["alice"]
    assert user.sender == "Shop" and verify_password(user.password_hash, b"s3cret")


def test_via_names_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "msgbridge.toml"
    config.write_text(
        '[transports]\nfast = "memory://?dlr_delay_ms=1"\n[transports.smsc]\nurl = "smpp://u:p@h:2775"\n'
    )
    assert resolve_via("memory://", None) == "memory://"
    assert resolve_via("fast", str(config)) == "memory://?dlr_delay_ms=1"
    assert resolve_via("smsc", str(config)) == "smpp://u:p@h:2775"
    with pytest.raises(ConfigError):
        resolve_via("missing", str(config))
    with pytest.raises(ConfigError):
        resolve_via("fast", str(tmp_path / "absent.toml"))
