"""An option declared ``private`` is hidden like the password: printed, logged, stored and listed.

The only built-in option that is a credential is ``push_secret`` (what the
provider pushes of Mobizon and SMSC.ru are verified with; the other credentials
are the URL's user and password); a transport that takes one as an option, a webhook token say,
declares it ``private=True`` and every place that shows a URL hides it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from msgbridge.adapters.base import redact_for, registry
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.cli.main import cli, main
from msgbridge.core import options as opt
from msgbridge.core.options import OptionSet
from msgbridge.core.redaction import SecretFilter

TOKEN = "tok-9f8e7d6c5b4a"


class Tokened(MemoryTransport):
    scheme = "tokened"
    declared_options = (MemoryTransport.declared_options or OptionSet()) + OptionSet(
        opt.text("token", None, "the webhook token", private=True, aliases=("webhook_token",)),
    )


def test_the_declaration_names_its_private_options() -> None:
    assert Tokened.private_options() == {"token", "webhook_token"}
    assert MemoryTransport.private_options() == frozenset()
    for scheme in registry.BUILTIN:  # the only built-in credential option: the secret provider pushes carry
        expected = {"push_secret"} if scheme in ("mobizon", "smsc") else set()
        assert registry.get(scheme).private_options() == expected


def test_a_printed_url_hides_the_value_and_keeps_it_for_use() -> None:
    t = Tokened.from_url(f"tokened://host?token={TOKEN}&dlr_delay_ms=5")
    assert str(t.url) == "tokened://host?token=***&dlr_delay_ms=5"
    assert TOKEN not in repr(t)
    assert t.settings.get_text("token") == TOKEN
    assert t.url.reveal() == f"tokened://host?token={TOKEN}&dlr_delay_ms=5"
    assert (
        redact_for(t, f"tokened://u:pw@host?webhook_token={TOKEN}")
        == "tokened://u:***@host?webhook_token=***"
    )


def test_a_library_logging_the_value_shows_stars() -> None:
    Tokened.from_url(f"tokened://host?token={TOKEN}")
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, f"POST https://hooks.example/{TOKEN}", (), None
    )
    SecretFilter().filter(record)
    assert TOKEN not in record.getMessage() and "***" in record.getMessage()


def test_the_option_tables_say_it_is_hidden() -> None:
    [token] = [o for o in Tokened.declared_options or () if o.name == "token"]
    assert "(private: shown as `***`)" in (Tokened.declared_options or OptionSet()).markdown()
    assert {o["name"]: o["private"] for o in (Tokened.declared_options or OptionSet()).describe()}[
        "token"
    ] is True
    assert token.described().startswith("the webhook token")


def test_the_campaign_stores_and_prints_it_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(registry._classes, "tokened", Tokened)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.csv").write_text("phone\n+77010000001\n", encoding="utf-8")
    via = f"tokened://host?token={TOKEN}&dlr_delay_ms=1"
    monkeypatch.setattr("sys.argv", ["msgbridge", "campaign", "run", "--via", via, "--csv", "p.csv",
                                     "--template", "Hi", "--json"])  # fmt: skip
    main()  # exit code 0: returns
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    assert json.loads(out.out)["transport"] == "tokened://host?token=***&dlr_delay_ms=1"
    with sqlite3.connect(tmp_path / "msgbridge.db") as db:
        stored = db.execute("SELECT transport FROM campaigns").fetchall()
    assert stored == [("tokened://host?token=***&dlr_delay_ms=1",)]


def test_transports_lists_it_as_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry._classes, "tokened", Tokened)
    data = json.loads(CliRunner().invoke(cli, ["transports", "--json"]).output)
    assert {o["name"]: o["private"] for o in data["tokened"]["options"]}["token"] is True
    text = CliRunner().invoke(cli, ["transports", "--options"], env={"COLUMNS": "400"}).output
    assert "the webhook token (private: shown as `***`)" in text
