"""Which account an MO goes to (every precedence row of mo.py's rule), its deliver_sm body, and the store
writing each MO's event to the target the router names."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.adapters.smpp.mo import decode_payload
from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.message import InboundMessage
from msgbridge.service.smppfront import accounts as accounts_module
from msgbridge.service.smppfront.accounts import Account, AccountBook, create_account
from msgbridge.service.smppfront.mo import MoRouter, front_target, mo_body, resolve, route_table
from msgbridge.smpp import codec
from msgbridge.store.sqlite import SqliteStore


def account(system_id: str, *mo: str) -> Account:
    return Account(system_id=system_id, scrypt="0" * 64, salt="0" * 32, mo=mo)


def route(destination: str, accounts: list[Account], routes: dict[str, str] | None = None) -> str | None:
    return resolve(route_table(accounts, routes or {}), destination)


# (destination, accounts' own prefixes, [smpp_front.routes], expected account)
ROWS = [
    # 1. the longest prefix wins, wherever it was written
    ("77011234", {"a": ("7701",), "b": ("77012",)}, {}, "a"),
    ("77012345", {"a": ("7701",), "b": ("77012",)}, {}, "b"),
    ("77012345", {"a": ("77012",), "b": ()}, {"7701": "b"}, "a"),  # an account's longer prefix beats a route
    (
        "77012345",
        {"a": ("7701",), "b": ()},
        {"77012": "b"},
        "b",
    ),  # a route's longer prefix beats an account's
    # 2. the same prefix in a route and in an account: the route
    ("77011234", {"a": ("7701",), "b": ()}, {"7701": "b"}, "b"),
    # 3. the same prefix in two accounts: the system_id first in sort order, whatever the file's order
    ("77011234", {"zeta": ("7701",), "alpha": ("7701",)}, {}, "alpha"),
    ("77011234", {"alpha": ("7701",), "zeta": ("7701",)}, {}, "alpha"),
    # 4. a route to an account the file does not hold is no route: a shorter prefix, or nothing
    ("77011234", {"a": ("77",)}, {"7701": "gone"}, "a"),
    ("77011234", {"a": ()}, {"7701": "gone"}, None),
    # 5. no prefix matches: no account
    ("88001234", {"a": ("7701",)}, {"7702": "a"}, None),
    ("7701", {"a": ("77011",)}, {}, None),  # a prefix longer than the destination
    ("Shop", {"a": ("7701",)}, {}, None),  # an alphanumeric destination
    # the destination's "+" (E.164) is not part of what prefixes match; a route's "+" neither
    ("+77011234", {"a": ("7701",)}, {}, "a"),
    ("77011234", {"a": ()}, {"+7701": "a"}, "a"),
]


@pytest.mark.parametrize(("destination", "own", "routes", "expected"), ROWS)
def test_precedence(
    destination: str, own: dict[str, tuple[str, ...]], routes: dict[str, str], expected: str | None
) -> None:
    assert route(destination, [account(s, *p) for s, p in own.items()], routes) == expected


def test_the_router_names_the_front_target_of_the_account_and_none_for_an_unrouted_mo() -> None:
    router = MoRouter(AccountBook(accounts=[account("acme", "7701")]), {"7000": "acme"})
    to_acme = InboundMessage(source="+77019998877", destination="7000", text="hi")
    assert router.target(to_acme) == CallbackTarget(url="smpp://acme", format="smpp")
    assert router.target(InboundMessage(source="+77019998877", destination="7999", text="hi")) is None


def test_the_table_follows_the_account_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts_module, "RELOAD_SECONDS", 0.0)
    path = tmp_path / "users.toml"
    create_account(path, "acme", password="secret", mo=["7701"])
    router = MoRouter(AccountBook(path))
    assert router.system_id("77011234") == "acme"
    create_account(path, "billing", password="secret", mo=["77011"])
    assert router.system_id("77011234") == "billing"
    assert router.system_id("77019999") == "acme"


def sm_of(message: InboundMessage) -> codec.ShortMessage:
    return codec.decode_sm(mo_body(message))


def test_a_gsm_mo_is_a_plain_deliver_sm_in_the_default_alphabet() -> None:
    sm = sm_of(InboundMessage(source="+77019998877", destination="7000", text="Price: 5€ @ shop"))
    assert (sm.esm_class, sm.data_coding, sm.registered_delivery) == (0, codec.DC_DEFAULT, 0)
    assert (sm.source_addr_ton, sm.source_addr_npi, sm.source_addr) == (1, 1, "77019998877")
    assert (sm.dest_addr_ton, sm.dest_addr_npi, sm.destination_addr) == (3, 0, "7000")
    assert codec.TLV_MESSAGE_PAYLOAD not in sm.tlvs
    assert decode_payload(sm.short_message, sm.data_coding) == "Price: 5€ @ shop"


def test_a_cyrillic_mo_is_ucs2() -> None:
    sm = sm_of(InboundMessage(source="+77019998877", destination="+77001234567", text="Привет, мир"))
    assert sm.data_coding == codec.DC_UCS2 and sm.short_message == "Привет, мир".encode("utf-16-be")
    assert (sm.dest_addr_ton, sm.destination_addr) == (1, "77001234567")


@pytest.mark.parametrize(
    ("text", "fits"), [("a" * 160, True), ("a" * 161, False), ("я" * 70, True), ("я" * 71, False)]
)
def test_a_text_longer_than_one_segment_goes_whole_in_message_payload(text: str, fits: bool) -> None:
    sm = sm_of(InboundMessage(source="Bank", destination="7000", text=text))
    assert (sm.source_addr_ton, sm.source_addr) == (5, "Bank")
    assert (codec.TLV_MESSAGE_PAYLOAD not in sm.tlvs) is fits
    assert bool(sm.short_message) is fits
    assert decode_payload(sm.payload, sm.data_coding) == text


def test_an_address_smpp_cannot_carry_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        mo_body(InboundMessage(source="1" * 30, destination="7000", text="x"))


async def test_the_store_writes_each_mo_event_to_the_target_its_router_names(tmp_path: Path) -> None:
    fallback = CallbackTarget("https://93.184.216.34/mo")
    router = MoRouter(AccountBook(accounts=[account("acme", "7701")]))
    async with SqliteStore(tmp_path / "mo.db") as store:
        store.inbound_target = fallback
        router.install(store)
        routed = InboundMessage(source="+77019998877", destination="77015550000", text="to acme")
        other = InboundMessage(source="+77019998877", destination="7000", text="to the url")
        await store.add_inbound([routed, other])
        events = {e.message_id: e for e in await store.events_page(None, 10)}
        assert events[routed.id].target == front_target("acme")
        assert events[other.id].target == fallback
        assert {e.state for e in events.values()} == {"pending"}
        smpp = await store.claim_events(10, now=1e12, lease=60, formats=("smpp",), urls=["smpp://acme"])
        assert [e.message_id for e in smpp] == [routed.id]
        assert smpp[0].inbound is not None and smpp[0].inbound.text == "to acme"
        store.inbound_target = None  # no inbound_url: an unrouted MO gets no event (record = "callbacks")
        await store.add_inbound([InboundMessage(source="+1", destination="7000", text="nowhere")])
        assert len(await store.events_page(None, 10)) == 2
