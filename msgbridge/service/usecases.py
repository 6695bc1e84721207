"""The one-off use cases a command runs from start to end (``msgbridge send``), kept out of the CLI.

A command only turns its options into a call here and prints what comes back; the rules (how a message
is keyed, that it is written before it is sent, what a failure to reach the peer makes of it) are here,
once, for the CLI and any other caller. The long-running counterpart is :class:`~msgbridge.service.runtime.Runtime`;
a campaign from a file is :func:`msgbridge.dispatch.run.run_campaign`.
"""

from __future__ import annotations

from dataclasses import dataclass

from msgbridge.adapters.base import Transport
from msgbridge.core.encoding import info
from msgbridge.core.errors import MessagingError
from msgbridge.core.message import Message
from msgbridge.core.phone import normalize
from msgbridge.core.sendable import check_text
from msgbridge.dispatch.campaign import PriceHook
from msgbridge.dispatch.dispatcher import Dispatcher
from msgbridge.dispatch.run import bad_input
from msgbridge.store import open_store
from msgbridge.store.base import MessageRecord, OutboxEntry


@dataclass(frozen=True)
class SendRequest:
    """One message to send now, through a transport opened for this call only."""

    to: str
    text: str
    sender: str | None = None
    region: str | None = None
    reference: str | None = None  # the same reference is never sent twice (``ref:<reference>`` key)
    wait: float = 0.0  # seconds to wait for a delivery receipt


@dataclass(frozen=True)
class SendOutcome:
    record: MessageRecord  # what the store holds once done
    error: MessagingError | None  # the peer could not be used (the record says what that made of it)


def check_send(request: SendRequest) -> Message:
    """The message for ``request``, or the ConfigError that says why it cannot be sent (nothing is written)."""
    check_text(request.text, empty="the text is empty: there is nothing to send")
    return Message(
        to=normalize(request.to, request.region),
        text=request.text,
        sender=request.sender,
        reference=request.reference,
    )


async def send_one(
    store_dsn: str, transport: Transport, request: SendRequest, *, price: PriceHook | None = None
) -> SendOutcome:
    """Queue one message (keyed by its reference, else its id), send it, wait ``request.wait`` for a receipt.

    ``price`` gives the expected price recorded with it (the campaign path's hook: message, segments).

    A peer that cannot be used fails the message (so no later process sends what the user was told
    failed), unless a reference names it for a retry and the error is retryable; that error is returned.
    Bad input (a transport that refuses its arguments) is raised.
    """
    message = check_send(request)
    reference = request.reference
    key = f"ref:{reference}" if reference else f"send:{message.id}"
    error: MessagingError | None = None
    async with open_store(store_dsn) as store:
        expected = price(message, info(message.text).segments) if price is not None else None
        [mid] = await store.enqueue([OutboxEntry(message=message, idempotency_key=key, price=expected)])
        dispatcher = Dispatcher(store, transport)
        try:
            async with transport:
                try:
                    await dispatcher.run(None, wait_receipts=request.wait, message_ids=[mid])
                finally:
                    await dispatcher.close_transport()
        except MessagingError as exc:
            await dispatcher.fail_unsent([mid], exc.info, keep=reference is not None and exc.code.retryable)
            if bad_input(exc):
                raise
            error = exc
        rec = await store.get(mid)
        assert rec is not None
        return SendOutcome(rec, error)
