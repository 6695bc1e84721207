"""The in-memory correlator: matching, parking until the resp, cross-base matching in AUTO mode."""

from __future__ import annotations

from msgbridge.adapters.smpp.correlation import LEARN_AFTER, Correlator
from msgbridge.adapters.smpp.receipts import IdBase, ParsedReceipt
from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import DeliveryStatus as D


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def rcpt(mid: str, status: D = D.DELIVERED, stat: str = "DELIVRD", err: str = "000") -> ParsedReceipt:
    return ParsedReceipt(message_id=mid, status=status, native_status=stat, err=err)


def test_matches_a_known_id_and_names_the_segment() -> None:
    c = Correlator("L", IdBase.SAME)
    c.sent("m1", ["A1", "A2"])
    [r] = c.receipt(rcpt("0a2"))
    assert (r.native_id, r.message_id, r.link, r.status) == ("A2", "m1", "L", D.DELIVERED)
    assert r.raw is not None and (r.raw["segment"], r.raw["segments"]) == (2, 2)
    assert r.error is None


def test_failure_keeps_stat_and_err() -> None:
    c = Correlator("L")
    c.sent("m1", ["7"])
    [r] = c.receipt(rcpt("7", D.UNDELIVERABLE, "UNDELIV", "001"))
    assert r.error is not None and r.error.code is ErrorCode.PERMANENT_FAILURE
    assert r.error.native_code == "001"
    assert "UNDELIV" in r.error.native_message


def test_receipt_before_resp_is_parked_then_released() -> None:
    clock = Clock()
    c = Correlator("L", IdBase.SAME, park_seconds=5, clock=clock)
    assert c.receipt(rcpt("BEEF")) == []
    assert c.parked == 1
    [r] = c.sent("m1", ["BEEF"])
    assert r.message_id == "m1"
    assert c.parked == 0
    clock.now += 10
    assert c.expire() == []


def test_parked_receipt_expires_unmatched_with_its_id() -> None:
    clock = Clock()
    c = Correlator("L", IdBase.SAME, park_seconds=5, clock=clock)
    c.receipt(rcpt("00beef"))
    clock.now += 4
    assert c.expire() == []
    clock.now += 2
    [r] = c.expire()
    assert (r.native_id, r.message_id) == ("BEEF", None)
    assert c.stats.unmatched == 1


def test_flush_emits_everything_parked() -> None:
    c = Correlator("L", park_seconds=60)
    c.receipt(rcpt("1"))
    c.receipt(rcpt("2"))
    assert sorted(r.native_id for r in c.flush()) == ["1", "2"]


def test_auto_matches_decimal_receipt_for_hex_resp_and_learns() -> None:
    c = Correlator("L", IdBase.AUTO, park_seconds=0)
    for i in range(LEARN_AFTER):
        c.sent(f"m{i}", [format(1000 + i, "X")])
        [r] = c.receipt(rcpt(str(1000 + i)))
        assert (r.message_id, r.native_id) == (f"m{i}", format(1000 + i, "X"))
    assert c.stats.learned is IdBase.RESP_HEX
    # a receipt for an id this process never sent is now spelt the way the store knows it
    [r] = c.receipt(rcpt("4096"))
    assert (r.message_id, r.native_id) == (None, "1000")


def test_auto_matches_hex_receipt_for_decimal_resp() -> None:
    c = Correlator("L", IdBase.AUTO)
    c.sent("m", ["4096"])
    [r] = c.receipt(rcpt("00001000"))
    assert (r.message_id, r.native_id) == ("m", "4096")


def test_auto_parks_under_every_spelling() -> None:
    c = Correlator("L", IdBase.AUTO, park_seconds=5)
    assert c.receipt(rcpt("255")) == []
    [r] = c.sent("m", ["FF"])
    assert (r.message_id, r.native_id) == ("m", "FF")
    assert c.parked == 0


def test_index_is_bounded() -> None:
    c = Correlator("L", max_ids=3)
    for i in range(5):
        c.add(str(i), f"m{i}", 0, 1)
    assert len(c) == 3
    assert c.lookup("0") is None and c.lookup("4") is not None


def test_emitted_receipt_equals_a_keyword_one_and_survives_json() -> None:
    from msgbridge.core import records
    from msgbridge.core.errors import ErrorInfo
    from msgbridge.core.message import DeliveryReceipt

    c = Correlator("L", IdBase.SAME)
    c.sent("m1", ["A1", "A2"])
    [fast] = c.receipt(rcpt("0A1", D.UNDELIVERABLE, "UNDELIV", "001"))
    error = ErrorInfo(
        code=ErrorCode.PERMANENT_FAILURE, native_code="001", native_message="stat:UNDELIV err:001"
    )
    raw: dict[str, object] = {"id": "0A1", "err": "001", "segment": 1, "segments": 2}
    slow = DeliveryReceipt(
        native_id="A1",
        status=D.UNDELIVERABLE,
        native_status="UNDELIV",
        error=error,
        message_id="m1",
        link="L",
        received_at=fast.received_at,
        raw=raw,
    )
    assert fast == slow
    assert records.dump(fast) == records.dump(slow)
    assert records.load_json(DeliveryReceipt, records.dump_json(fast)) == slow


def test_index_keeps_segments_and_drops_oldest_first() -> None:
    """One-part messages are kept as their id alone, parts as (id, seq, total): both read back the same,
    and a key seen again keeps its place in the eviction order (as the OrderedDict before it did)."""
    c = Correlator("L", max_ids=4)
    c.sent("single", ["S"])
    c.sent("multi", ["M1", "M2"])
    c.add("S", "single", 0, 1)  # again: still the oldest
    assert c.lookup("S") == ("single", 0, 1)
    assert c.lookup("M2") == ("multi", 1, 2)
    c.add("X", "x", 0, 1)
    assert len(c) == 4
    c.add("Y", "y", 0, 1)
    assert c.lookup("S") is None and c.lookup("M1") is not None
    assert [c.lookup(k) for k in ("M1", "M2", "X", "Y")] == [
        ("multi", 0, 2),
        ("multi", 1, 2),
        ("x", 0, 1),
        ("y", 0, 1),
    ]
    [r] = c.receipt(rcpt("M2", D.DELIVERED, "DELIVRD"))
    assert (r.message_id, r.raw["segment"], r.raw["segments"]) == ("multi", 2, 2)
