"""MO reassembly: UDH 8/16-bit and SAR parts in any order, duplicates, split escape pairs, timeouts."""

from __future__ import annotations

import pytest

from msgbridge.adapters.smpp.mo import Reassembler, decode_payload
from msgbridge.core.encoding import encode_gsm7
from msgbridge.smpp import codec


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def part(
    data: bytes, mode: str, ref: int, total: int, seq: int, source: str = "77011234567", dc: int = 0
) -> codec.ShortMessage:
    sm = codec.ShortMessage(source_addr=source, destination_addr="1234", data_coding=dc, dest_addr_ton=0)
    if mode == "udh8":
        sm.esm_class = codec.ESM_UDHI
        sm.short_message = codec.udh_8bit(ref, total, seq) + data
    elif mode == "udh16":
        sm.esm_class = codec.ESM_UDHI
        sm.short_message = codec.udh_16bit(ref, total, seq) + data
    else:
        sm.short_message = data
        sm.tlvs = codec.read_tlvs(codec.sar_tlvs(ref, total, seq), 0)
    return sm


@pytest.mark.parametrize("mode", ["udh8", "udh16", "sar"])
@pytest.mark.parametrize("order", [[1, 2, 3], [3, 1, 2], [2, 3, 1]])
def test_parts_in_any_order(mode: str, order: list[int]) -> None:
    r = Reassembler("L")
    chunks = [b"Hello ", b"there ", b"world"]
    out = [r.add(part(chunks[i - 1], mode, 7, 3, i)) for i in order]
    assert out[:2] == [None, None]
    msg = out[2]
    assert msg is not None
    assert (msg.text, msg.parts, msg.source, msg.destination, msg.link) == (
        "Hello there world",
        3,
        "77011234567",
        "1234",
        "L",
    )
    assert len(r) == 0


def test_international_numbers_get_a_plus() -> None:
    sm = codec.ShortMessage(
        source_addr="77011234567",
        source_addr_ton=1,
        destination_addr="1234",
        dest_addr_ton=3,
        short_message=b"x",
    )
    msg = Reassembler("L").add(sm)
    assert msg is not None and (msg.source, msg.destination) == ("+77011234567", "1234")


def test_duplicates_are_ignored() -> None:
    r = Reassembler("L")
    assert r.add(part(b"a", "udh8", 1, 2, 1)) is None
    assert r.add(part(b"a", "udh8", 1, 2, 1)) is None
    msg = r.add(part(b"b", "udh8", 1, 2, 2))
    assert msg is not None and msg.text == "ab"
    assert r.stats.duplicates == 1


def test_same_ref_from_two_senders_does_not_collide() -> None:
    r = Reassembler("L")
    assert r.add(part(b"A1", "udh8", 5, 2, 1, source="111")) is None
    assert r.add(part(b"B1", "udh8", 5, 2, 1, source="222")) is None
    a = r.add(part(b"A2", "udh8", 5, 2, 2, source="111"))
    b = r.add(part(b"B2", "udh8", 5, 2, 2, source="222"))
    assert a is not None and b is not None
    assert (a.text, b.text) == ("A1A2", "B1B2")


def test_escape_pair_split_across_parts_survives() -> None:
    data = encode_gsm7("price 5€ ok")
    cut = data.index(b"\x1b") + 1  # cut between ESC and the euro code
    r = Reassembler("L")
    r.add(part(data[:cut], "udh8", 9, 2, 1))
    msg = r.add(part(data[cut:], "udh8", 9, 2, 2))
    assert msg is not None and msg.text == "price 5€ ok"


def test_surrogate_pair_split_across_parts_survives() -> None:
    data = "hi 😀 there".encode("utf-16-be")
    cut = 3 * 2 + 2  # inside the surrogate pair
    r = Reassembler("L")
    r.add(part(data[:cut], "sar", 300, 2, 1, dc=codec.DC_UCS2))
    msg = r.add(part(data[cut:], "sar", 300, 2, 2, dc=codec.DC_UCS2))
    assert msg is not None and msg.text == "hi 😀 there"


def test_timeout_delivers_what_arrived_marked_incomplete() -> None:
    clock = Clock()
    r = Reassembler("L", timeout=10, clock=clock)
    r.add(part(b"one ", "udh8", 3, 3, 1))
    r.add(part(b"three", "udh8", 3, 3, 3))
    clock.now = 5
    assert r.expire() == []
    clock.now = 11
    [msg] = r.expire()
    assert msg.text == "one three"
    assert msg.raw is not None and msg.raw["incomplete"] is True and msg.raw["missing"] == [2]


def test_single_message_and_other_udh_elements() -> None:
    r = Reassembler("L")
    msg = r.add(codec.ShortMessage(source_addr="1", destination_addr="2", short_message=b"plain"))
    assert msg is not None and (msg.text, msg.parts) == ("plain", 1)
    # a port-addressing IE (0x05) before the concatenation IE
    udh = bytes((0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x11, 0x02, 0x01))
    sm = codec.ShortMessage(
        source_addr="1", destination_addr="2", esm_class=codec.ESM_UDHI, short_message=udh + b"x"
    )
    assert r.add(sm) is None
    assert len(r) == 1


@pytest.mark.parametrize(
    ("dc", "data", "text"),
    [
        (0x00, encode_gsm7("@£$ok"), "@£$ok"),
        (0x01, b"ascii", "ascii"),
        (0x03, "café".encode("latin-1"), "café"),
        (0x08, "Привет".encode("utf-16-be"), "Привет"),
        (0xF0, encode_gsm7("flash"), "flash"),
        (0x18, "é".encode("utf-16-be"), "é"),
    ],
)
def test_decode_by_data_coding(dc: int, data: bytes, text: str) -> None:
    assert decode_payload(data, dc) == text


def test_data_coding_zero_as_latin1_per_link() -> None:
    assert decode_payload("café".encode("latin-1"), 0, default="latin1") == "café"


def test_pending_parts_are_bounded_and_the_oldest_is_delivered_incomplete() -> None:
    r = Reassembler("L", max_pending=2)
    assert r.add(part(b"A1", "udh8", 1, 2, 1, source="111")) is None
    assert r.add(part(b"B1", "udh8", 2, 2, 1, source="222")) is None
    assert r.add(part(b"C1", "udh8", 3, 2, 1, source="333")) is None  # evicts the oldest (111)
    [msg] = r.expire()
    assert (msg.source, msg.text) == ("111", "A1")
    assert msg.raw is not None and msg.raw["incomplete"] is True and msg.raw["missing"] == [2]
    assert len(r) == 2
