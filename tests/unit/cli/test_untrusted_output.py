"""``status``, ``send`` and ``campaign status`` print provider and CSV text without obeying it.

A provider's error text, a native id and a campaign name (from a CSV file name)
come from outside; they reach the terminal through ``msgbridge.core.terminal``.
The store is real (SQLite in a temp dir); what a provider said is recorded in
it as the dispatcher would, then the real entry point prints it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Run

from msgbridge.adapters.base import registry
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.core.errors import AuthError, ErrorCode, ErrorInfo
from msgbridge.core.message import Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.store.base import CampaignRecord, OutboxEntry
from msgbridge.store.sqlite import SqliteStore

HOSTILE = "\x1b]0;pwned\x07 \x1b]8;;http://evil.example\x1b\\x\x1b]8;;\x1b\\ [red]red[/red] [link=http://evil.example]y[/link]"
CONTROL = "\x1b\x07\x9b"


async def seed(db: Path) -> str:
    async with SqliteStore(db) as store:
        await store.save_campaign(
            CampaignRecord(f"c[red]x[/red]{CONTROL}", "Hi", None, f"memory://{CONTROL}", 0.0, {})
        )
        [mid] = await store.enqueue(
            [OutboxEntry(Message(to="+77011234567", text="hi", campaign=f"c[red]x[/red]{CONTROL}"), "k1")]
        )
        await store.claim(10, ids=[mid])
        error = ErrorInfo(code=ErrorCode.PERMANENT_FAILURE, native_code="9", native_message=HOSTILE)
        await store.record_results(
            [
                SendResult(
                    message_id=mid, status=DeliveryStatus.REJECTED, native_id=f"n{HOSTILE}", error=error
                )
            ],
            link="memory://",
        )
        return mid


def test_status_shows_provider_text_literally(
    tmp_path: Path, msgbridge: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    mid = asyncio.run(seed(db))
    monkeypatch.setenv("COLUMNS", "400")  # one line per field, so the texts are not wrapped
    r = msgbridge("--store", str(db), "status", mid)
    code, out = r.code, r.output
    assert code == 0, out
    assert not any(c in out for c in CONTROL)
    assert "[red]red[/red] [link=http://evil.example]y[/link]" in out  # shown, not obeyed
    assert "\\x1b]0;pwned\\x07" in out
    r = msgbridge("--store", str(db), "status", mid, "--json")
    code, out = r.code, r.output
    assert code == 0 and not any(c in out for c in CONTROL)


def test_campaign_status_shows_its_name_and_transport_literally(
    tmp_path: Path, msgbridge: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    asyncio.run(seed(db))
    monkeypatch.setenv("COLUMNS", "400")
    name = f"c[red]x[/red]{CONTROL}"
    for args in (["campaign", "status", name], ["campaign", "status", name, "--json"]):
        r = msgbridge("--store", str(db), *args)
        code, out = r.code, r.output
        assert code == 0, out
        assert not any(c in out for c in CONTROL)
    r = msgbridge("--store", str(db), "campaign", "status", name)
    code, out = r.code, r.output
    # A transport URL that cannot be parsed is shown without its rest, so nothing of it can leak a secret.
    assert "c[red]x[/red]\\x1b\\x07\\x9b" in out and "via memory://<hidden>" in out


class RefusingTransport(MemoryTransport):
    """A peer whose refusal text is hostile, as an SMTP server's 535 line or an SMPP system_id could be."""

    async def open(self) -> None:
        raise AuthError(f"login refused by server: {HOSTILE}")


def test_error_line_from_a_peer_is_shown_literally(
    tmp_path: Path, msgbridge: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry._classes, "refusing", RefusingTransport)
    r = msgbridge(
        "--store",
        str(tmp_path / "s.db"),
        "send",
        "--via",
        "refusing://",
        "--to",
        "+77011234567",
        "--text",
        "hi",
    )
    code, out = r.code, r.output
    assert code == 4  # nothing sent: the peer refused the login
    assert not any(c in out for c in CONTROL)
    assert "error: AUTH_FAILED: login refused by server: \\x1b]0;pwned\\x07" in out
