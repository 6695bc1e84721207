from __future__ import annotations

import json
from pathlib import Path

import pytest

from msgbridge.adapters.base import ReferenceLookup, open_transport
from msgbridge.adapters.memory import MemoryTransport, parse_mix, read_journal
from msgbridge.config import load_config
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.message import Campaign, Message, Recipient
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.campaign import build_messages, prepare_campaign
from msgbridge.dispatch.csvsource import read_csv
from msgbridge.store.sqlite import SqliteStore


def test_csv_semicolons_bom_and_header_case(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_bytes("\ufeffName ; PHONE\nAnn;+77010000001\n\n Bob ;+77010000002;extra\nCid\n".encode())
    data = read_csv(f)
    assert data.columns == ("Name", "PHONE") and data.phone_column == "PHONE"
    assert [(r.line, r.fields, r.problem) for r in data.rows] == [
        (2, {"Name": "Ann", "PHONE": "+77010000001"}, None),
        (4, {"Name": "Bob", "PHONE": "+77010000002"}, "3 fields but the header has 2"),
        (5, {"Name": "Cid"}, None),
    ]


def test_csv_empty_and_directory(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        read_csv(tmp_path / "e.csv")
    with pytest.raises(ConfigError, match="directory"):
        read_csv(tmp_path)


def test_build_messages_reports_each_problem() -> None:
    campaign = Campaign(
        name="n",
        template="Hi {name}, {{x}}",
        recipients=(
            Recipient(phone="87011234567", fields={"name": "A"}, row=2),
            Recipient(phone="+77011234568", fields={}, row=3),
            Recipient(phone="nope", fields={"name": "C"}, row=4),
        ),
    )
    built, problems = build_messages(campaign, region="KZ")
    assert [(e.message.to, e.message.text, e.idempotency_key) for e, _ in built] == [
        ("+77011234567", "Hi A, {x}", "n:+77011234567")
    ]
    assert [(p.line, p.code, p.reason) for p in problems] == [
        (3, ErrorCode.INVALID_ARGUMENT, "template field {name} has no value"),
        (
            4,
            ErrorCode.INVALID_DESTINATION,
            "invalid phone number 'nope': (1) The string supplied did not seem to be a phone number.",
        ),
    ]


async def test_prepare_twice_queues_once_and_dedupes_phones(tmp_path: Path) -> None:
    recipients = tuple(
        Recipient(phone=p, fields={}, row=i)
        for i, p in enumerate(["+77011234567", "77011234567", "+77011234568"])
    )
    campaign = Campaign(name="c", template="hello", recipients=recipients)
    async with SqliteStore(tmp_path / "s.db") as store:
        first = await prepare_campaign(store, campaign)
        second = await prepare_campaign(store, campaign)
        assert (first.queued, first.already, first.segments, dict(first.encodings)) == (2, 0, 2, {"gsm7": 2})
        assert [(r.line, r.first_line, r.phone) for r in first.repeats] == [(1, 0, "+77011234567")]
        assert (second.queued, second.already, len(second.repeats)) == (0, 2, 1)
        assert await store.counts("c") == {DeliveryStatus.QUEUED: 2}
        assert (await store.get_campaign("c")) is not None


def test_config_file_env_and_errors(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text('[store]\npath = "a.db"\n[transports]\nSms = "smpp://u:p@h:1"\n', encoding="utf-8")
    cfg = load_config(str(f), env={})
    assert cfg.store == "a.db" and cfg.transports == {"sms": "smpp://u:p@h:1"} and cfg.source == str(f)
    cfg = load_config(
        str(f),
        env={
            "MSGBRIDGE_STORE": "b.db",
            "MSGBRIDGE_TRANSPORT_SMS": "memory://",
            "MSGBRIDGE_TRANSPORT_X": "memory://x",
        },
    )
    assert (
        cfg.store == "b.db" and cfg.resolve_via("SMS") == "memory://" and cfg.resolve_via("x") == "memory://x"
    )
    assert cfg.resolve_via("smtp://h") == "smtp://h"
    with pytest.raises(ConfigError, match="configured: sms, x"):
        cfg.resolve_via("other")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.toml"), env={})
    f.write_text("[store\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(str(f), env={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "delivered:0.9,undeliverable:0.05,expired:0.05",
            {"DELIVERED": 0.9, "UNDELIVERABLE": 0.05, "EXPIRED": 0.05},
        ),
        ("DELIVERED", {"DELIVERED": 1.0}),
        ("rejected:1, failed:2", {"REJECTED": 1.0, "FAILED": 2.0}),
    ],
)
def test_parse_mix(text: str, expected: dict[str, float]) -> None:
    assert {k.value: v for k, v in parse_mix(text).items()} == expected


@pytest.mark.parametrize("text", ["nope:1", "delivered:x", "delivered:0", "delivered:-1", ""])
def test_parse_mix_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_mix(text)


async def test_journal_survives_a_torn_line(tmp_path: Path) -> None:
    journal = tmp_path / "j.log"
    journal.write_text(
        '{"ref": "old", "id": "old", "native_ids": ["n0"], "to": "+7"}\n{"ref": "torn', encoding="utf-8"
    )
    t = open_transport(f"memory://?journal={journal}")
    assert isinstance(t, MemoryTransport) and isinstance(t, ReferenceLookup)
    msg = Message(to="+77011234567", text="x", reference="r1")
    [res] = await t.send([msg])
    entries = read_journal(str(journal))
    assert set(entries) == {"old", "r1"}
    found = await t.lookup(["r1", "old", "missing"])
    assert set(found) == {"r1", "old"} and found["r1"].native_id == res.native_id
    assert json.loads(journal.read_text(encoding="utf-8").splitlines()[-1])["id"] == msg.id
    await t.aclose()


async def test_memory_without_journal_cannot_look_up() -> None:
    t = open_transport("memory://")
    # no lookup() at all: a re-run never takes "not in a journal" for "not sent"
    assert not isinstance(t, ReferenceLookup) and not hasattr(t, "lookup")
