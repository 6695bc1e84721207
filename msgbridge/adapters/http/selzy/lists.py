"""Selzy's lists, contact fields and contact import: the steps a campaign is built from.

A campaign (``campaigns.py``) reaches the contacts of one list; these calls
find or make that list, the field that carries a personalised text, and put
the contacts in it (``importContacts``, at most 500 a call). Each step is
all-or-nothing: a failed one raises with the provider's words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import httpx

from msgbridge.adapters.http.replies import truncate
from msgbridge.adapters.http.selzy.client import SelzyClient
from msgbridge.adapters.http.selzy.payload import MAX_CONTACTS_PER_IMPORT, SelzyConfig, api_request, map_error
from msgbridge.core.errors import AuthError, ErrorCode, ErrorInfo, MessagingError, TransportError


def import_request(
    cfg: SelzyConfig, list_id: str, rows: Sequence[tuple[str, Mapping[str, str]]], fields: Sequence[str]
) -> httpx.Request:
    """importContacts: ``field_names[]`` and ``data[row][col]``; ``phone_list_ids`` puts each contact in the list."""
    if not 1 <= len(rows) <= MAX_CONTACTS_PER_IMPORT:
        raise ValueError(f"importContacts takes 1..{MAX_CONTACTS_PER_IMPORT} contacts, got {len(rows)}")
    names = ["phone", "phone_list_ids", *fields]
    args: list[tuple[str, str]] = [(f"field_names[{i}]", name) for i, name in enumerate(names)]
    for r, (phone, values) in enumerate(rows):
        row = [phone, list_id, *(values.get(f, "") for f in fields)]
        args.extend((f"data[{r}][{c}]", value) for c, value in enumerate(row))
    args.append(("overwrite_lists", "0"))
    return api_request(cfg, "importContacts", args)


class SelzyLists(SelzyClient):
    """getLists/createList, getFields/createField and importContacts on a selzy:// transport."""

    async def find_or_create_list(self, title: str) -> str:
        data, error = await self._api("getLists", {}, send=False)
        if error is not None:
            raise_for(error, "getLists")
        for item in result_list(data, "getLists"):
            if isinstance(item, dict) and item.get("title") == title:
                return str(item["id"])
        data, error = await self._api("createList", {"title": title}, send=False)
        if error is not None:
            raise_for(error, "createList")
        return str(result_field(data, "id", "createList"))

    async def ensure_field(self, name: str) -> None:
        """getFields, and createField (type text) when the account lacks it."""
        data, error = await self._api("getFields", {}, send=False)
        if error is not None:
            raise_for(error, "getFields")
        if any(isinstance(f, dict) and f.get("name") == name for f in result_list(data, "getFields")):
            return
        _, error = await self._api("createField", {"name": name, "type": "text"}, send=False)
        if error is not None:
            raise_for(error, "createField")

    async def import_contacts(
        self, list_id: str, rows: Sequence[tuple[str, Mapping[str, str]]], fields: Sequence[str]
    ) -> dict[int, ErrorInfo]:
        """Contacts in calls of <= 500; returns the rows Selzy refused, by index into ``rows``."""
        refused: dict[int, ErrorInfo] = {}
        for offset, part in _offset_chunks(rows, MAX_CONTACTS_PER_IMPORT):
            reply = await self.call_with_retry(
                lambda part=part: import_request(self.cfg, list_id, part, fields),  # type: ignore[misc]
                send=False,
                provider_error=self._provider_error,
                refusals_undone=True,
            )
            if reply.error is not None:
                raise_for(reply.error, "importContacts")
            log_entries = result_dict(reply.data, "importContacts").get("log")
            for entry in log_entries if isinstance(log_entries, list) else ():
                if isinstance(entry, dict) and "index" in entry:
                    code = str(entry.get("code", "invalid_arg"))
                    text = str(entry.get("message", ""))
                    refused[offset + int(entry["index"])] = ErrorInfo(
                        code=ErrorCode.INVALID_DESTINATION
                        if code in ("invalid_arg", "dest_invalid")
                        else map_error(code, text),
                        native_code=code,
                        native_message=truncate(text),
                    )
        return refused


def _offset_chunks(items: Sequence[Any], size: int) -> list[tuple[int, Sequence[Any]]]:
    return [(start, items[start : start + size]) for start in range(0, len(items), size)]


def result_dict(data: Any, method: str) -> dict[str, Any]:
    """``result`` of a successful call that must be an object; anything else is a protocol error."""
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise_for(
            ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"result: {result!r}")), method
        )
    return result


def result_list(data: Any, method: str) -> list[Any]:
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list):
        raise_for(
            ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=truncate(f"result: {result!r}")), method
        )
    return result


def result_field(data: Any, name: str, method: str) -> Any:
    value = result_dict(data, method).get(name)
    if value is None or value == "":
        raise_for(ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=f"result has no {name}"), method)
    return value


def raise_for(error: ErrorInfo, method: str) -> NoReturn:
    """Campaign steps are all-or-nothing: a failed step stops the flow with the provider's words."""
    message = f"selzy {method}: {error}"
    if error.code is ErrorCode.AUTH_FAILED:
        raise AuthError(message, error)
    if error.code in (
        ErrorCode.NETWORK_ERROR,
        ErrorCode.TIMEOUT,
        ErrorCode.TEMPORARY_FAILURE,
        ErrorCode.THROTTLED,
    ):
        raise TransportError(message, error)
    raise MessagingError(message, error)
