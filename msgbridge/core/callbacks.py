"""Where a message's status events are sent (:class:`CallbackTarget`), and which URLs may be called at all.

A target is kept with its message in the store (one row of ``words`` per distinct target, named by id from
the message's row), so what it says is fixed when the message is accepted: a key or config changed later
does not redirect events of messages already queued.

URL checks (:func:`callback_problem`) refuse what would let a caller make the gateway call into its own
network (SSRF): only http(s), a host, no credentials in the URL, and no private, loopback, link-local,
multicast or unspecified address unless the operator allows private callbacks. A name is resolved and
every address it gives is checked; the delivery worker checks the addresses again when it connects
(:func:`address_problem`), as a name may resolve elsewhere by then (DNS rebinding).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_URL = 2000
FORMATS = ("json", "kannel", "jasmin")
METHODS = ("GET", "POST")

_DEFAULTS: dict[str, Any] = {"format": "json", "mask": None, "method": "POST", "key": None}


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """Where a message's status events go, and in which shape."""

    url: str  # http(s) URL; for "kannel"/"jasmin" a template with their placeholders
    format: str = "json"  # "json": msgbridge's signed event (webhooks); "kannel": dlr-url; "jasmin": dlr-url
    mask: int | None = None  # kannel dlr-mask bits / jasmin dlr-level; None: every event
    method: str = "POST"  # "GET" or "POST"
    key: str | None = (
        None  # the API key name whose webhook secret signs it (None: the [webhooks] default secret)
    )

    def dumps(self) -> str:
        """Compact canonical JSON (sorted keys, defaults left out): one text per distinct target, so the
        store keeps each once however many messages name it."""
        return _dumps(self)

    @classmethod
    def loads(cls, text: str) -> CallbackTarget:
        return _loads(text)


@functools.lru_cache(maxsize=1024)
def _dumps(target: CallbackTarget) -> str:
    """Targets repeat across many messages (each is written as its text when accepted): each made once."""
    out: dict[str, Any] = {"url": target.url}
    for name, default in _DEFAULTS.items():
        value = getattr(target, name)
        if value != default:
            out[name] = value
    return json.dumps(out, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@functools.lru_cache(maxsize=1024)
def _loads(text: str) -> CallbackTarget:
    """Targets repeat across many events: each distinct text parsed once."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise ValueError(f"not a callback target: {text[:200]!r}")
    unknown = set(data) - {"url", *_DEFAULTS}
    if unknown:
        raise ValueError(f"callback target: unknown field(s) {', '.join(sorted(unknown))}")
    mask = data.get("mask")
    if mask is not None and (isinstance(mask, bool) or not isinstance(mask, int)):
        raise ValueError("callback target: mask must be an integer")
    return CallbackTarget(
        url=data["url"],
        format=str(data.get("format", "json")),
        mask=mask,
        method=str(data.get("method", "POST")),
        key=data.get("key"),
    )


def address_problem(address: str) -> str | None:
    """Why a callback may not connect to ``address`` (an IP literal), or None when it may.

    The one check of an address: at acceptance for literal hosts and resolved names, and by the delivery
    worker for the address it is about to connect to.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for flag, what in (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
    ):
        if flag:
            return f"{ip} is a {what} address (allow_private_callbacks = true in [events] permits it)"
    return None


def resolve(host: str, port: int | None) -> list[str]:
    """Every address ``host`` resolves to (blocking: call it off the event loop)."""
    infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def callback_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a callback target (None when it can). Resolves a host name unless
    ``allow_private``: it blocks, so an async caller runs it in a thread."""
    if len(url) > MAX_URL:
        return f"longer than {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http:// or https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "credentials in a callback URL are not allowed (the events are signed instead)"
    if allow_private:
        return None
    host = parts.hostname
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            return f"host {host!r} does not resolve: {exc}"
    for address in addresses:
        why = address_problem(address)
        if why is not None:
            return why if address == host else f"{host} resolves to {why}"
    return None


def target_problem(target: CallbackTarget, *, allow_private: bool) -> str | None:
    """Why ``target`` cannot be kept with a message: its URL (as :func:`callback_problem`), format, method."""
    if target.format not in FORMATS:
        return f"unknown callback format {target.format!r} (known: {', '.join(FORMATS)})"
    if target.method not in METHODS:
        return f"callback method must be GET or POST, got {target.method!r}"
    if target.mask is not None and not 0 <= target.mask < 2**16:
        return f"callback mask out of range: {target.mask}"
    return callback_problem(target.url, allow_private=allow_private)


@dataclass(frozen=True, slots=True)
class RowCallbacks:
    """The callback rule of a campaign's rows: the campaign's target, or the row's own ``callback_url``.

    A row's URL is checked for its form and literal address only, never resolved (a campaign has many rows,
    and a name may resolve elsewhere by the time of delivery anyway: the worker checks the address it
    connects to).
    """

    default: CallbackTarget | None
    key: str | None = None  # the API key whose secret signs a row's own target
    allow_private: bool = False
    column: str = "callback_url"

    def target(self, fields: Mapping[str, str]) -> tuple[str | None, str | None]:
        """(the row's target as stored, ``CallbackTarget.dumps()``; why its URL cannot be one)."""
        url = fields.get(self.column, "").strip()
        if not url:
            return (self.default.dumps() if self.default is not None else None), None
        why = literal_problem(url, allow_private=self.allow_private)
        if why is not None:
            return None, f"{self.column}: {why}"
        return CallbackTarget(url, key=self.key).dumps(), None


def literal_problem(url: str, *, allow_private: bool) -> str | None:
    """:func:`callback_problem` without resolving a name: the form, and the address if the host is one."""
    why = callback_problem(url, allow_private=True)
    if why is not None or allow_private:
        return why
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return "localhost is a loopback address" if host.rstrip(".").endswith("localhost") else None
    return address_problem(host)
