"""Property tests: receipt texts in any field order and spelling, MO split anywhere and in any order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.adapters.smpp.mo import Reassembler
from msgbridge.adapters.smpp.receipts import (
    STAT_TABLE,
    IdBase,
    ReceiptError,
    normalize_id,
    parse_receipt,
    receipt_key,
    resp_key,
)
from msgbridge.core.encoding import choose_encoding, encode
from msgbridge.smpp import codec

FIELDS = ["sub:001", "dlvrd:001", "submit date:2501311200", "done date:250131120105", "err:000"]


def receipt(text: str) -> codec.ShortMessage:
    return codec.ShortMessage(esm_class=codec.ESM_DELIVERY_RECEIPT, short_message=text.encode("latin-1"))


@given(
    number=st.integers(min_value=1, max_value=2**63),
    hex_id=st.booleans(),
    zeros=st.integers(min_value=0, max_value=6),
    lower=st.booleans(),
    stat=st.sampled_from(sorted(STAT_TABLE)),
    order=st.permutations(range(len(FIELDS) + 2)),
    text_field=st.sampled_from(["", " text:hello", " Text:a:b c"]),
)
def test_any_field_order_and_id_spelling(
    number: int, hex_id: bool, zeros: int, lower: bool, stat: str, order: list[int], text_field: str
) -> None:
    spelled = format(number, "X") if hex_id else str(number)
    raw_id = "0" * zeros + (spelled.lower() if lower else spelled)
    parts = [*FIELDS, f"id:{raw_id}", f"stat:{stat}"]
    text = " ".join(parts[i] for i in order) + text_field
    parsed = parse_receipt(receipt(text))
    assert parsed.status is STAT_TABLE[stat]
    assert normalize_id(parsed.message_id) == normalize_id(spelled)
    base = IdBase.SAME
    assert receipt_key(parsed.message_id, base) == resp_key(spelled, base)


@given(st.binary(max_size=300))
def test_garbage_never_escapes_as_anything_but_a_receipt_error(data: bytes) -> None:
    try:
        parse_receipt(codec.ShortMessage(esm_class=codec.ESM_DELIVERY_RECEIPT, short_message=data))
    except ReceiptError:
        pass


@settings(max_examples=60)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("abc XYZ 012 @£$€{}[]~ äöü ΔΦ 😀 жщ")), min_size=2, max_size=400
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=10_000), max_size=6),
    mode=st.sampled_from(["udh8", "udh16", "sar"]),
    shuffle=st.randoms(use_true_random=False),
)
def test_mo_split_anywhere_arrives_whole(text: str, cuts: list[int], mode: str, shuffle: object) -> None:
    encoding = choose_encoding(text)
    data = encode(text, encoding)
    points = sorted({c % len(data) for c in cuts} - {0})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    total = len(chunks)
    dc = codec.DC_UCS2 if encoding.value == "ucs2" else codec.DC_DEFAULT
    parts = []
    for seq, chunk in enumerate(chunks, 1):
        sm = codec.ShortMessage(source_addr="77011234567", source_addr_ton=1, destination_addr="1234",
                                dest_addr_ton=0, data_coding=dc)  # fmt: skip
        if mode == "sar":
            sm.short_message = chunk
            sm.tlvs = codec.read_tlvs(codec.sar_tlvs(42, total, seq), 0)
        else:
            sm.esm_class = codec.ESM_UDHI
            udh = codec.udh_8bit(42, total, seq) if mode == "udh8" else codec.udh_16bit(4242, total, seq)
            sm.short_message = udh + chunk
        parts.append(sm)
    shuffle.shuffle(parts)  # type: ignore[attr-defined]
    r = Reassembler("L")
    out = [m for m in (r.add(p) for p in parts) if m is not None]
    assert len(out) == 1
    assert out[0].text == text
    assert out[0].parts == total
