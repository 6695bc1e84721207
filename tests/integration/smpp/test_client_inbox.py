"""``msgbridge inbox``: MO messages received through smpp:// are stored and listed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner
from smpp_helpers import smpp_url

from msgbridge.cli.inbox import listen
from msgbridge.cli.main import cli
from msgbridge.core.message import InboundMessage
from msgbridge.simulators.smsc import SmscSimulator
from msgbridge.store.sqlite import SqliteStore

LONG = "Long reply: " + "one two three four five six seven eight nine ten " * 5


async def test_listen_stores_each_message(smsc: SmscSimulator, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    async with store:
        listener = asyncio.create_task(listen(store, smpp_url(smsc), seconds=10, count=2, echo=False))

        async def send() -> None:
            # parts wait at the SMSC until the listener binds
            await smsc.send_mo(system_id="u", source="+77010000001", destination="1234", text="short one")
            await smsc.send_mo(
                system_id="u",
                source="+77010000002",
                destination="1234",
                text=LONG,
                concat="sar",
                order="reverse",
            )

        await asyncio.gather(send(), listener)
        got = listener.result()
        stored = await store.list_inbound(10)
    assert sorted(m.text for m in got) == sorted(["short one", LONG])
    assert sorted((m.source, m.text, m.parts) for m in stored) == [
        ("+77010000001", "short one", 1),
        ("+77010000002", LONG, 2),
    ]


def test_inbox_lists_stored_messages(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"

    async def seed() -> None:
        async with SqliteStore(db) as store:
            await store.add_inbound(
                [
                    InboundMessage(
                        source="+77010000001",
                        destination="1234",
                        text="hello",
                        link="smpp://u@h:1",
                        received_at=1_700_000_000.0,
                    ),
                    InboundMessage(
                        source="+77010000002",
                        destination="1234",
                        text="two parts",
                        parts=2,
                        link="smpp://u@h:1",
                        received_at=1_700_000_001.0,
                    ),
                ]
            )

    asyncio.run(seed())
    runner = CliRunner()
    out = runner.invoke(cli, ["--store", str(db), "inbox"])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert lines == [
        "2023-11-14 22:13:21  +77010000002 -> 1234 (2 parts): two parts",
        "2023-11-14 22:13:20  +77010000001 -> 1234: hello",
    ]
    out = runner.invoke(cli, ["--store", str(db), "inbox", "--json", "--limit", "1"])
    assert out.exit_code == 0, out.output
    [record] = [json.loads(line) for line in out.output.splitlines()]
    assert (record["source"], record["text"], record["parts"]) == ("+77010000002", "two parts", 2)


def test_inbox_empty_and_usage(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["--store", str(tmp_path / "empty.sqlite"), "inbox"])
    assert out.exit_code == 0 and "no inbound messages" in out.output
    out = runner.invoke(cli, ["--store", str(tmp_path / "empty.sqlite"), "inbox", "--seconds", "1"])
    assert out.exit_code != 0
