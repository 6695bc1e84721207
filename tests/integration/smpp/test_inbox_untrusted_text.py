"""``msgbridge inbox`` shows an MO sender's text without obeying it: no escape sequences, no rich markup."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from smpp_helpers import smpp_url

from msgbridge.cli.inbox import listen
from msgbridge.cli.main import cli
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.sqlite import SqliteStore

# Window title (OSC 0), clipboard write (OSC 52), a hyperlink (OSC 8), overprinting, a bidi override,
# an 8-bit CSI and rich markup: everything a sender could use to act on the reader's terminal.
HOSTILE = (
    "\x1b]0;pwned\x07title "
    "\x1b]52;c;cm0gLXJmIH4=\x07clip "
    "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ "
    "ok\rOK\x08 \u202eevil\u202c \x9b31m "
    "[red]red[/red] [link=http://evil.example]link[/link]\nsecond line"
)
SHOWN = (
    "\\x1b]0;pwned\\x07title "
    "\\x1b]52;c;cm0gLXJmIH4=\\x07clip "
    "\\x1b]8;;http://evil.example\\x1b\\click\\x1b]8;;\\x1b\\ "
    "ok\\rOK\\x08 \\u202eevil\\u202c \\x9b31m "
    "[red]red[/red] [link=http://evil.example]link[/link]\\nsecond line"
)


async def test_mo_text_is_escaped_when_listened_and_when_listed(
    smsc: SmscSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db.sqlite"
    async with SqliteStore(db) as store:
        listener = asyncio.create_task(listen(store, smpp_url(smsc), seconds=30, count=1))
        await smsc.send_mo(
            system_id="u", source="+77010000001", destination="1234", text=HOSTILE, concat="sar"
        )
        await listener
    heard = capsys.readouterr().out
    runner = CliRunner()
    listed = await asyncio.to_thread(runner.invoke, cli, ["--store", str(db), "inbox"])
    as_json = await asyncio.to_thread(runner.invoke, cli, ["--store", str(db), "inbox", "--json"])
    assert listed.exit_code == 0 and as_json.exit_code == 0, listed.output + as_json.output
    for output in (heard, listed.output, as_json.output):
        assert not any(c in output for c in "\x1b\x07\x08\r\x9b\u202e\u202c")
    for output in (heard, listed.output):
        [line] = output.splitlines()
        assert "  +77010000001 -> 1234 (" in line and line.endswith(f" parts): {SHOWN}")
    [record] = [json.loads(line) for line in as_json.output.splitlines()]
    assert record["text"] == HOSTILE  # the JSON escapes still say exactly what was sent
