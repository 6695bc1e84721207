"""``memory://``: the in-process transport that tests and the demo send through.

It records every message it is given and answers with receipts drawn from a
configurable outcome mix after a delay, so the whole pipeline (store,
dispatcher, receipts, CLI) runs end to end without a network. Faults are
injected by URL options, which is how the dispatcher's retry and
MAYBE_SUBMITTED paths are tested.

``journal=PATH`` appends one JSON line per accepted message and flushes it
before ``send()`` returns. A second process (a re-run after a crash) reads it
back through ``lookup()``: it plays the part of a provider that can be asked
"did you get reference X?".

What an instance can do follows its URL, and the capability protocols of
``adapters.base`` see it: ``MemoryTransport(url)`` returns an instance of a
subclass made for the options (as ``pathlib.Path()`` returns a ``PosixPath``).
``memory://`` pushes receipts (a ReceiptPush); ``dlr=no`` pushes nothing;
``poll=yes`` makes it a StatusPolling that pushes nothing; ``journal=`` adds
``lookup()`` (a ReferenceLookup). Without a journal it has no ``lookup()``, so a re-run leaves
what is in doubt alone rather than taking "not in the journal" for "not sent".

Its options are declared once, in ``MemoryTransport.declared_options`` (the
table in docs/store-and-dispatch.md is generated from them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from functools import cache
from typing import Self, cast

from msgbridge.adapters.base import Capabilities, Transport
from msgbridge.core import options as opt
from msgbridge.core.encoding import info
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo, TransportError
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.options import OptionSet
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import TransportURL

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
DEFAULT_MIX: dict[DeliveryStatus, float] = {DeliveryStatus.DELIVERED: 1.0}

# What a pushed receipt's native status says, in the SMPP receipt spelling.
NATIVE_STATUS: dict[DeliveryStatus, str] = {
    DeliveryStatus.DELIVERED: "DELIVRD",
    DeliveryStatus.UNDELIVERABLE: "UNDELIV",
    DeliveryStatus.EXPIRED: "EXPIRED",
    DeliveryStatus.REJECTED: "REJECTD",
    DeliveryStatus.DELETED: "DELETED",
    DeliveryStatus.ACCEPTED: "ACCEPTD",
    DeliveryStatus.UNKNOWN: "UNKNOWN",
}


def parse_mix(text: str) -> dict[DeliveryStatus, float]:
    """``delivered:0.9,expired:0.1`` -> weights by status; a bad entry is a ConfigError naming it."""
    mix: dict[DeliveryStatus, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition(":")
        try:
            status = DeliveryStatus(name.strip().upper())
            mix[status] = float(weight) if weight else 1.0
        except ValueError as exc:
            raise ConfigError(f"bad outcome {part!r} in mix={text!r}: expected STATUS:WEIGHT") from exc
        if mix[status] < 0:
            raise ConfigError(f"negative weight in mix={text!r}")
    if not mix or sum(mix.values()) <= 0:
        raise ConfigError(f"mix={text!r} names no outcome with a positive weight")
    return mix


def read_journal(path: str) -> dict[str, dict[str, object]]:
    """Reference (or message id) -> the journal entry; a torn last line from a killed writer is skipped."""
    out: dict[str, dict[str, object]] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                out[str(entry["ref"])] = entry
    except FileNotFoundError:
        pass
    return out


class MemoryTransport(Transport):
    scheme = "memory"
    summary = "in-process test double: records sends, pushes receipts by an outcome mix"
    capabilities = Capabilities(max_batch=1000, status_poll=1000)

    declared_options = OptionSet(
        opt.text(
            "mix",
            None,
            "outcome weights by DeliveryStatus name, e.g. `delivered:0.9,expired:0.1`",
            shown_default="`delivered:1`",
        ),
        opt.number("dlr_delay_ms", 10.0, 0, DAY_MS, "delay before a receipt is pushed"),
        opt.flag("dlr", True, "push receipts at all (no: messages stay SUBMITTED)"),
        opt.flag("poll", False, "push nothing; answer `status()` polls instead"),
        opt.number("latency_ms", 0.0, 0, DAY_MS, "time one `send()` call takes"),
        opt.integer("seed", None, 0, 2**63 - 1, "seed of the outcome draw", shown_default="random"),
        opt.integer("max_batch", 1000, 1, 100_000, "messages per `send()` call"),
        opt.flag("segment_ids", False, "one native id and receipt per part, as SMPP does"),
        opt.text(
            "journal",
            None,
            "append every accepted message (reference or id, native ids, phone) to this file, flushed before "
            "`send()` returns; `lookup()` reads it, which is how a re-run settles what a killed run left in doubt",
        ),
        opt.text(
            "fail",
            None,
            "comma-separated destinations refused with `fail_code` (default INVALID_DESTINATION), REJECTED",
        ),
        opt.integer(
            "fail_every",
            0,
            0,
            10**9,
            "every N-th message is refused with `fail_code` (default TEMPORARY_FAILURE), FAILED",
        ),
        opt.integer(
            "fail_times",
            -1,
            -1,
            10**9,
            "stop `fail_every` after this many failures (-1: never)",
            shown_default="unlimited",
        ),
        opt.choice(
            "fail_code", None, tuple(c.value.lower() for c in ErrorCode), "the ErrorCode of injected failures"
        ),
        opt.number("retry_after", 0.0, 0, 10**9, "retry-after seconds carried by those failures (0: none)"),
        opt.integer(
            "lost_every",
            0,
            0,
            10**9,
            "every N-th message is accepted (and journaled) but answered with TIMEOUT",
        ),
        opt.integer(
            "down_times", 0, 0, 10**9, "the first N `send()` calls raise a NETWORK_ERROR (nothing sent)"
        ),
    )

    def __new__(cls, url: TransportURL) -> Self:
        declared = cls.declared_options
        assert declared is not None
        o = declared.read(url)
        poll, push = o.get_bool("poll"), o.get_bool("dlr")
        wanted = (
            (_Polled, poll),
            (_Unpushed, not push and not poll),
            (_Journaled, o.get_text("journal") is not None),
        )
        kinds = tuple(kind for kind, on in wanted if on and not issubclass(cls, kind))
        return cast(Self, super().__new__(_made_for(cls, kinds) if kinds else cls))

    def __init__(self, url: TransportURL) -> None:
        super().__init__(url)
        o = self.settings
        mix = o.get_text("mix")
        self.mix = parse_mix(mix) if mix else dict(DEFAULT_MIX)
        self.dlr_delay = o.get_float("dlr_delay_ms") / 1000
        self.latency = o.get_float("latency_ms") / 1000
        self.push = o.get_bool("dlr")
        self.poll = o.get_bool("poll")
        self.segment_ids = o.get_bool("segment_ids")
        self.journal = o.get_text("journal")
        self.fail_numbers = {n.strip() for n in (o.get_text("fail") or "").split(",") if n.strip()}
        self.fail_every = o.get_int("fail_every")
        self.fail_times = o.get_int("fail_times")
        self.fail_code = self._code(o.get_text("fail_code"))
        self.retry_after = o.get_float("retry_after") or None
        self.lost_every = o.get_int("lost_every")
        self.down_times = o.get_int("down_times")
        self.rng = random.Random(o.maybe_int("seed"))
        # Per instance: the URL decides the batch size.
        self.capabilities = replace(type(self).capabilities, max_batch=o.get_int("max_batch"))  # type: ignore[misc]
        # What tests look at: every message handed over (accepted or not), and every result.
        self.sent: list[Message] = []
        self.accepted: list[Message] = []
        self.calls = 0
        self.batch_sizes: list[int] = []
        self._counter = 0
        self._failed = 0
        self._outcomes: dict[str, tuple[float, DeliveryStatus]] = {}
        self._queue: asyncio.Queue[DeliveryReceipt | None] = asyncio.Queue()
        self._timers: set[asyncio.TimerHandle] = set()
        self._closed = False

    def _code(self, name: str | None) -> ErrorCode | None:
        if not name:
            return None
        try:
            return ErrorCode(name.upper())
        except ValueError as exc:
            known = ", ".join(c.value for c in ErrorCode)
            raise ConfigError(f"fail_code={name!r} is not an ErrorCode; known: {known}") from exc

    @property
    def link(self) -> str:
        return f"memory://{self.url.host or 'local'}"

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        if self._closed:
            raise TransportError("memory transport is closed")
        self.calls += 1
        self.batch_sizes.append(len(messages))
        if self.calls <= self.down_times:
            raise TransportError(f"memory transport is down (call {self.calls} of {self.down_times})")
        if self.latency:
            await asyncio.sleep(self.latency)
        results: list[SendResult] = []
        journal: list[str] = []
        receipts: list[DeliveryReceipt] = []
        now = time.time()
        for msg in messages:
            self.sent.append(msg)
            self._counter += 1
            refused = self._refusal(msg)
            if refused is not None:
                status = DeliveryStatus.REJECTED if msg.to in self.fail_numbers else DeliveryStatus.FAILED
                results.append(SendResult(message_id=msg.id, status=status, error=refused))
                continue
            segments = info(msg.text).segments if msg.channel == "sms" else 1
            ids = tuple(uuid.uuid4().hex[:16] for _ in range(segments if self.segment_ids else 1))
            outcome = self.rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
            for nid in ids:
                self._outcomes[nid] = (now + self.dlr_delay, outcome)
                receipts.append(
                    DeliveryReceipt(
                        native_id=nid,
                        status=outcome,
                        native_status=NATIVE_STATUS.get(outcome, outcome.value),
                        link=self.link,
                    )
                )
            self.accepted.append(msg)
            journal.append(
                json.dumps(
                    {"ref": msg.reference or msg.id, "id": msg.id, "native_ids": ids, "to": msg.to, "at": now}
                )
            )
            if self.lost_every and self._counter % self.lost_every == 0:
                lost = ErrorInfo(code=ErrorCode.TIMEOUT, native_message="answer lost (injected)")
                results.append(
                    SendResult(message_id=msg.id, status=DeliveryStatus.MAYBE_SUBMITTED, error=lost)
                )
                continue
            results.append(
                SendResult(
                    message_id=msg.id,
                    status=DeliveryStatus.SUBMITTED,
                    native_id=ids[-1],
                    native_ids=ids if len(ids) > 1 else (),
                    segments=segments,
                )
            )
        if journal and self.journal:
            self._append_journal(journal)
        if receipts and self.push and not self.poll:
            self._schedule(receipts)
        return results

    def _refusal(self, msg: Message) -> ErrorInfo | None:
        if msg.to in self.fail_numbers:
            code = self.fail_code or ErrorCode.INVALID_DESTINATION
            return ErrorInfo(code=code, native_code="fail", native_message=f"refused {msg.to} (injected)")
        if self.fail_every and self._counter % self.fail_every == 0 and self._failed != self.fail_times:
            self._failed += 1
            code = self.fail_code or ErrorCode.TEMPORARY_FAILURE
            return ErrorInfo(
                code=code,
                native_code="fail_every",
                native_message=f"injected failure {self._failed}",
                retry_after=self.retry_after,
            )
        return None

    def _append_journal(self, lines: list[str]) -> None:
        assert self.journal is not None
        with open(self.journal, "a+b") as fh:
            # A killed writer may have left a torn line: never glue a new entry onto it.
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
            fh.write(("\n".join(lines) + "\n").encode("utf-8"))
            fh.flush()

    def _schedule(self, receipts: list[DeliveryReceipt]) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def emit() -> None:
            if handle is not None:
                self._timers.discard(handle)
            stamp = time.time()
            for r in receipts:
                self._queue.put_nowait(replace(r, received_at=stamp))

        handle = loop.call_later(self.dlr_delay, emit)
        self._timers.add(handle)

    def _status_now(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        now = time.time()
        out: list[DeliveryReceipt] = []
        for nid in native_ids:
            due = self._outcomes.get(nid)
            if due is None:
                continue
            status = due[1] if now >= due[0] else DeliveryStatus.ACCEPTED
            out.append(
                DeliveryReceipt(
                    native_id=nid,
                    status=status,
                    native_status=NATIVE_STATUS.get(status, status.value),
                    link=self.link,
                )
            )
        return out

    def _journal_lookup(self, references: Sequence[str]) -> dict[str, SendResult]:
        assert self.journal is not None
        entries = read_journal(self.journal)
        out: dict[str, SendResult] = {}
        for ref in references:
            entry = entries.get(ref)
            if entry is None:
                continue
            raw_ids = entry.get("native_ids")
            ids = tuple(str(i) for i in raw_ids) if isinstance(raw_ids, list) else ()
            out[ref] = SendResult(
                message_id=str(entry["id"]),
                status=DeliveryStatus.SUBMITTED,
                native_id=ids[-1] if ids else None,
                native_ids=ids if len(ids) > 1 else (),
                segments=max(1, len(ids)),
            )
        return out

    async def receipts(self) -> AsyncIterator[DeliveryReceipt]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self._queue.put_nowait(None)


class _Unpushed(MemoryTransport):
    """``dlr=no``: pushes nothing, so messages stay SUBMITTED."""

    # Not a ReceiptPush: a protocol method set to None is one the class does not have (typing.Protocol).
    receipts = None  # type: ignore[assignment]


class _Polled(_Unpushed):
    """``poll=yes``: pushes nothing and answers ``status()`` polls instead."""

    async def status(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        return self._status_now(native_ids)


class _Journaled(MemoryTransport):
    """``journal=PATH``: can say which references it accepted, from the journal."""

    async def lookup(self, references: Sequence[str]) -> dict[str, SendResult]:
        return self._journal_lookup(references)


@cache
def _made_for(cls: type[MemoryTransport], kinds: tuple[type[MemoryTransport], ...]) -> type[MemoryTransport]:
    """``cls`` with the abilities ``kinds`` add, named as ``cls``; made once per combination."""
    names = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
    return type(cls.__name__, (*kinds, cls), names)
