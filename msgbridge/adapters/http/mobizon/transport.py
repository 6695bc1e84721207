"""The mobizon:// transport: one ``sendSmsMessage`` per message through the shared send loop.

Status polls go 100 ids a call through the shared status loop; provider
campaigns come from ``campaigns.py``, short links from ``links.py``, webhook
helpers from ``webhooks.py``.
"""

from __future__ import annotations

from msgbridge.adapters.base import Capabilities
from msgbridge.adapters.http.mobizon.campaigns import MobizonCampaigns
from msgbridge.adapters.http.mobizon.links import MobizonLinks
from msgbridge.adapters.http.mobizon.payload import envelope_error
from msgbridge.adapters.http.mobizon.tables import MAX_STATUS_IDS
from msgbridge.core.errors import ErrorInfo, MessagingError, TransportError


class MobizonTransport(MobizonCampaigns, MobizonLinks):
    """``mobizon://API_KEY@api.mobizon.kz``."""

    summary = "Mobizon HTTP API (sendSmsMessage, getSMSStatus, campaigns)"
    capabilities = Capabilities(max_batch=1, status_poll=MAX_STATUS_IDS)

    async def balance(self) -> str:
        env, _ = await self.api("user", "getOwnBalance")
        if isinstance(env, ErrorInfo):
            raise TransportError(f"mobizon: balance request failed: {env}", env)
        err = envelope_error(env)
        if err is not None:
            raise MessagingError(f"mobizon: balance refused: {err}", err)
        data = env.data if isinstance(env.data, dict) else {}
        return f"{data.get('balance', '')} {data.get('currency', '')}".strip()
