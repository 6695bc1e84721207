"""SMSC.ru contacts and groups (``phones.php``): errors are data, ``ContactResult.error``.

The contacts API has its own error table (``CONTACT_ERRORS`` in ``tables.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from msgbridge.adapters.http.payload import Call
from msgbridge.adapters.http.smsc.client import SmscClient
from msgbridge.adapters.http.smsc.payload import SmscConfig, _post
from msgbridge.adapters.http.smsc.replies import SmscReply, _opt_str, error_info, read_reply
from msgbridge.adapters.http.smsc.tables import CONTACT_ERRORS
from msgbridge.core.errors import ErrorInfo
from msgbridge.core.phone import digits


def contacts_params(action: str, params: Mapping[str, str]) -> dict[str, str]:
    """``phones.php`` with one action flag: add, del, get, add_group, del_group, get_group, chg."""
    return {action: "1", "fmt": "3", "charset": "utf-8", **params}


def contacts_request(
    cfg: SmscConfig, action: str, params: Mapping[str, str], base_url: str | None = None
) -> httpx.Request:
    return _post(cfg, "phones", contacts_params(action, params), base_url)


@dataclass(frozen=True)
class ContactResult:
    """The outcome of a contacts/groups call: an id, OK, a list, or an error as data."""

    id: str | None = None
    ok: bool = False
    items: tuple[dict[str, object], ...] = ()
    error: ErrorInfo | None = None
    raw: dict[str, object] = field(default_factory=dict)


def parse_contacts(reply: SmscReply) -> ContactResult:
    err = error_info(reply, CONTACT_ERRORS)
    if err is not None:
        return ContactResult(error=err)
    if len(reply.rows) == 1 and set(reply.rows[0]) <= {"id"}:
        return ContactResult(id=_opt_str(reply.rows[0].get("id")), ok=True)
    if len(reply.rows) == 1 and reply.rows[0].get("result") == "OK":
        return ContactResult(ok=True)
    return ContactResult(ok=True, items=tuple(dict(r) for r in reply.rows))


class SmscContacts(SmscClient):
    """add/list/delete contacts and groups on an smsc:// transport."""

    async def _contacts(self, action: str, params: Mapping[str, str]) -> ContactResult:
        reply = await self.exchange(Call("phones", contacts_params(action, params)), send=False)
        parsed = read_reply(reply, "contacts")
        if parsed is None:
            assert reply.error is not None
            return ContactResult(error=reply.error)
        return parse_contacts(parsed)

    async def add_contact(self, phone: str, *, name: str = "", group: str | None = None) -> ContactResult:
        params = {"phone": digits(phone), "name": name}
        if group is not None:
            params["grp"] = group
        return await self._contacts("add", params)

    async def list_contacts(self, group: str | None = None) -> ContactResult:
        return await self._contacts("get", {"grp": group} if group is not None else {})

    async def delete_contact(self, phone: str) -> ContactResult:
        return await self._contacts("del", {"phone": digits(phone)})

    async def add_group(self, name: str, number: int | None = None) -> ContactResult:
        params = {"name": name}
        if number is not None:
            params["num"] = str(number)
        return await self._contacts("add_group", params)

    async def list_groups(self) -> ContactResult:
        return await self._contacts("get_group", {})

    async def delete_group(self, group_id: str) -> ContactResult:
        return await self._contacts("del_group", {"id": group_id})
