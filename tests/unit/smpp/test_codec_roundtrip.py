"""The shared PDU codec: round trips, and no exception but CodecError on arbitrary input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.smpp import codec

latin1_text = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=20)


def cstring(max_len: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=max_len - 1)


octet = st.integers(0, 255)
tlv_map = st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=40), max_size=4)

short_messages = st.builds(
    codec.ShortMessage,
    source_addr=cstring(21),
    destination_addr=cstring(21),
    short_message=st.binary(max_size=254),
    source_addr_ton=octet,
    source_addr_npi=octet,
    dest_addr_ton=octet,
    dest_addr_npi=octet,
    esm_class=octet,
    protocol_id=octet,
    priority_flag=octet,
    schedule_delivery_time=cstring(17),
    validity_period=cstring(17),
    registered_delivery=octet,
    replace_if_present_flag=octet,
    data_coding=octet,
    sm_default_msg_id=octet,
    service_type=cstring(6),
    tlvs=tlv_map,
)


@given(short_messages)
@settings(max_examples=200)
def test_short_message_round_trip(m: codec.ShortMessage) -> None:
    assert codec.decode_sm(codec.encode_sm(m)) == m


@given(cstring(16), cstring(9), cstring(13), octet, octet, octet, cstring(41))
def test_bind_round_trip(
    system_id: str, password: str, system_type: str, version: int, ton: int, npi: int, address_range: str
) -> None:
    b = codec.Bind(system_id, password, system_type, version, ton, npi, address_range)
    assert codec.decode_bind(codec.encode_bind(b)) == b


@given(cstring(16))
def test_bind_resp_round_trip(system_id: str) -> None:
    sid, tlvs = codec.decode_bind_resp(codec.encode_bind_resp(system_id))
    assert sid == system_id and tlvs == {codec.TLV_SC_INTERFACE_VERSION: b"\x34"}


@given(cstring(65))
def test_message_id_round_trip(message_id: str) -> None:
    assert codec.decode_message_id(codec.encode_message_id(message_id)) == message_id


@given(
    st.lists(
        st.tuples(
            st.integers(0, 0xFFFFFFFF),
            st.integers(0, 0xFFFFFFFF),
            st.integers(0, 0x7FFFFFFF),
            st.binary(max_size=300),
        ),
        max_size=8,
    ),
    st.integers(1, 64),
)
def test_frames_reassemble_a_stream_cut_anywhere(pdus: list[tuple[int, int, int, bytes]], chunk: int) -> None:
    wire = b"".join(codec.pdu(*p) for p in pdus)
    buffer = bytearray()
    got: list[tuple[int, int, int, bytes]] = []
    for i in range(0, len(wire), chunk):
        buffer += wire[i : i + chunk]
        out, used = codec.frames(buffer)
        del buffer[:used]
        got.extend(out)
    assert got == pdus and not buffer


@given(st.binary(max_size=400))
@settings(max_examples=300)
def test_frames_on_random_bytes_returns_frames_or_raises_codec_error(data: bytes) -> None:
    try:
        out, used = codec.frames(data)
    except codec.CodecError:
        return
    assert 0 <= used <= len(data)
    assert sum(16 + len(body) for *_, body in out) == used


@given(st.integers(0, 15) | st.integers(codec.MAX_PDU_LENGTH + 1, 0xFFFFFFFF))
def test_frames_rejects_lengths_outside_the_bounds(length: int) -> None:
    with pytest.raises(codec.CodecError):
        codec.frames(codec.HEADER.pack(length, codec.ENQUIRE_LINK, 0, 1) + b"\x00" * 32)


def _only_codec_errors(fn: object, data: bytes) -> None:
    try:
        fn(data)  # type: ignore[operator]
    except codec.CodecError:
        pass


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_decode_sm_on_random_bodies_raises_only_codec_error(body: bytes) -> None:
    _only_codec_errors(codec.decode_sm, body)


@given(st.binary(max_size=120))
@settings(max_examples=200)
def test_decoders_on_random_bodies_raise_only_codec_error(body: bytes) -> None:
    for fn in (
        codec.decode_bind,
        codec.decode_bind_resp,
        codec.decode_message_id,
        codec.split_udh,
        lambda b: codec.read_tlvs(b, 0),
    ):
        _only_codec_errors(fn, body)


@given(
    st.dictionaries(
        st.sampled_from(
            [codec.TLV_SAR_MSG_REF_NUM, codec.TLV_SAR_TOTAL_SEGMENTS, codec.TLV_SAR_SEGMENT_SEQNUM, 0x1234]
        ),
        st.binary(max_size=4),
    )
)
def test_sar_info_on_arbitrary_tlvs_raises_only_codec_error(tlvs: dict[int, bytes]) -> None:
    try:
        codec.sar_info(tlvs)
    except codec.CodecError:
        pass


@given(st.integers(0, 0xFFFF), st.integers(1, 255), st.integers(1, 255), st.binary(max_size=150))
def test_udh_and_sar_round_trip(ref: int, total: int, seq: int, payload: bytes) -> None:
    info8, rest8 = codec.split_udh(codec.udh_8bit(ref, total, seq) + payload)
    assert (info8, rest8) == (codec.Concat(ref & 0xFF, total, seq), payload)
    info16, rest16 = codec.split_udh(codec.udh_16bit(ref, total, seq) + payload)
    assert (info16, rest16) == (codec.Concat(ref, total, seq), payload)
    assert codec.sar_info(codec.read_tlvs(codec.sar_tlvs(ref, total, seq), 0)) == codec.Concat(
        ref, total, seq
    )


def test_udh_with_other_elements_before_the_concat_element() -> None:
    # port addressing (IEI 0x05, 4 octets) then 8-bit concat
    udh = bytes((0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x2A, 0x03, 0x02))
    info, rest = codec.split_udh(udh + b"data")
    assert info == codec.Concat(0x2A, 3, 2) and rest == b"data"


def test_message_payload_is_used_when_short_message_is_empty() -> None:
    m = codec.decode_sm(codec.encode_sm(codec.ShortMessage(tlvs={codec.TLV_MESSAGE_PAYLOAD: b"long"})))
    assert m.payload == b"long"


@pytest.mark.parametrize(
    ("esm_class", "is_receipt"),
    [(0x00, False), (0x04, True), (0x44, True), (0x08, False), (0x24, False), (0x40, False)],
)
def test_is_receipt_by_esm_class(esm_class: int, is_receipt: bool) -> None:
    assert codec.ShortMessage(esm_class=esm_class).is_receipt is is_receipt


def test_oversize_short_message_is_refused() -> None:
    with pytest.raises(codec.CodecError):
        codec.encode_sm(codec.ShortMessage(short_message=b"x" * 255))


@given(short_messages)
@settings(max_examples=100)
def test_data_sm_decodes_the_fields_of_its_layout(m: codec.ShortMessage) -> None:
    """A data_sm body written field by field from DATA_SM_LAYOUT reads back with those fields, TLVs after."""
    parts = []
    for name, size in codec.DATA_SM_LAYOUT:
        value = getattr(m, name)
        parts.append(codec.cstr(value, size) if size else bytes((value,)))
    body = b"".join(parts) + b"".join(codec.tlv(tag, v) for tag, v in m.tlvs.items())
    sm = codec.decode_data_sm(body)
    assert [getattr(sm, name) for name in codec.DATA_SM_FIELDS] == [
        getattr(m, n) for n in codec.DATA_SM_FIELDS
    ]
    assert (sm.short_message, sm.tlvs, sm.protocol_id, sm.validity_period) == (b"", m.tlvs, 0, "")


def test_decoders_follow_the_declared_layout() -> None:
    """The decoders are generated from the layouts: every field of each, in order, and nothing else."""
    source = codec.decoder_source("d", codec.SM_LAYOUT, sm_length=True, what="submit_sm")
    assert [
        line.split(" = ")[0].strip()[2:] for line in source.splitlines() if line.strip().startswith("v_")
    ] == [name for name, _ in codec.SM_LAYOUT]
    assert tuple(name for name, _ in codec.DATA_SM_LAYOUT) == codec.DATA_SM_FIELDS
