"""The smsc:// transport: one text to many phones per send.php call through the shared send loop.

One request may carry many phones with one text (``phones=a,b,c``); the
reply names one message id for all of them. A message is therefore known by
the pair (id, phone), and our native id is ``"<id>:<phone digits>"``. Status
polls go ``status_batch`` pairs a call through the shared status loop.
"""

from __future__ import annotations

from msgbridge.adapters.base import Capabilities
from msgbridge.adapters.http.payload import Call
from msgbridge.adapters.http.smsc.contacts import SmscContacts
from msgbridge.adapters.http.smsc.payload import parse_balance
from msgbridge.adapters.http.smsc.replies import read_reply
from msgbridge.core.errors import AuthError, ErrorCode, ErrorInfo, MessagingError, TransportError


class SmscTransport(SmscContacts):
    """``smsc://LOGIN:PASSWORD@smsc.ru`` or ``smsc://APIKEY@smsc.ru``.

    Identical texts are sent to many phones in one request; contacts and
    groups come from ``contacts.py``.
    """

    summary = "SMSC.ru HTTP API (send.php, status.php, balance.php, phones.php)"
    capabilities = Capabilities(max_batch=100, status_poll=100)

    async def balance(self) -> str:
        """The account balance as the provider prints it; raises when it cannot be read."""
        reply = await self.exchange(Call("balance", {"fmt": "3"}), send=False)
        parsed = read_reply(reply, "balance")
        if parsed is None:
            assert reply.error is not None
            raise TransportError("smsc: balance request failed", reply.error)
        value = parse_balance(parsed)
        if isinstance(value, ErrorInfo):
            cls = AuthError if value.code is ErrorCode.AUTH_FAILED else MessagingError
            raise cls(f"smsc: balance refused: {value}", value)
        return value
