"""The end of ``run_campaign`` beside another live run of the same campaign: what that run still holds
is read before the campaign's counts, so a message it settles between the two reads is never "unsent".

This is the race a two-worker PostgreSQL test once lost (exit 1 instead of 3): the other run's answer
for a message it held landed after this run counted it QUEUED and before it asked what others hold.
Here the other run is a second store on the same file, and it settles what it holds exactly there: right
after this run's last ``counts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from msgbridge.adapters.base import open_transport
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.cli.outcome import ExitCode, exit_code
from msgbridge.core.message import SendResult
from msgbridge.core.status import DeliveryStatus as S
from msgbridge.dispatch import run as run_module
from msgbridge.dispatch.campaign import PrepareReport, write_rows
from msgbridge.dispatch.run import RunRequest, csv_rows, run_campaign
from msgbridge.store.sqlite import SqliteStore

ROWS = 10
HELD = 3


async def test_what_another_run_settles_between_the_last_reads_still_counts_as_held_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    people = tmp_path / "people.csv"
    people.write_text("phone,name\n" + "".join(f"+7701{i:07d},P{i}\n" for i in range(ROWS)), encoding="utf-8")
    request = RunRequest(name="c", template="Hi {name}", csv_path=str(people), transport_label="memory://")
    other = SqliteStore(db)
    await other.open()
    try:
        # The other run queued the file and holds three messages, in flight there.
        with csv_rows(request) as rows:
            await write_rows(other, request.campaign(), rows, PrepareReport(campaign="c"))
        held = [r.message.id for r in await other.claim(HELD, campaign="c")]

        class SettledByTheOtherRun(SqliteStore):
            reads = 0

            async def counts(self, campaign: str | None = None) -> Mapping[S, int]:  # type: ignore[override]
                got = await super().counts(campaign)
                self.reads += 1
                if self.reads == 2:  # the run's last read: its answers arrive at the other run just now
                    await other.mark_in_doubt(held)
                    await other.record_results(
                        [SendResult(message_id=m, status=S.SUBMITTED, native_id=f"n-{m}") for m in held],
                        link="memory://",
                    )
                return got

        monkeypatch.setattr(run_module, "open_store", lambda dsn: SettledByTheOtherRun(db))
        transport = open_transport("memory://?dlr=no")
        assert isinstance(transport, MemoryTransport)
        async with transport:
            result = await run_campaign(str(db), transport, request)
        assert len(transport.accepted) == ROWS - HELD  # never what the other run held
        code = exit_code(result.counts, skipped=result.report.skipped, elsewhere=result.elsewhere)
        assert (result.elsewhere, code) == (HELD, ExitCode.IN_DOUBT), (result.counts, result.elsewhere)
    finally:
        await other.close()
