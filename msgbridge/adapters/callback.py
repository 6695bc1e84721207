"""``CallbackTransport(handler)``: a transport whose every answer a function gives, for dispatcher tests.

The shape of httpx's ``MockTransport(handler)``: the test says in code what
each message gets back (a result, or an exception that fails the whole
``send()`` call) and sees each call's batch; there is no URL, no receipts and
no timing. ``memory://`` stays the demo and the fault simulator driven by URL
options; this is for a test that wants one exact answer per message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from msgbridge.adapters.base import Capabilities, Transport
from msgbridge.core.message import Message, SendResult
from msgbridge.core.url import TransportURL

# One message -> its result (or an awaitable of it); raising fails the whole send() call.
Handler = Callable[[Message], SendResult | Awaitable[SendResult]]


class CallbackTransport(Transport):
    scheme = "callback"
    summary = "in code only: each message's result comes from a function"

    def __init__(self, handler: Handler, *, max_batch: int = 100, name: str = "test") -> None:
        super().__init__(TransportURL.parse(f"callback://{name}"))
        self.handler = handler
        self.capabilities = Capabilities(max_batch=max_batch)  # type: ignore[misc]
        self.batches: list[list[Message]] = []  # every send() call's messages, in order
        self.closed = False

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        self.batches.append(list(messages))
        results: list[SendResult] = []
        for message in messages:
            answer = self.handler(message)
            results.append(answer if isinstance(answer, SendResult) else await answer)
        return results

    async def aclose(self) -> None:
        self.closed = True
