"""MO (inbound) messages to the front's accounts: which account an MO goes to, and its deliver_sm.

Routing. An MO whose destination starts with a prefix of an account goes to that account: the store calls
:meth:`MoRouter.target` from ``add_inbound`` (``Store.inbound_router``) and writes the ``message.inbound``
event with the target ``smpp://<system_id>`` (format ``smpp``) in the transaction that stores the MO, so an
MO is never stored without its delivery, nor delivered twice over two mechanisms. The
:class:`~msgbridge.service.smppfront.receipts.ReceiptPump` then claims it with the account's receipts and
sends it as a deliver_sm (esm_class 0) to a receiver or transceiver of the account, holding it in the store
while none is bound. The prefixes are ``[smpp_front.routes]`` and each account's own (``smpp-user create
--mo``); the rule, in this order (tests/unit/smppfront/test_mo_routes.py holds every row):

1. The longest prefix the destination (without its ``+``) starts with wins, wherever it was written.
2. The same prefix in ``[smpp_front.routes]`` and in an account's ``mo``: the route wins (the operator's
   file overrides what an account was created with).
3. The same prefix in two accounts' ``mo``: the system_id first in sort order (deterministic, whatever the
   file's order).
4. A prefix naming an account the account file does not hold is no route (an account removed stops
   receiving; its MO is not held for a bind that cannot come): shorter prefixes are tried.
5. No prefix: the MO goes where any MO goes, ``[events] inbound_url`` if configured.

Encoding. The text is encoded as the front's upstream encoder chooses (``coding=auto``): GSM 03.38 default
alphabet, data_coding 0, unpacked, when every character is in it, else UCS-2, data_coding 8. A text longer
than one segment (160 septets, 70 UCS-2 units) goes whole in the message_payload TLV with sm_length 0, as
the ESME would otherwise have to reassemble parts the store never split.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping

from msgbridge.adapters.smpp.operations import DATA_CODING
from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.encoding import LIMITS, Encoding, choose_encoding, encode
from msgbridge.core.message import InboundMessage
from msgbridge.service.smppfront.accounts import Account, AccountBook
from msgbridge.service.validation import FRONT_FORMAT
from msgbridge.smpp import codec
from msgbridge.smpp.addressing import address
from msgbridge.store.base import Store


@functools.lru_cache(maxsize=4096)
def front_target(system_id: str, mask: int | None = None) -> CallbackTarget:
    """The target of what goes back over ``system_id``'s binds: receipts (with their mask) and MO (none).
    One object per (account, mask), as every message of a bind names one of a few (targets are frozen)."""
    return CallbackTarget(url=f"smpp://{system_id}", format=FRONT_FORMAT, mask=mask)


def route_table(accounts: Collection[Account], routes: Mapping[str, str]) -> dict[str, str]:
    """prefix -> system_id, by rules 2-4 of the module docstring (rule 1 is :func:`resolve`'s)."""
    known = {a.system_id for a in accounts}
    table: dict[str, str] = {}
    for account in sorted(accounts, key=lambda a: a.system_id, reverse=True):
        for prefix in account.mo:
            table[prefix] = account.system_id  # reverse order: the first system_id is written last
    for prefix, system_id in routes.items():
        if system_id in known:
            table[prefix.removeprefix("+")] = system_id
    return table


def resolve(table: Mapping[str, str], destination: str) -> str | None:
    """The account of the longest prefix of ``destination`` in ``table``; None when none matches."""
    digits = destination.strip().removeprefix("+")
    for end in range(len(digits), 0, -1):
        found = table.get(digits[:end])
        if found is not None:
            return found
    return None


class MoRouter:
    """The store's ``inbound_router`` for a front: the prefix table, rebuilt only when the accounts change."""

    def __init__(self, accounts: AccountBook, routes: Mapping[str, str] | None = None) -> None:
        self.accounts = accounts
        self.routes = dict(routes or {})
        self._generation = -1
        self._table: dict[str, str] = {}

    def table(self) -> dict[str, str]:
        accounts = self.accounts.accounts  # re-reads the file when it changed (at most once a second)
        if self.accounts.generation != self._generation:
            self._table = route_table(accounts, self.routes)
            self._generation = self.accounts.generation
        return self._table

    def system_id(self, destination: str) -> str | None:
        return resolve(self.table(), destination)

    def target(self, message: InboundMessage) -> CallbackTarget | None:
        system_id = self.system_id(message.destination)
        return front_target(system_id) if system_id is not None else None

    def install(self, store: Store) -> None:
        """Route the MO ``store`` takes in from now on (other MO keep ``store.inbound_target``)."""
        store.inbound_router = self.target


def mo_body(message: InboundMessage) -> bytes:
    """The deliver_sm body of ``message``: its sender as source_addr, its destination as destination_addr.

    Raises ValueError (a CodecError is one) when an address cannot be a C-Octet String of SMPP's sizes."""
    enc = choose_encoding(message.text)
    data = encode(message.text, enc)
    units = len(data) // 2 if enc is Encoding.UCS2 else len(data)
    src_ton, src_npi, src = address(message.source)
    dst_ton, dst_npi, dst = address(message.destination)
    long = units > LIMITS[enc].single
    sm = codec.ShortMessage(
        source_addr=src, source_addr_ton=src_ton, source_addr_npi=src_npi,
        destination_addr=dst, dest_addr_ton=dst_ton, dest_addr_npi=dst_npi,
        esm_class=0, data_coding=DATA_CODING[enc],
        short_message=b"" if long else data, tlvs={codec.TLV_MESSAGE_PAYLOAD: data} if long else {},
    )  # fmt: skip
    return codec.encode_sm(sm)
