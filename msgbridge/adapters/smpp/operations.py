"""Message -> submit_sm bodies: coding choice, addresses, schedule and validity, long-message split.

The fixed parts of a body (service_type and source address; esm_class to
sm_default_msg_id) are encoded once per distinct value from the field layout
in msgbridge/smpp/codec.py (``SM_LAYOUT``) and cached, so a body is a join of
a few ready ``bytes``: at 100,000 messages/s there is no room for a field-by-
field encoder per message. tests/unit/smpp/test_operations.py holds every
body equal, byte for byte, to ``codec.encode_sm`` of the same fields.

Text coding goes through msgbridge/core/encoding.py (GSM 03.38 tables,
segment limits, splitting that never cuts an escape or surrogate pair).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from msgbridge.core.encoding import (
    GSM_CHARS,
    LIMITS,
    MAX_SEGMENTS,
    Encoding,
    choose_encoding,
    encode,
    encode_gsm7,
    is_latin1,
    split,
)
from msgbridge.core.errors import ConfigError, ErrorCode, ErrorInfo
from msgbridge.core.message import Channel, Message
from msgbridge.smpp import codec
from msgbridge.smpp.addressing import address

LONG_MODES = ("udh8", "udh16", "sar", "payload")
CODINGS = ("auto", "gsm", "latin1", "ucs2")
DATA_CODING: dict[Encoding, int] = {
    Encoding.GSM7: codec.DC_DEFAULT,
    Encoding.LATIN1: codec.DC_LATIN1,
    Encoding.UCS2: codec.DC_UCS2,
}
# dest_addr_ton=1 (international), dest_addr_npi=1 (E.164): every destination is a phone number.
DEST_PREFIX = codec.encode_fields(
    "dest_addr_ton", "dest_addr_npi", {"dest_addr_ton": 1, "dest_addr_npi": 1}.__getitem__
)


def smpp_time(when: datetime) -> str:
    """Absolute SMPP time in UTC: YYMMDDhhmmss000+ (SMPP 3.4 §7.1)."""
    utc = when.astimezone(UTC) if when.tzinfo else when
    return utc.strftime("%y%m%d%H%M%S") + "000+"


def smpp_relative(delta: timedelta) -> str:
    """Relative SMPP time: YYMMDDhhmmss000R, days folded into the DD field (max 99)."""
    total = int(delta.total_seconds())
    if total <= 0:
        raise ConfigError(f"validity {delta} is not positive")
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    years, days = divmod(days, 365)
    months, days = divmod(days, 30)
    return f"{min(years, 99):02d}{months:02d}{days:02d}{hours:02d}{minutes:02d}{seconds:02d}000R"


def choose(text: str, coding: str) -> Encoding | None:
    """The encoding for ``text`` under the ``coding=`` option; None when ``gsm`` cannot carry it."""
    if coding == "ucs2":
        return Encoding.UCS2
    if coding == "gsm":
        return Encoding.GSM7 if GSM_CHARS.issuperset(text) else None
    if coding == "latin1":
        return Encoding.LATIN1 if is_latin1(text) else Encoding.UCS2
    return choose_encoding(text)


class SubmitEncoder:
    """submit_sm bodies for one transport's options (service_type, default sender, receipts, coding, long)."""

    def __init__(
        self, *, service_type: str, source: str, dlr: bool, coding: str, long: str, refs: Iterator[int]
    ) -> None:
        self.service_type = service_type
        self.source = source
        self.registered_delivery = 1 if dlr else 0
        self.coding = coding
        self.long = long
        self.refs = refs  # concatenation reference numbers, one per long message
        self._source_cache: dict[str, bytes] = {}
        self._middle_cache: dict[tuple[int, int, str, str], bytes] = {}
        # destination's NUL + fixed fields of a plain GSM-7 submit_sm, when coding=auto|gsm
        self._plain_gsm: bytes | None = None
        if coding in ("auto", "gsm"):
            self._plain_gsm = b"\x00" + self.middle(0, codec.DC_DEFAULT, "", "")
        self.head(source)  # a bad default sender is refused here, when the transport is made

    def head(self, sender: str) -> bytes:
        """service_type and the source address, for ``sender``; ValueError for an unusable sender."""
        cached = self._source_cache.get(sender)
        if cached is None:
            ton, npi, addr = address(sender) if sender else (0, 0, "")
            if ton == 5 and len(addr) > 11:
                raise ValueError(f"alphanumeric sender {addr!r} is longer than 11 characters")
            values: dict[str, str | int] = {
                "service_type": self.service_type,
                "source_addr_ton": ton,
                "source_addr_npi": npi,
                "source_addr": addr,
            }
            cached = codec.encode_fields("service_type", "source_addr", values.__getitem__)
            if len(self._source_cache) < 10_000:
                self._source_cache[sender] = cached
        return cached

    def middle(self, esm: int, dc: int, schedule: str, validity: str) -> bytes:
        """esm_class to sm_default_msg_id."""
        key = (esm, dc, schedule, validity)
        cached = self._middle_cache.get(key)
        if cached is None:
            values: dict[str, str | int] = {
                "esm_class": esm,
                "protocol_id": 0,
                "priority_flag": 0,
                "schedule_delivery_time": schedule,
                "validity_period": validity,
                "registered_delivery": self.registered_delivery,
                "replace_if_present_flag": 0,
                "data_coding": dc,
                "sm_default_msg_id": 0,
            }
            cached = codec.encode_fields("esm_class", "sm_default_msg_id", values.__getitem__)
            if len(self._middle_cache) < 1_000:
                self._middle_cache[key] = cached
        return cached

    def encode(self, message: Message) -> list[bytes] | ErrorInfo:
        """submit_sm bodies for every segment of ``message``, or why it cannot be sent."""
        text = message.text
        if (
            self._plain_gsm is not None
            and message.scheduled_at is None
            and message.validity is None
            and message.channel is Channel.SMS
            and GSM_CHARS.issuperset(text)
        ):
            # The common case, kept short: one GSM-7 segment, no schedule or validity.
            data = encode_gsm7(text)
            to = message.to
            dest = to[1:] if to[:1] == "+" else to
            head = self._source_cache.get(message.sender or self.source)
            if len(data) <= 160 and head is not None and dest.isdigit() and len(dest) <= 20:
                return [
                    b"".join((head, DEST_PREFIX, dest.encode(), self._plain_gsm, bytes((len(data),)), data))
                ]
        if message.channel is not Channel.SMS:
            return ErrorInfo(code=ErrorCode.UNSUPPORTED, native_message="smpp:// sends SMS only")
        to = message.to
        dest = to[1:] if to.startswith("+") else to
        if not dest.isdigit() or len(dest) > 20:
            return ErrorInfo(code=ErrorCode.INVALID_DESTINATION, native_message=f"not a phone number: {to!r}")
        try:
            head = self.head(message.sender or self.source)
        except ValueError as exc:
            return ErrorInfo(code=ErrorCode.INVALID_SENDER, native_message=str(exc))
        enc = choose(text, self.coding)
        if enc is None:
            return ErrorInfo(
                code=ErrorCode.INVALID_ARGUMENT,
                native_message="coding=gsm but the text has characters outside GSM 03.38",
            )
        schedule = smpp_time(message.scheduled_at) if message.scheduled_at else ""
        try:
            validity = smpp_relative(message.validity) if message.validity else ""
        except ConfigError as exc:
            return exc.info
        dst = DEST_PREFIX + dest.encode("ascii") + b"\x00"
        dc = DATA_CODING[enc]
        data = encode(text, enc)
        units = len(data) // 2 if enc is Encoding.UCS2 else len(data)
        long = self.long
        if units <= LIMITS[enc].single:
            return [b"".join((head, dst, self.middle(0, dc, schedule, validity), bytes((len(data),)), data))]
        if long == "payload":
            payload = codec.tlv(codec.TLV_MESSAGE_PAYLOAD, data)
            return [b"".join((head, dst, self.middle(0, dc, schedule, validity), b"\x00", payload))]
        parts = split(text, enc, ref16=long == "udh16")
        total = len(parts)
        if total > MAX_SEGMENTS:
            return ErrorInfo(
                code=ErrorCode.MESSAGE_TOO_LONG,
                native_message=f"{total} segments; SMPP allows at most {MAX_SEGMENTS}",
            )
        ref = next(self.refs) & (0xFFFF if long in ("udh16", "sar") else 0xFF)
        bodies: list[bytes] = []
        if long == "sar":
            middle = self.middle(0, dc, schedule, validity)
            for i, part in enumerate(parts, 1):
                sm = encode(part, enc)
                bodies.append(
                    b"".join((head, dst, middle, bytes((len(sm),)), sm, codec.sar_tlvs(ref, total, i)))
                )
        else:
            middle = self.middle(codec.ESM_UDHI, dc, schedule, validity)
            udh = codec.udh_16bit if long == "udh16" else codec.udh_8bit
            for i, part in enumerate(parts, 1):
                sm = udh(ref, total, i) + encode(part, enc)
                bodies.append(b"".join((head, dst, middle, bytes((len(sm),)), sm)))
        return bodies
