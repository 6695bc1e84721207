"""The gateway's command line: refusing unsafe setups, the users-file helper, --via names."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from msgbridge.cli.gateway import file_defaults, resolve_via
from msgbridge.cli.main import cli
from msgbridge.core.errors import ConfigError
from msgbridge.inbound.limits import AuthPolicy, ConnectionPolicy
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


# -- limits: options and [gateway.smtp] in msgbridge.toml -----------------------------------------


def configs(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, list[object]]:
    """Run ``gateway smtp`` with the server replaced by a recorder of the config it would serve."""
    import msgbridge.cli.gateway as gateway_cli

    seen: list[object] = []

    async def fake_serve(config: object, *rest: object) -> None:
        seen.append(config)

    monkeypatch.setattr(gateway_cli, "_serve", fake_serve)
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output, seen


def test_limits_have_defaults_a_user_expects(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no msgbridge.toml here
    code, out, [config] = configs(
        monkeypatch, "gateway", "smtp", "--domain", "d.example", "--allow", "127.0.0.1"
    )
    assert code == 0, out
    assert (config.timeout, config.login_timeout) == (60.0, 60.0)  # type: ignore[attr-defined]
    assert config.auth == AuthPolicy(delay=1.0, max_delay=30.0, max_failures=10, lockout=900.0)  # type: ignore[attr-defined]
    assert config.connections == ConnectionPolicy(max_total=200, max_per_client=20)  # type: ignore[attr-defined]


def test_limits_from_the_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, [config] = configs(
        monkeypatch,
        *("gateway", "smtp", "--domain", "d.example", "--allow", "127.0.0.1"),
        *("--idle-timeout", "5", "--login-timeout", "0", "--max-connections", "7"),
        *("--max-connections-per-ip", "3", "--auth-delay", "0.5", "--auth-max-delay", "4"),
        *("--auth-max-failures", "5", "--auth-lockout", "120"),
    )
    assert code == 0, out
    assert (config.timeout, config.login_timeout) == (5.0, 0.0)  # type: ignore[attr-defined]
    assert config.auth == AuthPolicy(delay=0.5, max_delay=4.0, max_failures=5, lockout=120.0)  # type: ignore[attr-defined]
    assert config.connections == ConnectionPolicy(max_total=7, max_per_client=3)  # type: ignore[attr-defined]


def test_limits_from_the_config_file_and_the_command_line_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "msgbridge.toml").write_text(
        "[gateway.smtp]\n"
        'domain = ["d.example"]\nallow = ["127.0.0.1"]\n'
        "max_connections = 50\nmax-connections-per-ip = 4\nauth_max_failures = 6\nlogin_timeout = 15\n"
    )
    code, out, [config] = configs(monkeypatch, "gateway", "smtp", "--auth-max-failures", "8")
    assert code == 0, out
    assert config.domains == frozenset({"d.example"})  # type: ignore[attr-defined]
    assert config.connections == ConnectionPolicy(max_total=50, max_per_client=4)  # type: ignore[attr-defined]
    assert config.auth.max_failures == 8  # type: ignore[attr-defined]
    assert config.login_timeout == 15.0  # type: ignore[attr-defined]


def test_unknown_config_key_is_refused_with_the_known_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "gw.toml"
    config.write_text("[gateway.smtp]\nmax_conections = 5\n")
    with pytest.raises(ConfigError) as exc:
        file_defaults(smtp_command(), str(config))
    assert "unknown key 'max_conections'" in str(exc.value) and "max_connections," in str(exc.value)
    code, _, seen = configs(monkeypatch, "--config", str(config), "gateway", "smtp", "--domain", "d.example")
    assert code != 0 and not seen


def smtp_command() -> click.Command:
    group = cli.commands["gateway"]
    assert isinstance(group, click.Group)
    command = group.get_command(click.Context(group), "smtp")
    assert command is not None
    return command


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--idle-timeout", "0"),
        ("--idle-timeout", "nan"),
        ("--login-timeout", "inf"),
        ("--login-timeout", "-1"),
        ("--auth-delay", "nan"),
        ("--auth-lockout", "0"),
        ("--max-connections", "0"),
        ("--max-connections-per-ip", "0"),
        ("--auth-max-failures", "0"),
    ],
)
def test_absurd_limits_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, seen = configs(
        monkeypatch, "gateway", "smtp", "--domain", "d.example", "--allow", "127.0.0.1", option, value
    )
    assert code != 0 and not seen and option in out
