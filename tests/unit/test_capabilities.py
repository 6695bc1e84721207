"""Capability protocols: a transport can do what it has the method for, and ``isinstance`` says so.

Built-in transports declare their abilities by class; ``memory://`` by its URL
options, through the subclass its constructor picks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from msgbridge.adapters.base import (
    FEATURES,
    InboundMessages,
    ProviderCampaigns,
    ReceiptPush,
    ReferenceLookup,
    StatusPolling,
    features,
    open_transport,
    registry,
)
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.core.message import DeliveryReceipt, Message, SendResult
from msgbridge.core.url import TransportURL

ALL = (ReceiptPush, StatusPolling, ReferenceLookup, InboundMessages, ProviderCampaigns)

# What each built-in transport can do, written down here rather than read from the classes under test.
BUILT_IN: dict[str, set[type]] = {
    "memory": {ReceiptPush},
    "smpp": {ReceiptPush, InboundMessages},
    "smtp": set(),
    "bsg": {StatusPolling, ReferenceLookup, ProviderCampaigns},
    "mobizon": {StatusPolling, ProviderCampaigns},
    "selzy": {StatusPolling, ProviderCampaigns},
    "smsc": {StatusPolling},
}


@pytest.mark.parametrize("scheme", sorted(BUILT_IN))
def test_built_in_transports_have_the_protocols_they_implement(scheme: str) -> None:
    cls = registry.get(scheme)
    assert {p for p in ALL if issubclass(cls, p)} == BUILT_IN[scheme]
    assert features(cls) == {f.key: f.protocol in BUILT_IN[scheme] for f in FEATURES}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("", {ReceiptPush}),
        ("dlr=no", set()),
        ("dlr=no&poll=yes", {StatusPolling}),
        ("poll=yes", {StatusPolling}),
        ("journal={journal}", {ReceiptPush, ReferenceLookup}),
        ("poll=yes&journal={journal}", {StatusPolling, ReferenceLookup}),
    ],
)
async def test_memory_can_do_what_its_url_asks(tmp_path: Path, options: str, expected: set[type]) -> None:
    t = open_transport("memory://?" + options.format(journal=tmp_path / "j.log"))
    assert isinstance(t, MemoryTransport) and type(t).__name__ == "MemoryTransport"
    assert {p for p in ALL if isinstance(t, p)} == expected
    assert features(t) == {f.key: f.protocol in expected for f in FEATURES}
    if StatusPolling in expected:
        assert isinstance(t, StatusPolling)
        [sent] = await t.send([Message(to="+77011234567", text="x")])
        assert sent.native_id is not None
        assert [r.native_id for r in await t.status([sent.native_id])] == [sent.native_id]
    await t.aclose()


class Counting(MemoryTransport):
    """A subclass overriding the pushed stream, as a test of a broken link does."""

    async def receipts(self) -> AsyncIterator[DeliveryReceipt]:
        async for r in super().receipts():
            yield r


def test_a_subclass_keeps_its_class_and_its_overrides(tmp_path: Path) -> None:
    url = TransportURL.parse(f"memory://?journal={tmp_path / 'j.log'}")
    t = Counting(url)
    assert isinstance(t, Counting) and isinstance(t, ReferenceLookup) and isinstance(t, ReceiptPush)
    assert type(t).receipts is Counting.receipts
    assert type(Counting(url)) is type(t)  # made once per combination
    assert type(type(t)(url)) is type(t)  # not made again from what was made


async def test_a_transport_declares_a_capability_by_having_the_method() -> None:
    class Lookups(MemoryTransport):
        async def lookup(self, references: Sequence[str]) -> dict[str, SendResult]:
            return {}

    assert issubclass(Lookups, ReferenceLookup) and not issubclass(MemoryTransport, ReferenceLookup)
