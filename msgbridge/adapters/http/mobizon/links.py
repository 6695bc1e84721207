"""Mobizon short links (``link/create``): a short link to put in a text yourself.

``shorten_links=yes`` asks Mobizon to shorten every URL of every text instead.
"""

from __future__ import annotations

from msgbridge.adapters.http.mobizon.client import MobizonClient
from msgbridge.adapters.http.mobizon.payload import envelope_error
from msgbridge.adapters.http.replies import truncate
from msgbridge.core.errors import ErrorCode, ErrorInfo, MessagingError, TransportError


class MobizonLinks(MobizonClient):
    """create_short_link on a mobizon:// transport."""

    async def create_short_link(self, full_link: str) -> str:
        """link/create: a short link to put in a text yourself (``shorten_links`` does it for every URL)."""
        env, _ = await self.api("link", "create", {"data": {"fullLink": full_link}})
        if isinstance(env, ErrorInfo):
            raise TransportError(f"mobizon: link/create failed: {env}", env)
        err = envelope_error(env)
        if err is not None:
            raise MessagingError(f"mobizon: link/create refused: {err}", err)
        short = env.data.get("shortLink") if isinstance(env.data, dict) else None
        if not short:
            info = ErrorInfo(
                code=ErrorCode.PROTOCOL_ERROR, native_message=f"no shortLink in {truncate(str(env.data))}"
            )
            raise MessagingError("mobizon: link/create gave no link", info)
        return str(short)
