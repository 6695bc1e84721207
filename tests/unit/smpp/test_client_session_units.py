"""Small pieces of the ESME: the receipt mailbox, sequence wrap-around, data_sm decoding."""

from __future__ import annotations

import asyncio

import pytest

from msgbridge.adapters.smpp.session import _MAX_SEQ, _seq_before
from msgbridge.adapters.smpp.transport import Mailbox
from msgbridge.smpp import codec
from msgbridge.smpp.codec import decode_data_sm


async def test_mailbox_delivers_in_order_and_ends_on_close() -> None:
    box: Mailbox[int] = Mailbox(maxsize=5)
    got: list[int] = []

    async def read() -> None:
        async for item in box:
            got.append(item)

    reader = asyncio.create_task(read())
    assert box.put_many([1, 2, 3])
    await asyncio.sleep(0)
    assert box.put_many([4])
    box.close()
    await asyncio.wait_for(reader, 10)
    assert got == [1, 2, 3, 4]
    assert not box.put_many([5])  # closed


def test_mailbox_refuses_what_does_not_fit() -> None:
    box: Mailbox[int] = Mailbox(maxsize=3)
    assert box.put_many([1, 2])
    assert not box.put_many([3, 4])
    assert len(box) == 2 and not box.full
    assert box.put_many([3])
    assert box.full


@pytest.mark.parametrize(
    ("seq", "last", "current", "before"),
    [
        (5, 10, 12, True),
        (11, 10, 12, False),
        (_MAX_SEQ - 1, 2, 5, True),  # written before the wrap, last after it
        (3, _MAX_SEQ - 1, 5, False),  # written after the wrap, last before it
    ],
)
def test_sequence_order_survives_wrap_around(seq: int, last: int, current: int, before: bool) -> None:
    assert _seq_before(seq, last, current) is before


def test_decode_data_sm() -> None:
    payload = "Привет".encode("utf-16-be")
    body = (
        b"\x00" + bytes((1, 1)) + b"77011234567\x00" + bytes((0, 0)) + b"1234\x00" + bytes((0, 0, 8))
        + codec.tlv(codec.TLV_MESSAGE_PAYLOAD, payload)
    )  # fmt: skip
    sm = decode_data_sm(body)
    assert (sm.source_addr, sm.source_addr_ton, sm.destination_addr, sm.data_coding) == (
        "77011234567",
        1,
        "1234",
        8,
    )
    assert sm.payload == payload
    with pytest.raises(codec.CodecError):
        decode_data_sm(b"\x00\x01")
