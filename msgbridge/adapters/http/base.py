"""The HTTP transport every provider shares: one send loop over a provider's payload.

:meth:`HttpTransport.send` is written once: check -> group -> chunk ->
build -> call with retry -> parse -> results in message order. Each provider
supplies a :class:`~msgbridge.adapters.http.payload.Payload` (what goes into
a request, how an answer is read) and an ``exchange`` (how a call reaches
it: credentials, hosts, tokens); the client below it (``client.py``) makes
requests and retries them. See ``docs/adding-a-provider.md``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import ClassVar

from msgbridge.adapters.base import ProviderCampaignResult
from msgbridge.adapters.http.client import (
    HTTP_OPTIONS,
    IN_CALL_WAIT,
    SAFE_TO_RESEND,
    HttpClient,
    chunks,
)
from msgbridge.adapters.http.payload import (
    OPTIONAL_FIELDS,
    Call,
    Payload,
    uncarried,
    unsupported_result,
    without,
)
from msgbridge.adapters.http.replies import (
    HTTP_ALWAYS_ERRORS,
    HTTP_STATUS,
    MAX_JSON_DEPTH,
    NATIVE_TEXT_LIMIT,
    Reply,
    classify_exception,
    classify_response,
    http_status_code,
    json_depth_within,
    parse_json,
    parse_retry_after,
    truncate,
)
from msgbridge.adapters.linkstate import REFUSALS
from msgbridge.core.errors import ErrorCode, ErrorInfo, MessagingError
from msgbridge.core.message import Campaign, DeliveryReceipt, Message, SendResult

__all__ = [
    "HTTP_ALWAYS_ERRORS",
    "HTTP_OPTIONS",
    "HTTP_STATUS",
    "IN_CALL_WAIT",
    "MAX_JSON_DEPTH",
    "NATIVE_TEXT_LIMIT",
    "SAFE_TO_RESEND",
    "HttpTransport",
    "ProviderCampaignResult",
    "Reply",
    "chunks",
    "classify_exception",
    "classify_response",
    "http_status_code",
    "json_depth_within",
    "parse_json",
    "parse_retry_after",
    "truncate",
]

log = logging.getLogger(__name__)


@dataclass
class Screened:
    """Messages after the unsupported-field rule: what may go, what was refused, what was left out."""

    ready: list[Message]
    refused: dict[int, SendResult] = field(default_factory=dict)
    warnings: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def finish(self, results: list[SendResult]) -> list[SendResult]:
        """``results`` (one per message, in order) with the warnings of fields left out added."""
        for index, extra in self.warnings.items():
            results[index] = replace(results[index], warnings=results[index].warnings + extra)
        return results


class HttpTransport(HttpClient):
    """Base for provider transports: the client, and the send and status loops over ``payload``."""

    # Rounds of one batch's send: a provider that names the messages it refused (and took none of the
    # batch) is asked again with the rest, at most this many times.
    send_rounds: ClassVar[int] = 1
    # The provider's request builder and response parser; set by each provider's __init__.
    payload: Payload

    def screen(self, messages: Sequence[Message]) -> Screened:
        """The unsupported-field rule: a field the provider cannot carry refuses the message (UNSUPPORTED,
        naming the field), or with ``unsupported=ignore`` is left out and said so; another channel is
        always refused."""
        screened = Screened(ready=list(messages))
        carries, channels = self.payload.carries, self.payload.channels
        # The fields the provider cannot carry and the channel, read in one call per message: the rule
        # must not slow a 10,000-message send. Only a message with one of them set is looked at closely.
        read = attrgetter(*(name for name in OPTIONAL_FIELDS if name not in carries), "channel")
        for index, message in enumerate(messages):
            *values, channel = read(message)
            if channel in channels and not any(values):
                continue
            fields = uncarried(message, carries, channels)
            if not fields:
                continue
            if not self.ignore_unsupported or "channel" in fields:
                screened.refused[index] = unsupported_result(message, self.scheme, fields)
                continue
            screened.ready[index] = without(message, fields)
            screened.warnings[index] = tuple(
                f"{name} not sent: {self.scheme}:// cannot carry it" for name in fields
            )
        return screened

    async def screened_campaign(
        self,
        campaign: Campaign,
        recipients: Sequence[Message],
        run: Callable[[Campaign, Sequence[Message]], Awaitable[ProviderCampaignResult]],
    ) -> ProviderCampaignResult:
        """``run`` (a provider campaign) for the recipients the unsupported-field rule lets through."""
        screened = self.screen(recipients)
        if not screened.refused and not screened.warnings:
            return await run(campaign, recipients)
        kept = [i for i in range(len(recipients)) if i not in screened.refused]
        result = await run(campaign, [screened.ready[i] for i in kept])
        by_index = dict(screened.refused)
        by_index.update(zip(kept, result.results, strict=True))
        results = screened.finish([by_index[i] for i in range(len(recipients))])
        return dataclasses.replace(result, results=results)

    # ------------------------------------------------------------------ the send loop

    async def exchange(self, call: Call, *, send: bool) -> Reply:
        """Make one provider call: how credentials, hosts and tokens reach the provider.

        The default posts nothing by itself: every provider says where its calls go.
        """
        raise NotImplementedError(f"{type(self).__name__} must say how its calls are made")

    def probe_first(self) -> bool:
        """Whether the first batch must be answered before the others go (a server still to be learnt)."""
        return False

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        """check -> group -> chunk -> build -> call with retry -> parse -> results in message order.

        A message refused before any request (a field the provider cannot
        carry, a documented limit) gets its own result; the rest go out.
        """
        screened = self.screen(messages)
        ready = screened.ready
        results: dict[int, SendResult] = dict(screened.refused)
        indexes: list[int] = []
        payload = self.payload
        for index, message in enumerate(ready):
            if index in results:
                continue
            problem = payload.check(message)
            if problem is not None:
                results[index] = SendResult(message_id=message.id, status=payload.refused_as, error=problem)
                continue
            indexes.append(index)
        batches = payload.batches(ready, indexes)
        jobs = [self.send_batch(ready, batch) for batch in batches]
        if len(jobs) > 1 and self.probe_first():
            done = await jobs[0]
            done += await self.gather_batches(jobs[1:], self.concurrency)
        else:
            done = await self.gather_batches(jobs, self.concurrency)
        results.update(done)
        return screened.finish([results[i] for i in range(len(messages))])

    async def send_batch(
        self, messages: Sequence[Message], indexes: Sequence[int]
    ) -> list[tuple[int, SendResult]]:
        """One batch's calls: a failed exchange fails every message, a parsed answer gives each its own.

        Messages the payload hands back as not taken (``None``) are sent again, up to ``send_rounds``
        calls in all. A provider that settles some answers further (a duplicate looked up) extends this.
        """
        out: list[tuple[int, SendResult]] = []
        pending = list(indexes)
        for _round in range(self.send_rounds):
            batch = [messages[i] for i in pending]
            reply = await self.exchange(self.payload.build_send(batch), send=True)
            if reply.error is not None and reply.exchange_failed:
                # 429, 5xx, no answer, an unreadable body: not the provider's word on each message
                parsed: list[SendResult | None] = [self.failed(m, reply.error, reply) for m in batch]
            else:
                parsed = self.payload.parse_send(reply, batch)
                self.heard(reply, (r.error for r in parsed if r is not None))
            again = []
            for index, result in zip(pending, parsed, strict=True):
                if result is None:
                    again.append(index)
                else:
                    out.append((index, result))
            pending = again
            if not pending:
                return out
        refused = ErrorInfo(code=ErrorCode.PERMANENT_FAILURE, native_message="batch refused repeatedly")
        out.extend((i, self.failed(messages[i], refused)) for i in pending)
        return out

    def heard(self, reply: Reply, errors: Iterable[ErrorInfo | None]) -> None:
        """What the payload read in an answer, for ``health()``: where a provider says in its body that it
        refuses the key or the account (SMSC error 2, Mobizon code 8), the link is down as after a 401.

        A rate limit read only here is a throttle event; one the HTTP layer (a 429) or ``provider_error``
        already saw in this reply was counted there. A reply without a usable answer was counted by ``call``.
        """
        if reply.exchange_failed:
            return
        counted = reply.error is not None and reply.error.code is ErrorCode.THROTTLED
        for error in errors:
            if error is None:
                continue
            if error.code in REFUSALS or (error.code is ErrorCode.THROTTLED and not counted):
                counted = counted or error.code is ErrorCode.THROTTLED
                self.link_state.said(error)

    async def status(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        """Receipts for ``native_ids``, ``status_batch`` ids a call; raises THROTTLED when the first call
        was refused as too frequent (the poller backs off). A refusal after some calls were answered
        returns what was answered: the poller asks about the rest on its schedule.
        """
        out: list[DeliveryReceipt] = []
        for chunk in chunks(list(native_ids), self.payload.status_batch):
            reply = await self.exchange(self.payload.build_status(chunk), send=False)
            parsed = self.payload.parse_status(reply, chunk, self.link)
            if isinstance(parsed, ErrorInfo):
                self.heard(reply, [parsed])
                if parsed.code is ErrorCode.THROTTLED:
                    if not out:
                        raise MessagingError(f"{self.scheme}: status poll refused", parsed)
                    log.info("%s: status poll refused after %d receipts: %s", self.scheme, len(out), parsed)
                    return out
                log.warning("%s: status poll failed: %s", self.scheme, parsed)
                continue
            out.extend(parsed)
        return out
