"""The simulator's state and rules, without sockets: binds, stored messages, receipts, MO, knobs.

:class:`SmscCore` is what every connection reports into and asks; the
connections themselves (:mod:`session`) only frame PDUs and write answers, and
reach the core through the public methods below. The core in turn drives a
connection only through the :class:`Link` methods, so either side can change
its insides without the other noticing.

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
  until :meth:`SmscCore.release_late`: a test that needs them to come
  after the client's response timeout says when, rather than racing a timer
  on a loaded machine.
- ``malformed_every``: every Nth accepted submit_sm is preceded on the wire by
  a malformed PDU (from :data:`MALFORMED`, or ``malformed_factory`` if set).
- ``max_tps``: a token bucket over all sessions; submit_sm beyond it gets
  ESME_RTHROTTLED.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from msgbridge.simulators.smsc.link import Delivery as Delivery
from msgbridge.simulators.smsc.link import Link as Link
from msgbridge.simulators.smsc.link import ReceiptDue as ReceiptDue
from msgbridge.simulators.smsc.malformed import MALFORMED
from msgbridge.simulators.smsc.mo import mo_bodies
from msgbridge.simulators.smsc.receipts import (
    FAILURES,
    ID_FORMATS,
    OUTCOMES,
    RECEIPT_ID_FORMATS,
    RECEIPT_ID_STYLES,
    RECEIPT_MODES,
    outcome_picker,
    receipt_body,
    receipt_id,
    smpp_date,
    submit_view,
)
from msgbridge.simulators.smsc.stats import SmscStats, Submitted
from msgbridge.smpp.codec import (
    ENQUIRE_LINK,
    ESME_RBINDFAIL,
    ESME_RINVPASWD,
    ESME_RINVSYSID,
    ESME_RMSGQFUL,
    ESME_ROK,
    ESME_RSYSERR,
    ESME_RTHROTTLED,
    ESME_RX_T_APPN,
    CodecError,
    decode_sm,
    pdu,
)

log = logging.getLogger(__name__)

DEFAULT_DLR_MIX: dict[str, float] = {"delivered": 1.0}
NOT_FINAL: frozenset[str] = frozenset({"enroute", "accepted"})
# command_status values after which an SMSC keeps a deliver_sm and tries again (SMPP 3.4 §5.1.3)
REDELIVER_STATUSES: frozenset[int] = frozenset({ESME_RX_T_APPN, ESME_RSYSERR, ESME_RMSGQFUL, ESME_RTHROTTLED})


class SmscCore:
    """A fault-injecting SMSC's state. See the module docstring for how the knobs count."""

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
        # the number the next accepted submit_sm gets; tests set it to pin the spelling of an id
        self.next_number: int = (
            id_start if id_start is not None else self.rng.randrange(0x10000000, 0x40000000)
        )
        self._cpu0 = time.process_time()
        self._links: set[Link] = set()
        self._receivers: dict[str, deque[Link]] = defaultdict(deque)
        self._undelivered: dict[str, deque[Delivery]] = defaultdict(deque)
        self._raw: list[tuple[str, str, bytes]] = []
        self._decoded: list[Submitted] = []
        self._states: dict[str, tuple[str, datetime | None]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._held: list[tuple[Link, bytes]] = []  # late answers waiting for release_late()
        self._timers_limit = 1024
        self._received = 0
        self._submits_seen = 0
        self._malformed_count = 0
        self._mo_ref = 0
        self._bucket_tokens = 0.0
        self._bucket_stamp = 0.0
        self._bucket_rate = 0.0
        self._running = False

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

    # --- what is recorded --------------------------------------------------

    def snapshot(self) -> dict[str, float]:
        """The counters now, with CPU time and the receipts not yet answered."""
        self.stats.cpu_seconds = time.process_time() - self._cpu0
        self.stats.receipts_pending = sum(len(q) for q in self._undelivered.values()) + sum(
            len(link.unacked) for link in self._links
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

    @property
    def accepted(self) -> list[tuple[str, str, bytes]]:
        """Every accepted submit_sm as (system_id, message_id, body), undecoded: what :meth:`record_submitted` takes."""
        return list(self._raw)

    def record_submitted(self, system_id: str, message_id: str, body: bytes) -> None:
        """Store one accepted submit_sm body as :attr:`submitted` will report it."""
        self._raw.append((system_id, message_id, body))

    def message_state(self, message_id: str) -> tuple[str, datetime | None] | None:
        """(outcome name, final date or None) of a message whose receipt was decided; None if unknown."""
        return self._states.get(message_id)

    # --- connections and binds ----------------------------------------------

    @property
    def links(self) -> tuple[Link, ...]:
        """Every open connection, bound or not."""
        return tuple(self._links)

    def connected(self, link: Link) -> None:
        self._links.add(link)
        self.stats.connections += 1

    def disconnected(self, link: Link) -> None:
        """Forget a closed connection; the deliver_sm it left unanswered go to the next receiver."""
        self._links.discard(link)
        receivers = self._receivers.get(link.system_id)
        if receivers and link in receivers:
            receivers.remove(link)
        if link.unacked:
            self.stats.redelivered += len(link.unacked)
            for delivery in link.unacked.values():
                self.deliver(delivery)
            link.unacked.clear()

    def bind_status(self, system_id: str, password: str) -> int:
        """ESME_ROK if a bind with these credentials may go ahead, else the status to refuse it with."""
        if self.users is not None:
            expected = self.users.get(system_id)
            if expected is None:
                return ESME_RINVSYSID
            if expected != password:
                return ESME_RINVPASWD
        if self.max_binds and self.bound_count(system_id) >= self.max_binds:
            return ESME_RBINDFAIL
        return ESME_ROK

    def bound_count(self, system_id: str) -> int:
        return sum(1 for s in self._links if s.system_id == system_id and s.mode and not s.closed)

    def bound(self, link: Link) -> None:
        """A bind was answered: a receiver now gets what waited for its system_id."""
        if link.mode in ("rx", "trx"):
            self._receivers[link.system_id].append(link)
            waiting = self._undelivered.pop(link.system_id, None)
            if waiting:
                for delivery in waiting:
                    self.deliver(delivery)

    def drop_all(self) -> int:
        """Abort every connection now (a network failure on demand); returns how many."""
        links = [s for s in self._links if not s.closed]
        for link in links:
            link.abort()
        self.stats.dropped += len(links)
        return len(links)

    def inject(self, data: bytes, system_id: str | None = None) -> int:
        """Write raw bytes to every bound session (of ``system_id`` if given); returns how many."""
        n = 0
        for link in list(self._links):
            if link.mode and not link.closed and (system_id is None or link.system_id == system_id):
                link.queue(data)
                n += 1
        return n

    def housekeep(self, now: float) -> None:
        """Resend receipts nobody answered within ``deliver_timeout_ms``; send enquire_link every ``enquire_link_ms``."""
        if self.deliver_timeout_ms > 0:
            limit = now - self.deliver_timeout_ms / 1000.0
            for link in list(self._links):
                stale = []
                for seq, delivery in link.unacked.items():  # oldest first
                    if delivery.sent_at > limit:
                        break
                    stale.append(seq)
                for seq in stale:
                    self.stats.redelivered += 1
                    self.deliver(link.unacked.pop(seq))
        if self.enquire_link_ms > 0:
            interval = self.enquire_link_ms / 1000.0
            for link in list(self._links):
                if link.mode and not link.closed and now - link.last_enquire >= interval:
                    link.last_enquire = now
                    self.stats.enquire_link_sent += 1
                    link.queue(pdu(ENQUIRE_LINK, 0, link.next_sequence()))

    # --- timers -------------------------------------------------------------

    def start(self) -> None:
        """The server is listening: redeliveries are timed from now on."""
        self._running = True

    def shutdown(self) -> None:
        """Cancel every pending timer and forget held answers; the server is going away."""
        self._running = False
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._held.clear()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` in ``delay`` seconds unless :meth:`shutdown` comes first."""
        self._timers.add(asyncio.get_running_loop().call_later(delay, callback, *args))
        if len(self._timers) > self._timers_limit:  # prune; the limit doubles so pruning stays amortised O(1)
            now = asyncio.get_running_loop().time()
            self._timers = {t for t in self._timers if not t.cancelled() and t.when() > now}
            self._timers_limit = max(1024, 2 * len(self._timers))

    def hold(self, link: Link, data: bytes) -> None:
        """Keep late answers for :meth:`release_late` (the ``hold_late`` knob)."""
        self._held.append((link, data))

    def release_late(self) -> int:
        """Send the late answers held back by ``hold_late`` now; how many writes that took."""
        held, self._held = self._held, []
        for link, data in held:
            link.write_now(data)  # a session closed meanwhile sends nothing, as a late timer would
        return len(held)

    # --- submit_sm policy ------------------------------------------------

    def drop_due(self) -> bool:
        """Count one PDU from a bound session; True if the link drops on it (``drop_every``)."""
        self._received += 1
        return bool(self.drop_every) and self._received % self.drop_every == 0

    def refusal(self) -> int:
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

    def accept(self, system_id: str, body: bytes) -> str:
        """Give an accepted submit_sm its id as submit_sm_resp spells it, and record it.

        The id's number is ``next_number - 1`` right after; not returned as a
        tuple because this runs once per submit_sm, 100,000 times a second.
        """
        number = self.next_number
        self.next_number = number + 1
        message_id = f"{number:X}" if self._hex_ids else str(number)
        self.stats.submit_sm_ok += 1
        if self.record:
            self._raw.append((system_id, message_id, body))
        return message_id

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

    def malformed_pdu(self, seq: int) -> bytes:
        """The next malformed PDU to send ahead of the answer to ``seq``."""
        if self.malformed_factory is not None:
            return self.malformed_factory(seq)
        builders = list(MALFORMED.values())
        builder = builders[self._malformed_count % len(builders)]
        self._malformed_count += 1
        return builder(seq)

    # --- deliver_sm: receipts and MO ---------------------------------------

    def deliver(self, delivery: Delivery) -> None:
        """Send to the next receiver bound as its system_id (round robin), or keep it for the next bind."""
        receivers = self._receivers.get(delivery.system_id)
        while receivers:
            link = receivers[0]
            receivers.rotate(-1)
            if not link.closed:
                link.send_deliver(delivery)
                return
            receivers.remove(link)
        self._undelivered[delivery.system_id].append(delivery)

    def answered(self, delivery: Delivery, status: int) -> None:
        """A deliver_sm_resp came back: done, refused for good, or worth another try later."""
        if status in REDELIVER_STATUSES:
            self._redeliver_later(delivery)
            return
        if status == ESME_ROK:
            self.stats.deliver_sm_resp += 1
        else:
            self.stats.deliver_sm_refused += 1
        if delivery.future is not None and not delivery.future.done():
            delivery.future.set_result(status)

    def _redeliver_later(self, delivery: Delivery) -> None:
        self.stats.redelivered += 1
        if not self._running:
            self._undelivered[delivery.system_id].append(delivery)
            return
        self.call_later(self.redeliver_delay_ms / 1000.0, self.deliver, delivery)

    def _outcome_picker(self) -> Callable[[bytes], str]:
        """Outcome by destination override, else drawn from ``dlr_mix`` (receipts.outcome_picker), per batch."""
        return outcome_picker(self.dlr_by_destination, self.dlr_mix, self.rng)

    def schedule_receipts(self, system_id: str, batch: list[ReceiptDue]) -> None:
        """Receipts for one read-loop turn's accepted submit_sm: after ``dlr_delay_ms``, or before the answers."""
        if self.dlr_before_resp:
            self.send_receipts(system_id, batch)
            for link in self._receivers.get(system_id, ()):  # receipts first on the wire
                link.flush()
            return
        self.call_later(self.dlr_delay_ms / 1000.0, self.send_receipts, system_id, batch)

    def send_receipts(self, system_id: str, batch: list[ReceiptDue]) -> None:
        """Decide each message's outcome and deliver the receipts its registered_delivery asks for."""
        done = datetime.now(UTC)
        done_date = smpp_date(done)
        pick = self._outcome_picker()
        deliver = self.deliver
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
            self.deliver(Delivery(system_id, body, future))
        if not wait:
            return []
        return list(await asyncio.wait_for(asyncio.gather(*futures), wait_seconds))
