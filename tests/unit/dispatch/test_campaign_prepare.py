"""Preparing a campaign: a re-used name must be the same campaign; repeats within a file are repeats."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.core.errors import ConfigError, ErrorCode, TemplateError
from msgbridge.core.message import Campaign, Recipient
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.campaign import build_messages, prepare_campaign, transport_identity
from msgbridge.store.sqlite import SqliteStore

PEOPLE = tuple(Recipient(phone=f"+7701000000{i}", fields={"name": f"P{i}"}, row=i + 2) for i in range(3))


def campaign(**changes: object) -> Campaign:
    base: dict[str, object] = {
        "name": "spring",
        "template": "Hi {name}",
        "recipients": PEOPLE,
        "sender": "ACME",
        "transport": "smpp://u:***@smsc.example:2775?window=10",
    }
    return Campaign(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stored", "identity"),
    [
        ("smpp://u:***@smsc.example:2775?window=10", "smpp://smsc.example:2775"),
        ("smpp://other:***@smsc.example:2775", "smpp://smsc.example:2775"),
        ("selzy://***@api.selzy.com", "selzy://api.selzy.com"),
        ("memory://?journal=/tmp/j.log", "memory://"),
        (
            "smpp://q:***@XYZ99@h:1",
            "smpp://h:1",
        ),  # a password with an unencoded @: the host is after the last @
        ("smpp://u@h:notaport", "smpp://?"),
        ("prod", "prod"),
        (None, None),
    ],
)
def test_transport_identity_is_scheme_host_port(stored: str | None, identity: str | None) -> None:
    assert transport_identity(stored) == identity


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"template": "Bye {name}"}, "a different template (was 'Hi {name}', now 'Bye {name}')"),
        ({"sender": None}, "a different sender (was 'ACME', now none)"),
        ({"sender": "OTHER"}, "a different sender (was 'ACME', now 'OTHER')"),
        (
            {"transport": "smpp://u:***@backup.example:2775"},
            "transport (was 'smpp://smsc.example:2775', now 'smpp://backup.example:2775')",
        ),
        ({"transport": "prod"}, "a different transport"),
        (
            {"template": "x", "sender": "B"},
            "a different template and sender (template was 'Hi {name}', now 'x'; sender was 'ACME', now 'B')",
        ),
    ],
)
async def test_a_reused_name_with_another_campaign_is_refused(
    tmp_path: Path, change: dict[str, object], named: str
) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        await prepare_campaign(store, campaign())
        with pytest.raises(ConfigError, match="--name") as err:
            await prepare_campaign(
                store, campaign(**change, recipients=(*PEOPLE, Recipient(phone="+77019999999")))
            )
        assert named in str(err.value) and "--append" in str(err.value)
        assert "***" not in str(err.value)
        assert await store.counts("spring") == {DeliveryStatus.QUEUED: 3}  # nothing was added
        appended = await prepare_campaign(
            store, campaign(**change, recipients=(*PEOPLE, Recipient(phone="+77019999999", fields={"name": "N"}))),
            append=True,
        )  # fmt: skip
        assert (appended.queued, appended.already) == (1, 3)


async def test_the_same_campaign_resumes_whatever_its_options_and_credentials(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        first = await prepare_campaign(store, campaign())
        again = await prepare_campaign(
            store, campaign(transport="smpp://v:***@smsc.example:2775?window=100&binds=2", sender="ACME")
        )
        assert (first.queued, again.queued, again.already) == (3, 0, 3)


async def test_a_phone_repeated_in_the_file_is_a_repeat_not_from_before(tmp_path: Path) -> None:
    rows = (*PEOPLE, Recipient(phone="87010000001", fields={"name": "Again"}, row=9))
    async with SqliteStore(tmp_path / "s.db") as store:
        report = await prepare_campaign(store, campaign(recipients=rows), region="KZ")
    assert (report.rows, report.queued, report.already) == (4, 3, 0)
    assert [str(r) for r in report.repeats] == ["line 9: +77010000001 is already on line 3; sent once"]


def test_a_row_that_failed_does_not_make_a_later_one_a_repeat() -> None:
    rows = (
        Recipient(phone="+77010000001", fields={}, row=2),
        Recipient(phone="+77010000001", fields={"name": "A"}, row=3),
    )
    repeats: list[object] = []
    built, problems = build_messages(campaign(recipients=rows), repeats=repeats)  # type: ignore[arg-type]
    assert [e.row for e, _ in built] == [3] and [p.line for p in problems] == [2] and repeats == []


async def test_bad_templates_stop_the_campaign_before_anything_is_written(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        for template in ("", "Hi {name"):
            with pytest.raises(TemplateError):
                await prepare_campaign(store, campaign(template=template))
        assert await store.get_campaign("spring") is None


def test_a_text_empty_once_filled_in_is_a_bad_row() -> None:
    rows = (Recipient(phone="+77010000001", fields={"name": " "}, row=2),)
    built, problems = build_messages(campaign(template="{name}", recipients=rows))
    assert built == [] and [(p.line, p.code, p.reason) for p in problems] == [
        (2, ErrorCode.INVALID_ARGUMENT, "the text is empty once the template is filled in")
    ]
