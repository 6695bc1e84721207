"""What a send's answers mean for each message: recorded, retried later, or failed for good.

Kept apart from the send loop so the rules are read in one place: a TIMEOUT
(outcome unknown) stays MAYBE_SUBMITTED and is never resent blindly; a
retryable refusal is requeued with exponential backoff honouring the peer's
retry-after, unless the peer asks for longer than ``max_retry_wait``; after
``max_attempts`` it is FAILED with the last error.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from msgbridge.core.errors import ErrorCode, ErrorInfo, MessagingError
from msgbridge.core.message import SendResult
from msgbridge.core.ratelimit import Backoff, describe_wait
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.stats import DispatchStats
from msgbridge.store.base import MessageRecord, Store

log = logging.getLogger("msgbridge.dispatch.dispatcher")


class Outcomes:
    """Sorts results and send errors into what to record and what to retry; requeues the retries."""

    def __init__(
        self,
        store: Store,
        stats: DispatchStats,
        *,
        max_attempts: int,
        backoff: Backoff,
        max_retry_wait: float,
    ) -> None:
        self.store = store
        self.stats = stats
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait

    def on_send_error(
        self,
        part: list[MessageRecord],
        exc: MessagingError,
        outcomes: list[SendResult],
        retry: list[tuple[MessageRecord, ErrorInfo]],
    ) -> None:
        info = exc.info
        log.warning("send of %d messages failed: %s", len(part), info)
        for rec in part:
            self.stats.count_error(info.code)
            if info.code.outcome_unknown:
                outcomes.append(
                    SendResult(message_id=rec.message.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=info)
                )
                self.stats.in_doubt += 1
            elif (refusal := self.wait_refused(info)) is not None:
                outcomes.append(
                    SendResult(message_id=rec.message.id, status=DeliveryStatus.FAILED, error=refusal)
                )
                self.stats.failed += 1
            elif info.code.retryable and rec.attempts < self.max_attempts:
                retry.append((rec, info))
            elif info.code.retryable:
                outcomes.append(
                    SendResult(message_id=rec.message.id, status=DeliveryStatus.FAILED, error=info)
                )
                self.stats.failed += 1
            else:
                retry.append((rec, info))  # put back as it was: the run stops, nothing was sent

    def classify(
        self,
        rec: MessageRecord,
        res: SendResult,
        outcomes: list[SendResult],
        retry: list[tuple[MessageRecord, ErrorInfo]],
    ) -> None:
        error = res.error
        if error is None:
            outcomes.append(res)
            if res.status is DeliveryStatus.MAYBE_SUBMITTED:
                self.stats.in_doubt += 1
            elif res.status.is_final and not res.status.is_success:
                self.stats.failed += 1  # refused without saying why
            else:
                self.stats.submitted += 1
            return
        self.stats.count_error(error.code)
        if error.code.outcome_unknown or res.status is DeliveryStatus.MAYBE_SUBMITTED:
            outcomes.append(replace(res, status=DeliveryStatus.MAYBE_SUBMITTED))
            self.stats.in_doubt += 1
        elif (refusal := self.wait_refused(error)) is not None:
            outcomes.append(replace(res, status=DeliveryStatus.FAILED, error=refusal))
            self.stats.failed += 1
        elif error.retryable and rec.attempts < self.max_attempts:
            retry.append((rec, error))
        else:
            if not res.status.is_final:
                res = replace(res, status=DeliveryStatus.FAILED)
            outcomes.append(res)
            self.stats.failed += 1

    def wait_refused(self, error: ErrorInfo) -> ErrorInfo | None:
        """THROTTLED, naming the asked wait, when the peer wants longer than ``max_retry_wait``; else None.

        Waiting out ``Retry-After: 999999`` would hold a send for 11.6 days, and requeueing it at the
        cap would only ask again a peer that said "not now": the message ends FAILED with a reason the
        user can act on (send it later, or raise ``max_retry_wait``).
        """
        if not error.retryable or error.retry_after is None or error.retry_after <= self.max_retry_wait:
            return None
        asked = (
            f"asked to wait {describe_wait(error.retry_after)}, longer than "
            f"max_retry_wait={self.max_retry_wait:g} s: not retried"
        )
        text = f"{error.native_message}; {asked}" if error.native_message else asked
        return replace(error, code=ErrorCode.THROTTLED, native_message=text)

    async def requeue(self, retry: list[tuple[MessageRecord, ErrorInfo]]) -> None:
        """Requeue in one store call per attempt number: one backoff delay per group, not per message."""
        groups: dict[int, list[tuple[MessageRecord, ErrorInfo]]] = {}
        for rec, err in retry:
            groups.setdefault(rec.attempts, []).append((rec, err))
        for attempts, items in groups.items():
            hints = [e.retry_after for _, e in items if e.retry_after is not None]
            wait = self.backoff.delay_within(attempts, max(hints) if hints else None, self.max_retry_wait)
            delay = self.max_retry_wait if wait is None else wait
            await self.store.requeue(
                [r.message.id for r, _ in items], not_before=time.time() + delay, error=items[0][1]
            )
            self.stats.retried += len(items)
