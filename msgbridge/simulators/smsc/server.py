"""An SMPP 3.4 SMSC simulator: a real asyncio TCP server with fault knobs.

The per-connection rules live in :mod:`session`; this module holds the
shared state every session reports into: knobs, counters, receipts, MO.

Every knob is a plain attribute and may be changed while the server runs.
Counting rules for the ``*_every`` knobs (each counts across all connections):

- ``throttle_every`` / ``queue_full_every``: every Nth submit_sm is refused
  with ESME_RTHROTTLED / ESME_RMSGQFUL and not recorded.
- ``drop_every``: the Nth PDU received from bound sessions (any command) closes
  the connection abruptly; if that PDU is a submit_sm it *is* accepted and
  recorded, but its answer is never sent (the client cannot know: a duplicate
  may follow if it resends).
- ``late_every`` / ``late_ms``: every Nth accepted submit_sm is answered
  ``late_ms`` after the others. With ``hold_late`` those answers wait instead
  until :meth:`SmscSimulator.release_late`: a test that needs them to come
  after the client's response timeout says when, rather than racing a timer
  on a loaded machine.
- ``malformed_every``: every Nth accepted submit_sm is preceded on the wire by
  a malformed PDU (from :data:`MALFORMED`, or ``malformed_factory`` if set).
- ``max_tps``: a token bucket over all sessions; submit_sm beyond it gets
  ESME_RTHROTTLED.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime

from msgbridge.simulators.smsc.malformed import MALFORMED
from msgbridge.simulators.smsc.mo import mo_bodies
from msgbridge.simulators.smsc.receipts import (
    FAILURES,
    ID_FORMATS,
    OUTCOMES,
    RECEIPT_ID_FORMATS,
    RECEIPT_ID_STYLES,
    RECEIPT_MODES,
    receipt_body,
    receipt_id,
    smpp_date,
    submit_view,
)
from msgbridge.simulators.smsc.session import Delivery, SmscSession
from msgbridge.simulators.smsc.stats import SmscStats, Submitted
from msgbridge.smpp.codec import (
    ENQUIRE_LINK,
    ESME_RMSGQFUL,
    ESME_ROK,
    ESME_RTHROTTLED,
    UNBIND,
    CodecError,
    decode_sm,
    pdu,
)

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 0.05  # how often unanswered receipts and idle links are looked at
DEFAULT_DLR_MIX: dict[str, float] = {"delivered": 1.0}
NOT_FINAL: frozenset[str] = frozenset({"enroute", "accepted"})


class SmscServer:
    """A running simulator: ``port`` is the real port when bound to 0."""

    def __init__(self, sim: SmscSimulator, server: asyncio.Server) -> None:
        self.sim = sim
        self.server = server
        sockname = server.sockets[0].getsockname()
        self.host: str = sockname[0]
        self.port: int = sockname[1]


class SmscSimulator:
    """A fault-injecting SMSC. See the module docstring for how the knobs count."""

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        latency_ms: float = 0.0,
        dlr_delay_ms: float = 100.0,
        dlr_mix: Mapping[str, float] | None = None,
        dlr_by_destination: Mapping[str, str] | None = None,
        seed: int | None = None,
        id_format: str = "hex",
        receipt_id_format: str = "same",
        receipt_id_style: str = "plain",
        receipt_mode: str = "text+tlv",
        dlr_before_resp: bool = False,
        throttle_every: int = 0,
        queue_full_every: int = 0,
        drop_every: int = 0,
        late_every: int = 0,
        late_ms: float = 0.0,
        hold_late: bool = False,
        max_tps: float = 0.0,
        malformed_every: int = 0,
        malformed_factory: Callable[[int], bytes] | None = None,
        max_binds: int = 0,
        redeliver_delay_ms: float = 200.0,
        deliver_timeout_ms: float = 0.0,
        enquire_link_ms: float = 0.0,
        record: bool = True,
        system_id: str = "msgbridge-sim",
        id_start: int | None = None,
    ) -> None:
        self.users: dict[str, str] | None = dict(users) if users is not None else None
        self.latency_ms = latency_ms
        self.dlr_delay_ms = dlr_delay_ms
        self.dlr_mix: dict[str, float] = dict(dlr_mix or DEFAULT_DLR_MIX)
        self.dlr_by_destination: dict[str, str] = dict(dlr_by_destination or {})
        self.receipt_id_format = receipt_id_format
        self.receipt_id_style = receipt_id_style
        self.receipt_mode = receipt_mode
        self.dlr_before_resp = dlr_before_resp
        self.throttle_every = throttle_every
        self.queue_full_every = queue_full_every
        self.drop_every = drop_every
        self.late_every = late_every
        self.late_ms = late_ms
        self.hold_late = hold_late
        self.max_tps = max_tps
        self.malformed_every = malformed_every
        self.malformed_factory = malformed_factory
        self.max_binds = max_binds
        self.redeliver_delay_ms = redeliver_delay_ms
        self.deliver_timeout_ms = deliver_timeout_ms
        self.enquire_link_ms = enquire_link_ms
        self.record = record
        self.system_id = system_id
        self.id_format = id_format
        self._check_options()

        self.stats = SmscStats()
        self.rng = random.Random(seed)
        self._next_id = id_start if id_start is not None else self.rng.randrange(0x10000000, 0x40000000)
        self._cpu0 = time.process_time()
        self._sessions: set[SmscSession] = set()
        self._receivers: dict[str, deque[SmscSession]] = defaultdict(deque)
        self._undelivered: dict[str, deque[Delivery]] = defaultdict(deque)
        self._raw: list[tuple[str, str, bytes]] = []
        self._decoded: list[Submitted] = []
        self._states: dict[str, tuple[str, datetime | None]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._held: list[tuple[SmscSession, bytes]] = []  # late answers waiting for release_late()
        self._timers_limit = 1024
        self._received = 0
        self._submits_seen = 0
        self._malformed_count = 0
        self._mo_ref = 0
        self._bucket_tokens = 0.0
        self._bucket_stamp = 0.0
        self._bucket_rate = 0.0
        self.server: SmscServer | None = None
        self._housekeeper: asyncio.Task[None] | None = None

    # --- configuration ---------------------------------------------------

    @property
    def id_format(self) -> str:
        return self._id_format

    @id_format.setter
    def id_format(self, value: str) -> None:
        if value not in ID_FORMATS:
            raise ValueError(f"unknown id format {value!r}; expected one of {ID_FORMATS}")
        self._id_format = value
        self._hex_ids = value == "hex"

    def _check_options(self) -> None:
        if self.receipt_id_format not in RECEIPT_ID_FORMATS:
            raise ValueError(f"receipt_id_format must be one of {RECEIPT_ID_FORMATS}")
        if self.receipt_id_style not in RECEIPT_ID_STYLES:
            raise ValueError(f"receipt_id_style must be one of {RECEIPT_ID_STYLES}")
        if self.receipt_mode not in RECEIPT_MODES:
            raise ValueError(f"receipt_mode must be one of {RECEIPT_MODES}")
        unknown = (set(self.dlr_mix) | set(self.dlr_by_destination.values())) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown receipt outcome(s) {sorted(unknown)}; known: {sorted(OUTCOMES)}")
        if not self.dlr_mix or sum(self.dlr_mix.values()) <= 0:
            raise ValueError("dlr_mix needs at least one positive weight")

    @property
    def port(self) -> int:
        if self.server is None:
            raise RuntimeError("the simulator is not serving")
        return self.server.port

    @property
    def host(self) -> str:
        if self.server is None:
            raise RuntimeError("the simulator is not serving")
        return self.server.host

    def snapshot(self) -> dict[str, float]:
        self.stats.cpu_seconds = time.process_time() - self._cpu0
        self.stats.receipts_pending = sum(len(q) for q in self._undelivered.values()) + sum(
            len(s.unacked) for s in self._sessions
        )
        return self.stats.as_dict()

    @property
    def submitted(self) -> list[Submitted]:
        """Every accepted submit_sm in arrival order (decoded on first access)."""
        for system_id, message_id, body in self._raw[len(self._decoded) :]:
            m = decode_sm(body)
            self._decoded.append(
                Submitted(
                    system_id, message_id, m.destination_addr, m.esm_class, m.data_coding, m.payload, m.tlvs
                )
            )
        return list(self._decoded)

    # --- serving -----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[SmscServer]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SmscSession(self), host, port, reuse_address=True)
        self.server = SmscServer(self, server)
        self._housekeeper = loop.create_task(self._housekeeping())
        log.info("SMSC simulator listening on %s:%d", self.server.host, self.server.port)
        try:
            yield self.server
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Unbind every session, close the listener and cancel pending timers."""
        if self.server is None:
            return
        server = self.server.server
        server.close()
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._held.clear()
        for session in list(self._sessions):
            if session.mode and not session.closed:
                session._write_now(pdu(UNBIND, 0, session.next_sequence()))
            session._close_after()
        await server.wait_closed()
        self.server = None

    def drop_all(self) -> int:
        """Abort every connection now (a network failure on demand); returns how many."""
        sessions = [s for s in self._sessions if not s.closed]
        for session in sessions:
            session.abort()
        self.stats.dropped += len(sessions)
        return len(sessions)

    def inject(self, data: bytes, system_id: str | None = None) -> int:
        """Write raw bytes to every bound session (of ``system_id`` if given); returns how many."""
        n = 0
        for session in list(self._sessions):
            if session.mode and not session.closed and (system_id is None or session.system_id == system_id):
                session.queue(data)
                n += 1
        return n

    async def _housekeeping(self) -> None:
        """Resend receipts nobody answered within ``deliver_timeout_ms``; send enquire_link every ``enquire_link_ms``."""
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            now = time.monotonic()
            if self.deliver_timeout_ms > 0:
                limit = now - self.deliver_timeout_ms / 1000.0
                for session in list(self._sessions):
                    stale = []
                    for seq, delivery in session.unacked.items():  # oldest first
                        if delivery.sent_at > limit:
                            break
                        stale.append(seq)
                    for seq in stale:
                        self.stats.redelivered += 1
                        self._deliver(session.unacked.pop(seq))
            if self.enquire_link_ms > 0:
                interval = self.enquire_link_ms / 1000.0
                for session in list(self._sessions):
                    if session.mode and not session.closed and now - session.last_enquire >= interval:
                        session.last_enquire = now
                        self.stats.enquire_link_sent += 1
                        session.queue(pdu(ENQUIRE_LINK, 0, session.next_sequence()))

    def release_late(self) -> int:
        """Send the late answers held back by ``hold_late`` now; how many writes that took."""
        held, self._held = self._held, []
        for session, data in held:
            session._write_now(data)  # a session closed meanwhile sends nothing, as a late timer would
        return len(held)

    def _later(self, handle: asyncio.TimerHandle) -> None:
        """Remember a timer so stop() can cancel it; forget the ones that have fired."""
        self._timers.add(handle)
        if len(self._timers) > self._timers_limit:  # prune; the limit doubles so pruning stays amortised O(1)
            now = asyncio.get_running_loop().time()
            self._timers = {t for t in self._timers if not t.cancelled() and t.when() > now}
            self._timers_limit = max(1024, 2 * len(self._timers))

    # --- session bookkeeping --------------------------------------------

    def _bound_count(self, system_id: str) -> int:
        return sum(1 for s in self._sessions if s.system_id == system_id and s.mode and not s.closed)

    def _bound(self, session: SmscSession) -> None:
        if session.mode in ("rx", "trx"):
            self._receivers[session.system_id].append(session)
            waiting = self._undelivered.pop(session.system_id, None)
            if waiting:
                for delivery in waiting:
                    self._deliver(delivery)

    def _session_gone(self, session: SmscSession) -> None:
        self._sessions.discard(session)
        receivers = self._receivers.get(session.system_id)
        if receivers and session in receivers:
            receivers.remove(session)
        if session.unacked:
            # unanswered deliver_sm are kept and sent again on the next bind
            self.stats.redelivered += len(session.unacked)
            for delivery in session.unacked.values():
                self._deliver(delivery)
            session.unacked.clear()

    def _deliver(self, delivery: Delivery) -> None:
        receivers = self._receivers.get(delivery.system_id)
        while receivers:
            session = receivers[0]
            receivers.rotate(-1)
            if not session.closed:
                session.send_deliver(delivery)
                return
            receivers.remove(session)
        self._undelivered[delivery.system_id].append(delivery)

    def _redeliver_later(self, delivery: Delivery) -> None:
        self.stats.redelivered += 1
        if self.server is None:
            self._undelivered[delivery.system_id].append(delivery)
            return
        loop = asyncio.get_running_loop()
        self._later(loop.call_later(self.redeliver_delay_ms / 1000.0, self._deliver, delivery))

    # --- submit_sm policy ------------------------------------------------

    def _refusal(self) -> int:
        """ESME_ROK, or the status this submit_sm is refused with."""
        self._submits_seen += 1
        n = self._submits_seen
        if self.throttle_every and n % self.throttle_every == 0:
            self.stats.throttled += 1
            return ESME_RTHROTTLED
        if self.queue_full_every and n % self.queue_full_every == 0:
            self.stats.queue_full += 1
            return ESME_RMSGQFUL
        if self.max_tps > 0 and not self._take_token():
            self.stats.throttled += 1
            return ESME_RTHROTTLED
        return ESME_ROK

    def _take_token(self) -> bool:
        now = time.monotonic()
        rate = float(self.max_tps)
        burst = max(1.0, rate / 10.0)
        if rate != self._bucket_rate:
            self._bucket_rate = rate
            self._bucket_tokens = burst
            self._bucket_stamp = now
        self._bucket_tokens = min(burst, self._bucket_tokens + (now - self._bucket_stamp) * rate)
        self._bucket_stamp = now
        if self._bucket_tokens >= 1.0:
            self._bucket_tokens -= 1.0
            return True
        return False

    def _malformed(self, seq: int) -> bytes:
        if self.malformed_factory is not None:
            return self.malformed_factory(seq)
        builders = list(MALFORMED.values())
        builder = builders[self._malformed_count % len(builders)]
        self._malformed_count += 1
        return builder(seq)

    # --- receipts --------------------------------------------------------

    def _outcome_picker(self) -> Callable[[bytes], str]:
        """Outcome by destination override, else drawn from ``dlr_mix``; built once per receipt batch."""
        fixed = {k.encode("latin-1"): v for k, v in self.dlr_by_destination.items()}
        names = list(self.dlr_mix)
        cumulative = list(itertools.accumulate(self.dlr_mix[n] for n in names))
        total = cumulative[-1]
        rand = self.rng.random
        only = names[0] if len(names) == 1 else None

        def pick(destination: bytes) -> str:
            if fixed:
                chosen = fixed.get(destination)
                if chosen is not None:
                    return chosen
            if only is not None:
                return only
            return names[min(bisect.bisect_right(cumulative, rand() * total), len(names) - 1)]

        return pick

    def _schedule_receipts(self, system_id: str, batch: list[tuple[str, int, bytes, float]]) -> None:
        if self.dlr_before_resp:
            self._send_receipts(system_id, batch)
            for session in self._receivers.get(system_id, ()):  # receipts first on the wire
                session._flush()
            return
        loop = asyncio.get_running_loop()
        self._later(loop.call_later(self.dlr_delay_ms / 1000.0, self._send_receipts, system_id, batch))

    def _send_receipts(self, system_id: str, batch: list[tuple[str, int, bytes, float]]) -> None:
        done = datetime.now(UTC)
        done_date = smpp_date(done)
        pick = self._outcome_picker()
        deliver = self._deliver
        receipts_sent = 0
        submit_dates: dict[float, str] = {}  # a batch shares one arrival time: format it once
        id_format, rid_format, rid_style, mode = (
            self.id_format,
            self.receipt_id_format,
            self.receipt_id_style,
            self.receipt_mode,
        )
        for message_id, number, body, submitted_at in batch:
            try:
                view = submit_view(body)
            except CodecError:  # checked on arrival; cannot happen, but a receipt is not worth a crash
                log.exception("undecodable submit_sm %s", message_id)
                continue
            outcome = pick(view.destination)
            if self.record:
                self._states[message_id] = (outcome, None if outcome in NOT_FINAL else done)
            if view.registered_delivery & 0x03 == 0x02 and outcome not in FAILURES:
                continue
            submit_date = submit_dates.get(submitted_at)
            if submit_date is None:
                submit_date = submit_dates[submitted_at] = smpp_date(
                    datetime.fromtimestamp(submitted_at, UTC)
                )
            rid = receipt_id(number, id_format, rid_format, rid_style)
            if view.registered_delivery & 0x10 and outcome not in NOT_FINAL:
                # intermediate notification requested: an ACCEPTD receipt first, then the final one
                receipts_sent += 1
                deliver(
                    Delivery(
                        system_id, receipt_body(view, rid, "accepted", submit_date, done_date, mode), None
                    )
                )
            body_out = receipt_body(view, rid, outcome, submit_date, done_date, mode)
            receipts_sent += 1
            deliver(Delivery(system_id, body_out, None))
        self.stats.receipts_sent += receipts_sent

    # --- mobile-originated messages -------------------------------------

    async def send_mo(
        self,
        *,
        system_id: str,
        source: str,
        destination: str,
        text: str,
        concat: str | None = None,
        coding: str = "auto",
        raw_split: bool = False,
        order: str = "forward",
        wait: bool = True,
        wait_seconds: float = 5.0,
    ) -> list[int]:
        """Send an MO message to a receiver bound as ``system_id``.

        Parts go out in ``order`` ("forward", "reverse" or "shuffle", seeded),
        so reassembly out of order can be tested. With ``wait`` it returns each
        part's deliver_sm_resp command_status; if no receiver is bound, parts
        wait for one (and ``wait`` may time out).
        """
        self._mo_ref = self._mo_ref % 0xFFFF + 1
        ref = self._mo_ref if concat == "udh16" else (self._mo_ref % 0xFF) + 1
        bodies = mo_bodies(
            source, destination, text, concat=concat, coding=coding, ref=ref, raw_split=raw_split
        )
        if order == "reverse":
            bodies.reverse()
        elif order == "shuffle":
            self.rng.shuffle(bodies)
        elif order != "forward":
            raise ValueError("order must be forward, reverse or shuffle")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[int]] = []
        for body in bodies:
            future: asyncio.Future[int] = loop.create_future()
            futures.append(future)
            self.stats.mo_sent += 1
            self._deliver(Delivery(system_id, body, future))
        if not wait:
            return []
        return list(await asyncio.wait_for(asyncio.gather(*futures), wait_seconds))


def parse_users(spec: str) -> dict[str, str]:
    """``u:p[,u2:p2]`` -> {"u": "p", "u2": "p2"}."""
    users: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise ValueError(f"user {item!r}: expected system_id:password")
        users[name] = password
    return users


def parse_mix(spec: str) -> dict[str, float]:
    """``delivered=0.9,undeliverable=0.1`` -> weights by outcome name."""
    mix: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, weight = item.partition("=")
        if not sep or name not in OUTCOMES:
            raise ValueError(
                f"dlr mix entry {item!r}: expected OUTCOME=WEIGHT with OUTCOME in {sorted(OUTCOMES)}"
            )
        mix[name] = float(weight)
    return mix
