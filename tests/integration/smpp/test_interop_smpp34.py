"""The smpp34 package's client (an independent, Rust-backed SMPP implementation) against our simulator."""

from __future__ import annotations

import asyncio
import time

import pytest
import smpp34

from msgbridge.simulators.smsc import SmscSimulator


async def test_smpp34_client_submits_and_receives_receipts(smsc: SmscSimulator) -> None:
    client = smpp34.Client("127.0.0.1", smsc.port, "u", "p", bind_type="TRX", window_size=10)
    session = await asyncio.wait_for(client.connect(), 10)
    try:
        resps = await asyncio.gather(
            *(
                session.submit_sm(
                    f"7701000{i:04d}",
                    f"hello {i}".encode(),
                    source_addr="Test",
                    source_addr_ton=5,
                    registered_delivery=1,
                )
                for i in range(20)
            )
        )
        assert all(r.is_success and r.command_status == 0 for r in resps)
        ids = [r.message_id for r in resps]
        assert sorted(ids) == sorted(s.message_id for s in smsc.submitted)
        receipts: dict[str, int] = {}
        while len(receipts) < 20:
            event = await asyncio.wait_for(session.next(), 10)
            assert isinstance(event, smpp34.DeliverSmEvent), event
            assert event.esm_class & 0x3C == 0x04
            tlvs = {t.tag: t for t in event.tlvs}
            receipts[tlvs[smpp34.TLV_RECEIPTED_MESSAGE_ID].value.rstrip(b"\x00").decode()] = (
                tlvs[smpp34.TLV_MESSAGE_STATE].as_int() or 0
            )
        assert sorted(receipts) == sorted(ids)
        assert set(receipts.values()) == {2}
    finally:
        await session.unbind()
    await eventually_deliver_acks(smsc, 20)


async def eventually_deliver_acks(smsc: SmscSimulator, n: int) -> None:
    """Poll with a deadline: smpp34 acknowledges receipts from its own task."""
    deadline = time.monotonic() + 20
    while smsc.stats.deliver_sm_resp < n:
        assert time.monotonic() < deadline, f"{smsc.stats.deliver_sm_resp} of {n} receipts acknowledged"
        await asyncio.sleep(0.01)


async def test_smpp34_binds_as_transmitter(smsc: SmscSimulator) -> None:
    client = smpp34.Client("127.0.0.1", smsc.port, "u", "p", bind_type="TX")
    session = await asyncio.wait_for(client.connect(), 10)
    resp = await session.submit_sm("77011234567", b"tx only", source_addr="Test", source_addr_ton=5)
    assert resp.is_success
    await session.unbind()
    assert smsc.stats.binds == 1
    assert [s.short_message for s in smsc.submitted] == [b"tx only"]


async def test_smpp34_wrong_password_is_refused(smsc: SmscSimulator) -> None:
    # smpp34 1.x does not surface a bind_resp error: it waits for its connect timeout
    client = smpp34.Client("127.0.0.1", smsc.port, "u", "bad", bind_type="TX", connect_timeout_ms=500)
    with pytest.raises(smpp34.SmppError):
        await asyncio.wait_for(client.connect(), 10)
    await client.stop()
    assert (smsc.stats.binds, smsc.stats.bind_failures) == (0, 1)
