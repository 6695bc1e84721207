"""Mobile-originated deliver_sm: decode, and reassemble concatenated parts.

Parts are keyed on (link, source, destination, ref, total) as Kannel does;
Jasmin leaves the source out, so two phones using the same reference collide.
A message is assembled when parts 1..total are all present, in any order
(Jasmin assembles only on the *last* part, losing a late earlier one).
Duplicates are ignored. Raw payloads are joined before decoding so that an
escape pair or surrogate pair split across parts survives. After a timeout
(Kannel: 30 minutes) whatever arrived is delivered, marked incomplete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from msgbridge.core.encoding import decode_gsm7
from msgbridge.core.message import InboundMessage
from msgbridge.smpp import codec

log = logging.getLogger(__name__)

PartKey = tuple[str, str, str, int, int]


def decode_payload(data: bytes, data_coding: int, *, default: str = "gsm7") -> str:
    """Decode MO octets by data_coding. ``default`` is what this link means by data_coding 0."""
    dc = data_coding
    if dc == codec.DC_DEFAULT:
        return decode_gsm7(data) if default == "gsm7" else data.decode("latin-1")
    if dc == codec.DC_UCS2:
        return data.decode("utf-16-be", errors="replace")
    if dc == codec.DC_IA5:
        return data.decode("ascii", errors="replace")
    if 0x01 <= dc <= 0x0F:
        return data.decode("latin-1")  # latin-1, binary and national sets: keep every octet visible
    if dc & 0xF0 == 0xF0:  # GSM DCS group F: bit 2 selects 8-bit data, else GSM-7
        return data.decode("latin-1") if dc & 0x04 else decode_gsm7(data)
    if dc & 0xC0 == 0x00:  # GSM general data coding group: alphabet in bits 3-2
        alphabet = (dc >> 2) & 0x03
        if alphabet == 0:
            return decode_gsm7(data)
        if alphabet == 2:
            return data.decode("utf-16-be", errors="replace")
    return data.decode("latin-1")


def _address(addr: str, ton: int) -> str:
    """International numbers (TON 1) in E.164 with ``+``, as the rest of msgbridge spells them."""
    return f"+{addr}" if ton == 1 and addr.isdigit() else addr


def concat_of(sm: codec.ShortMessage) -> tuple[codec.Concat | None, bytes]:
    """The concatenation info (UDH IEI 0x00/0x08 or SAR TLVs) and the payload without its UDH."""
    payload = sm.payload
    concat: codec.Concat | None = None
    if sm.esm_class & codec.ESM_UDHI:
        concat, payload = codec.split_udh(payload)
    if concat is None:
        concat = codec.sar_info(sm.tlvs)
    return concat, payload


@dataclass(slots=True)
class _Pending:
    data_coding: int
    total: int
    first_seen: float
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class MoStats:
    single: int = 0
    parts: int = 0
    duplicates: int = 0
    assembled: int = 0
    incomplete: int = 0


class Reassembler:
    """Collects MO parts; :meth:`add` returns an InboundMessage once one is complete."""

    def __init__(
        self,
        link: str,
        *,
        timeout: float = 1800.0,
        default_coding: str = "gsm7",
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.timeout = timeout
        # Bounded memory: past this many incomplete messages the oldest is delivered as it is.
        self.max_pending = max_pending
        self._evicted: list[PartKey] = []
        self.default_coding = default_coding
        self.clock = clock
        self.stats = MoStats()
        self._pending: dict[PartKey, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, sm: codec.ShortMessage) -> InboundMessage | None:
        concat, payload = concat_of(sm)
        source = _address(sm.source_addr, sm.source_addr_ton)
        destination = _address(sm.destination_addr, sm.dest_addr_ton)
        if concat is None or concat.total <= 1:
            self.stats.single += 1
            return self._message(
                source,
                destination,
                payload,
                sm.data_coding,
                1,
                None,
            )
        self.stats.parts += 1
        if not 1 <= concat.seq <= concat.total:
            log.warning(
                "MO part %d of %d from %s is out of range; kept as its own message",
                concat.seq,
                concat.total,
                sm.source_addr,
            )
            return self._message(
                source,
                destination,
                payload,
                sm.data_coding,
                1,
                None,
            )
        key: PartKey = (
            self.link,
            source,
            destination,
            concat.ref,
            concat.total,
        )
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= self.max_pending:
                self._evicted.append(next(iter(self._pending)))
            pending = self._pending[key] = _Pending(sm.data_coding, concat.total, self.clock())
        if concat.seq in pending.parts:
            self.stats.duplicates += 1
            return None
        pending.parts[concat.seq] = payload
        if len(pending.parts) < pending.total:
            return None
        del self._pending[key]
        self.stats.assembled += 1
        data = b"".join(pending.parts[i] for i in range(1, pending.total + 1))
        return self._message(
            source,
            destination,
            data,
            pending.data_coding,
            pending.total,
            concat.ref,
        )

    def expire(self) -> list[InboundMessage]:
        """Deliver what has arrived of messages older than the timeout, in part order, marked incomplete."""
        return self._expire(self.clock() - self.timeout)

    def expire_all(self) -> list[InboundMessage]:
        """Deliver every incomplete message now (on close), so no received part is lost."""
        return self._expire(float("inf"))

    def _expire(self, older_than: float) -> list[InboundMessage]:
        out: list[InboundMessage] = []
        evicted, self._evicted = set(self._evicted), []
        for key, pending in list(self._pending.items()):
            if pending.first_seen > older_than and key not in evicted:
                continue
            del self._pending[key]
            self.stats.incomplete += 1
            _, source, destination, ref, total = key
            data = b"".join(pending.parts[i] for i in sorted(pending.parts))
            msg = self._message(source, destination, data, pending.data_coding, len(pending.parts), ref)
            missing = sorted(set(range(1, total + 1)) - set(pending.parts))
            out.append(replace(msg, raw={**(msg.raw or {}), "incomplete": True, "missing": missing}))
        return out

    def _message(
        self, source: str, destination: str, data: bytes, data_coding: int, parts: int, ref: int | None
    ) -> InboundMessage:
        raw: dict[str, object] = {"data_coding": data_coding}
        if ref is not None:
            raw["ref"] = ref
        return InboundMessage(
            source=source,
            destination=destination,
            text=decode_payload(data, data_coding, default=self.default_coding),
            link=self.link,
            parts=parts,
            raw=raw,
        )
