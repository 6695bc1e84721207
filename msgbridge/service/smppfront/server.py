"""The SMPP front's listener and what its sessions share: accounts, binds, rate buckets, counters, keepalive.

:class:`SmppFront` is started by ``msgbridge serve`` when ``[smpp_front]`` is configured, beside the HTTP
API, on the same :class:`~msgbridge.service.contract.Gateway`. Its housekeeping timer sends enquire_link
to a link silent for ``enquire_link`` seconds, closes one that left :data:`MISSED_ENQUIRES` of them
unanswered (a half-open connection), closes a connection not bound within ``session_init`` seconds of
connecting (SMPP 3.4 §7.2, session_init_timer), drops a reader whose writes stayed paused too long and answers the
parts of long messages whose siblings never came.

The counters are plain fields bumped by the sessions and the pump; :meth:`SmppFront.health` copies them
into a :class:`~msgbridge.service.contract.FrontHealth` when ``GET /v1/transports`` or ``/metrics`` asks,
so the submit path pays nothing for being watched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import Counter
from collections.abc import Sequence

from msgbridge.core.errors import MessagingError
from msgbridge.core.ratelimit import TokenBucket
from msgbridge.service.contract import FrontHealth, Gateway, InvalidSubmission
from msgbridge.service.smppfront.accounts import Account, AccountBook
from msgbridge.service.smppfront.receipts import EventStore, ReceiptPump
from msgbridge.service.smppfront.session import (
    BIND_FAIL_DELAY,
    SLOW_READER_SECONDS,
    WRITE_HIGH,
    FrontSession,
    Multi,
    status_of,
    submission_of,
)
from msgbridge.service.smppfront.status import COMMAND_STATUS
from msgbridge.service.smppfront.submit import Recent, Whole
from msgbridge.service.validation import FRONT_SCOPE
from msgbridge.smpp import codec

log = logging.getLogger(__name__)

SYSTEM_ID = "msgbridge"
MISSED_ENQUIRES = 3
# SMPP 3.4 §7.2 session_init_timer, "the time lapse allowed between a network connection being established
# and a bind ... request being sent"; on expiry "the network connection should be terminated".
SESSION_INIT_SECONDS = 30.0
HOUSEKEEPING_SECONDS = 0.5


def scope_of(system_id: str) -> str:
    """The accept scope of an account: ``@`` keeps it apart from every API key name (which cannot hold one)."""
    return f"{FRONT_SCOPE}{system_id}"


def part_ids(message_id: str, parts: int) -> list[str]:
    return [message_id] if parts == 1 else [f"{message_id}.{k}" for k in range(1, parts + 1)]


class SmppFront:
    def __init__(
        self,
        gateway: Gateway,
        accounts: AccountBook,
        *,
        events: EventStore | None = None,
        enquire_link: float = 30.0,
        system_id: str = SYSTEM_ID,
        slow_reader: float = SLOW_READER_SECONDS,
        write_high: int = WRITE_HIGH,
        bind_fail_delay: float = BIND_FAIL_DELAY,
        session_init: float = SESSION_INIT_SECONDS,
    ) -> None:
        """``slow_reader`` (seconds a paused write may last: ``[smpp_front] slow_reader``), ``write_high``
        (octets buffered before the transport pauses us; a test lowers it to see a drop at once) and
        ``bind_fail_delay`` (seconds after its arrival a refused bind is answered, the same for every reason
        so that timing tells a guesser nothing; a test shortens it) and ``session_init`` (seconds a
        connection may stay unbound: without it, a client that connects and never binds, or only keeps
        answering enquire_link, would hold a socket and a session for as long as it likes)."""
        self.gateway = gateway
        self.accounts = accounts
        self.enquire_link = enquire_link
        self.slow_reader = slow_reader
        self.write_high = write_high
        self.bind_fail_delay = bind_fail_delay
        self.session_init = session_init
        self.system_id = system_id
        self.sessions: set[FrontSession] = set()
        self.resp_ids: dict[tuple[int, int], int] = {}
        self.recent: dict[str, Recent] = {}  # by system_id
        self.stats: Counter[str] = Counter()
        self.throttles: Counter[tuple[str, str]] = Counter()  # (system_id, "tps" | "window")
        self.submitted: Counter[str] = Counter()  # system_id -> messages accepted
        self.refusals: Counter[int] = Counter()  # command_status -> submit PDUs refused so
        self._buckets: dict[str, TokenBucket] = {}
        self._server: asyncio.Server | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self.host = ""
        self.port = 0
        self.scheme = "smpp"
        self.pump = ReceiptPump(self, events) if events is not None else None

    # --- lifecycle ---------------------------------------------------------

    async def start(self, host: str, port: int, *, tls: ssl.SSLContext | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: FrontSession(self), host, port, ssl=tls, reuse_address=True, backlog=512
        )
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = str(sockname[0]), int(sockname[1])
        self.scheme = "smpps" if tls is not None else "smpp"
        self._housekeeper = loop.create_task(self._housekeeping())
        if self.pump is not None:
            self.pump.start()
        log.info("SMPP front listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Unbind every session and close the listener."""
        if self._server is None:
            return
        self._server.close()
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
        if self.pump is not None:
            await self.pump.stop()
        for session in list(self.sessions):
            if session.mode:
                session.write(codec.pdu(codec.UNBIND, 0, session.next_sequence()))
            session.close()
        await self._server.wait_closed()
        self._server = None

    # --- what sessions report ----------------------------------------------

    def connected(self, session: FrontSession) -> None:
        self.sessions.add(session)

    def disconnected(self, session: FrontSession) -> None:
        self.sessions.discard(session)
        if session.unacked and self.pump is not None:
            self.pump.dropped(list(session.unacked.values()))
        session.unacked.clear()

    def bound(self, session: FrontSession) -> None:
        self.stats["binds"] += 1
        if self.pump is not None and session.mode in ("rx", "trx"):
            self.pump.wake.set()

    def receivers(self) -> dict[str, list[FrontSession]]:
        """The sessions receipts may go to, by account."""
        out: dict[str, list[FrontSession]] = {}
        for s in self.sessions:
            if s.account is not None and s.mode in ("rx", "trx") and not s.closed:
                out.setdefault(s.account.system_id, []).append(s)
        return out

    def bind_count(self, system_id: str) -> int:
        return sum(1 for s in self.sessions if s.account is not None and s.account.system_id == system_id)

    def admit(self, account: Account) -> bool:
        if account.tps is None:
            return True
        bucket = self._buckets.get(account.system_id)
        if bucket is None or bucket.rate != account.tps:
            bucket = self._buckets[account.system_id] = TokenBucket(account.tps, burst=max(1.0, account.tps))
        return bucket.try_acquire()

    def throttled(self, system_id: str, reason: str) -> None:
        """A submit answered ESME_RTHROTTLED: ``reason`` "tps" (the account's rate) or "window" (the bind's)."""
        self.throttles[(system_id, reason)] += 1

    def refused(self, status: int, n: int = 1) -> None:
        """``n`` submit PDUs answered ``status`` (not OK, not a throttle), counted by command_status."""
        self.refusals[status] += n

    def deliver_answered(self, session: FrontSession, sequence: int, status: int) -> None:
        flight = session.unacked.pop(sequence, None)
        if flight is not None and self.pump is not None:
            self.pump.answered(flight, sequence, status)

    # --- submit ------------------------------------------------------------

    async def accept(self, session: FrontSession, wholes: Sequence[Whole]) -> list[bytes]:
        """Queue ``wholes`` and return their resps: OK with our ids, or why not.

        One commit, but for a submit_multi's destinations: the first of them is queued with the rest of the
        batch, and the others in a commit after it, each carrying the first one's id (:class:`Multi`), which
        the resp announces and their receipts name. A destination refused in a round leaves the next one to
        be the first in the next round."""
        account = session.account
        assert account is not None
        statuses: list[int] = [codec.ESME_ROK] * len(wholes)
        ids: list[str] = [""] * len(wholes)
        now = time.time()
        recent = self.recent.setdefault(account.system_id, Recent())
        todo: list[int] = []
        for i, whole in enumerate(wholes):
            known = recent.get(whole.sequences[0], whole.digest, now)
            if known is not None:
                ids[i] = known  # a resend of what this process queued: answered with the same id
                self.stats["resends"] += 1
            else:
                todo.append(i)
        multis = {i: m for i in todo if (m := session.multis.get(wholes[i].sequences[0])) is not None}
        while todo:
            batch: list[int] = []
            leading: set[int] = set()  # ids of the Multis whose first destination this round queues
            for i in todo:
                multi = multis.get(i)
                if multi is None or multi.announced is not None:
                    batch.append(i)
                elif id(multi) not in leading:
                    leading.add(id(multi))
                    batch.append(i)
            refused = await self._queue(session, account, wholes, batch, multis, statuses, ids, now)
            if refused is not None:  # the gateway refused the commit: what is left is refused alike
                for i in todo:
                    if statuses[i] == codec.ESME_ROK:  # not already refused for a reason of its own
                        statuses[i] = refused
                break
            for i in batch:
                multi = multis.get(i)
                if multi is not None and multi.announced is None and statuses[i] == codec.ESME_ROK:
                    multi.announced = ids[i]
            taken = set(batch)
            todo = [i for i in todo if i not in taken]
        out: list[bytes] = []
        for whole, status, mid in zip(wholes, statuses, ids, strict=True):
            out += session._answer(
                whole.sequences, status, part_ids(mid, len(whole.sequences)) if mid else [], whole.destination
            )
        return out

    async def _queue(
        self,
        session: FrontSession,
        account: Account,
        wholes: Sequence[Whole],
        batch: list[int],
        multis: dict[int, Multi],
        statuses: list[int],
        ids: list[str],
        now: float,
    ) -> int | None:
        """One commit of ``wholes[batch]``, the invalid ones left out (their ``statuses`` say why); the
        command_status when the gateway refused the whole commit (nothing was queued), else None."""
        recent = self.recent[account.system_id]
        while batch:
            submissions = [
                submission_of(wholes[i], account, m.announced if (m := multis.get(i)) is not None else None)
                for i in batch
            ]
            try:
                accepted = await self.gateway.accept(submissions, scope=scope_of(account.system_id))
            except InvalidSubmission as exc:
                bad = {e.index for e in exc.errors}
                for j, i in enumerate(batch):
                    if j in bad:
                        statuses[i] = status_of(exc, j)
                batch = [i for j, i in enumerate(batch) if j not in bad]
                continue
            except MessagingError as exc:
                log.warning("%s: submit refused: %s", session.name, exc)
                return COMMAND_STATUS[exc.code]
            for i, acc in zip(batch, accepted, strict=True):
                ids[i] = acc.id
                recent.put(wholes[i].sequences[0], wholes[i].digest, acc.id, now)
            self.submitted[account.system_id] += len(batch)
            return None
        return None

    # --- keepalive ---------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Every :data:`HOUSEKEEPING_SECONDS`, or a quarter of ``enquire_link`` when that is shorter: a tick
        longer than the interval would stretch every silence the front means to notice."""
        tick = min(HOUSEKEEPING_SECONDS, self.enquire_link / 4, self.session_init / 4)
        while True:
            await asyncio.sleep(tick)
            self.housekeep(time.monotonic(), time.time())

    def housekeep(self, now: float, wall: float) -> None:
        for s in list(self.sessions):
            if s.paused_at is not None and now - s.paused_at > self.slow_reader:
                log.warning(
                    "dropping %s: it has not read what was written for %.0f s", s.name, now - s.paused_at
                )
                self.stats["slow_readers_dropped"] += 1
                s.abort()
                continue
            if not s.mode and not s.binding and now - s.connected_at > self.session_init:
                log.warning("closing %s: not bound %.0f s after connecting", s.name, now - s.connected_at)
                self.stats["unbound_closed"] += 1
                s.abort()
                continue
            if now - s.last_heard > self.enquire_link * (s.enquires_unanswered + 1):
                if s.enquires_unanswered >= MISSED_ENQUIRES:
                    log.warning("closing %s: %d enquire_link unanswered", s.name, s.enquires_unanswered)
                    self.stats["half_open_closed"] += 1
                    s.abort()
                    continue
                s.enquires_unanswered += 1
                s.write(codec.pdu(codec.ENQUIRE_LINK, 0, s.next_sequence()))
            s.expire_parts(wall)

    def health(self) -> FrontHealth:
        binds: dict[str, Counter[str]] = {}
        for s in self.sessions:
            if s.account is not None and s.mode:
                binds.setdefault(s.account.system_id, Counter())[s.mode] += 1
        throttled: dict[str, dict[str, int]] = {}
        for (system_id, reason), n in self.throttles.items():
            throttled.setdefault(system_id, {})[reason] = n
        pump = self.pump
        return FrontHealth(
            sessions=len(self.sessions),
            binds={k: dict(v) for k, v in binds.items()},
            bind_failures=self.stats["bind_failures"],
            submitted=dict(self.submitted),
            throttled=throttled,
            refused=dict(self.refusals),
            receipts_sent=pump.sent if pump is not None else 0,
            receipts_acked=pump.acked if pump is not None else 0,
            receipts_delivered=pump.delivered if pump is not None else 0,
            receipts_waiting=sum(len(s.unacked) for s in self.sessions),
            mo_sent=pump.mo_sent if pump is not None else 0,
            mo_delivered=pump.mo_delivered if pump is not None else 0,
            slow_readers_dropped=self.stats["slow_readers_dropped"],
            half_open_closed=self.stats["half_open_closed"],
            unbound_closed=self.stats["unbound_closed"],
            generic_nack_sent=self.stats["generic_nack_sent"],
        )
