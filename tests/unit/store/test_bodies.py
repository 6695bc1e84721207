"""A message's body as schema version 3 keeps it: what a campaign repeats once, the rest on the row, read back whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from msgbridge.core.message import RECEIPT_ID, Channel, Message
from msgbridge.store.base import CampaignRecord, OutboxEntry, Store
from msgbridge.store.bodies import SEPARATOR, Template, split_key
from msgbridge.store.sqlite import SqliteStore

CASES = [
    ("Hi {name}, {{ok}}", ["Hi Ann, {ok}", "Hi , {ok}", "Hi a, {ok}, {ok}", "nope", "Hi {name}, {ok}"]),
    ("{a}{b}", ["xy", "", "x"]),
    ("plain", ["plain", "plainx", ""]),
    ("{a}, {a}!", ["x, y!", "x, , !", "x!"]),
    ("Code {c} for {n}", ["Code 1 for 2 for 3", "Code  for ", f"Code {SEPARATOR} for x"]),
    ("Hi {name}", ["Hi Ann", "Hi ", "Hi", f"Hi a{SEPARATOR}b", "Hi {name}"]),
    ("{name}!", ["Ann!", "!", "Ann", f"{SEPARATOR}!"]),
]


def test_a_value_holding_the_separator_is_kept_whole() -> None:
    for template, text in (("Hi {name}", f"Hi a{SEPARATOR}b"), ("{a} {b}", f"x {SEPARATOR}")):
        assert Template(template).fills(text) is None


@pytest.mark.parametrize(("template", "texts"), CASES)
def test_what_a_text_filled_in_gives_it_back_or_it_is_kept_whole(template: str, texts: list[str]) -> None:
    shape = Template(template)
    for text in texts:
        fills = shape.fills(text)
        assert fills is None or shape.text(fills) == text, (template, text, fills)
    assert shape.fills(texts[0]) is not None


def test_keys_split_at_their_first_colon() -> None:
    assert split_key("spring:+77010000001") == ("spring", "+77010000001")
    assert split_key("smtp:<a:b@c>") == ("smtp", "<a:b@c>")
    assert split_key("order7") == (None, "order7")
    assert split_key(":x") == ("", "x")


async def test_every_kind_of_message_reads_back_as_it_was_written(tmp_path: Path) -> None:
    messages = [
        (Message(to="+77010000001", text="Hi Ann!", sender="ACME", campaign="c"), "c:+77010000001"),
        (Message(to="+77010000002", text="not from the template", campaign="c"), "c:+77010000002"),
        (Message(to="+77010000003", text="Hi x\x1fy!", sender="Other", campaign="c"), "c:something-else"),
        (
            Message(
                channel=Channel.EMAIL, to="a@example.com", subject="S", html="<b>x</b>", text="plain",
                metadata={"k": "v"}, validity=timedelta(minutes=5), scheduled_at=datetime(2026, 1, 2, tzinfo=UTC),
                reference="R",
            ),
            "smtp:<id@example.com>",
        ),
        (Message(to="+77010000005", text="no campaign saved", campaign="unsaved"), "order5"),
    ]  # fmt: skip
    async with SqliteStore(tmp_path / "b.db") as store:
        await store.save_campaign(CampaignRecord("c", "Hi {name}!", "ACME", None, 1.0, {}))
        ids = await store.enqueue([OutboxEntry(m, key) for m, key in messages])
        stored = store.db.execute(
            "SELECT template_id IS NOT NULL, text, phone FROM messages ORDER BY n"
        ).fetchall()
    assert stored[0] == (1, "Ann", None)  # the template's holes only; the phone is the key's rest
    assert stored[2][0] == 0 and stored[2][2] == "+77010000003"  # a value with the separator: kept whole
    async with SqliteStore(tmp_path / "b.db") as store:  # another process: nothing from the enqueue cached
        for (m, _), message_id in zip(messages, ids, strict=True):
            rec = await store.get(message_id)
            assert rec is not None and rec.message == m
        claimed = await store.claim(10)
        assert sorted(r.message.id for r in claimed) == sorted(ids)
        assert {r.message.id: r.message for r in claimed} == {m.id: m for m, _ in messages}


def test_a_text_that_does_not_fit_costs_time_linear_in_its_length() -> None:
    """Many holes and a piece repeated all through the text: split left to right, no backtracking."""
    shape = Template("{a} {b} {c} {d} {e} {f} {g} {h}!")
    assert shape.fills("x " * 5000 + "?") is None
    assert shape.fills("x " * 5000 + "!") == SEPARATOR.join(["x"] * 7 + ["x " * 4993])


async def test_quotes_are_what_the_whole_records_say(tmp_path: Path) -> None:
    """``Store.quotes`` (sender, text, created_at), read without whole records, in a process that did not
    write them: a campaign's template filled in, a sender by its word, none without one."""
    messages = [
        (Message(to="+77010000001", text="Hi Ann!", sender="ACME", campaign="c"), "c:+77010000001"),
        (Message(to="+77010000002", text="not from the template", campaign="c"), "c:+77010000002"),
        (Message(to="+77010000003", text="plain, no sender"), "order3"),
    ]
    async with SqliteStore(tmp_path / "q.db") as store:
        await store.save_campaign(CampaignRecord("c", "Hi {name}!", "ACME", None, 1.0, {}))
        ids = await store.enqueue([OutboxEntry(m, key) for m, key in messages])
    async with SqliteStore(tmp_path / "q.db") as store:
        quotes = await store.quotes([*ids, "unknown", ids[0]])
        records = await store.get_many(ids)
        assert quotes == {i: (r.message.sender, r.message.text, r.created_at, None) for i, r in records.items()}
        assert [quotes[i].text for i in ids] == ["Hi Ann!", "not from the template", "plain, no sender"]
        assert quotes[ids[2]].sender is None
        assert await store.quotes([]) == {}


async def test_a_quote_carries_the_receipt_id_its_message_was_queued_with(tmp_path: Path) -> None:
    """``Quote.receipt_id``: the metadata's ``RECEIPT_ID`` (a submit_multi's announced id), None without."""
    messages = [
        Message(to="+77010000001", text="first", metadata={RECEIPT_ID: "msg_announced"}),
        Message(to="+77010000002", text="other metadata", metadata={"tag": "x"}),
        Message(to="+77010000003", text="none"),
    ]
    async with SqliteStore(tmp_path / "r.db") as store:
        ids = await store.enqueue([OutboxEntry(m, f"k{n}") for n, m in enumerate(messages)])
    async with SqliteStore(tmp_path / "r.db") as store:
        quotes = await store.quotes(ids)
        assert [quotes[i].receipt_id for i in ids] == ["msg_announced", None, None]
        generic = await Store.quotes(store, ids)  # what a store without its own quotes() says
        assert [generic[i].receipt_id for i in ids] == ["msg_announced", None, None]
