"""Status mail back to whoever sent a mail through the gateway (``--notify-via``).

The 250 only says the SMS are queued; what happened next (delivered,
refused by the network, expired) is reported by one mail to the envelope
sender once every SMS of that mail has a final status, or after
``notify_after`` seconds with whatever is known then (a link without
receipts never reaches a final status). The envelope sender can be trusted
enough for this only because nobody can send through the gateway without
logging in or being allowlisted; mail with the null sender ``<>`` gets no
notification, as RFC 5321 asks for bounces.

Tracking is in memory: a restart forgets pending notifications (the SMS are
not affected).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from msgbridge.adapters.base import Transport
from msgbridge.core.message import Channel, Message
from msgbridge.store.base import MessageRecord, Store

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    reply_to: str
    ids: tuple[str, ...]
    since: float = field(default_factory=time.monotonic)


def status_mail(reply_to: str, sender: str, records: Sequence[MessageRecord]) -> Message:
    """The notification for one accepted mail: a summary subject and one line per SMS."""
    counts: dict[str, int] = {}
    lines = []
    for rec in records:
        counts[rec.status.value] = counts.get(rec.status.value, 0) + 1
        why = f" ({rec.last_error})" if rec.last_error is not None and not rec.status.is_success else ""
        lines.append(f"{rec.message.to}: {rec.status.value}{why}  [id {rec.message.id}]")
    summary = ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items()))
    text = "Your mail to the SMS gateway was sent as SMS:\n\n" + "\n".join(lines) + "\n"
    return Message(
        channel=Channel.EMAIL, to=reply_to, sender=sender, subject=f"SMS status: {summary}", text=text
    )


class StatusNotifier:
    def __init__(
        self,
        store: Store,
        transport: Transport,
        *,
        sender: str,
        notify_after: float = 600.0,
        interval: float = 0.5,
    ) -> None:
        self.store = store
        self.transport = transport
        self.sender = sender
        self.notify_after = notify_after
        self.interval = interval
        self.sent = 0
        self.failed = 0
        self._pending: list[_Pending] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Mails whose sender has not been notified yet."""
        return len(self._pending)

    def track(self, message_ids: Sequence[str], reply_to: str) -> None:
        if reply_to and message_ids:
            self._pending.append(_Pending(reply_to, tuple(message_ids)))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="smtp-gateway-notify")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:
                log.exception("smtp gateway: status notification round failed")
            await asyncio.sleep(self.interval)

    async def check_once(self) -> int:
        """Mail every tracked sender whose SMS are all final (or waited long enough); returns how many."""
        due: list[tuple[_Pending, list[MessageRecord]]] = []
        keep: list[_Pending] = []
        now = time.monotonic()
        tracked, self._pending = self._pending, []
        for item in tracked:
            records = [r for r in [await self.store.get(i) for i in item.ids] if r is not None]
            if records and (all(r.status.is_final for r in records) or now - item.since >= self.notify_after):
                due.append((item, records))
            else:
                keep.append(item)
        self._pending = keep + self._pending  # plus whatever was tracked meanwhile
        if not due:
            return 0
        mails = [status_mail(item.reply_to, self.sender, records) for item, records in due]
        results = await self.transport.send(mails)
        for mail, result in zip(mails, results, strict=True):
            if result.error is not None:
                self.failed += 1
                log.warning("smtp gateway: status mail to %s failed: %s", mail.to, result.error)
            else:
                self.sent += 1
        return len(mails)
