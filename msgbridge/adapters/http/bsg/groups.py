"""BSG Contact Book groups: one campaign to every contact of some groups (``/campaigns/sms/send-groups``).

BSG fills ``{field_id}`` placeholders from each contact; the answer is the
campaign, whose messages are read like any other (``transport.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from msgbridge.adapters.http.bsg.client import BsgClient, campaign_or_raise, invalid_config
from msgbridge.adapters.http.bsg.payload import MAX_VALIDITY_HOURS, SENDER, BsgConfig, request_of, start_at
from msgbridge.adapters.http.payload import Call

SEND_GROUPS = "POST /api/campaigns/sms/send-groups"


def groups_call(
    cfg: BsgConfig,
    groups: Sequence[int],
    sender: str,
    text: str,
    *,
    validity: int | None = None,
    when: datetime | None = None,
) -> Call:
    """The campaign to ``groups``: ``validity`` in hours, ``when`` the start (None or past: now)."""
    body: dict[str, Any] = {"groups": list(groups), "sender": sender, "text": text}
    if validity is not None:
        body["validity"] = validity
    if cfg.tariff_code is not None:
        body["tariff_code"] = cfg.tariff_code
    scheduled = start_at(when)
    if scheduled is not None:
        body["start_at"] = scheduled
    return Call(SEND_GROUPS, body)


def groups_request(cfg: BsgConfig, token: str, *args: Any, **kwargs: Any) -> httpx.Request:
    """The HTTP request of :func:`groups_call` (same arguments) with ``token``."""
    return request_of(cfg.base_url, token, groups_call(cfg, *args, **kwargs))


class BsgGroups(BsgClient):
    """send_groups on a bsg:// transport."""

    async def send_groups(
        self,
        groups: Sequence[int],
        text: str,
        *,
        sender: str | None = None,
        validity_hours: int | None = None,
        scheduled_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A campaign to Contact Book groups; ``{field_id}`` placeholders are filled by BSG."""
        name = sender or self.default_sender
        if not name or not SENDER.fullmatch(name):
            raise invalid_config("sender", f"3-11 letters/digits or 3-15 digits expected, got {name!r}")
        if not groups:
            raise invalid_config("groups", "at least one group id")
        if validity_hours is not None and not 1 <= validity_hours <= MAX_VALIDITY_HOURS:
            raise invalid_config("validity", f"{validity_hours} hours is outside 1..{MAX_VALIDITY_HOURS}")
        call = groups_call(self.cfg, groups, name, text, validity=validity_hours, when=scheduled_at)
        reply = await self.exchange(call, send=True)
        return campaign_or_raise(reply, "send-groups")
