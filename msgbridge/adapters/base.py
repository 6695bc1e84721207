"""The Transport interface and the registry that finds one by URL scheme.

The interface is deliberately as small as httpx's transport: send a batch,
poll statuses where the peer can be polled, iterate pushed receipts, close.
Everything else (retries, rate caps, the store) lives in the dispatcher so
that every transport gets it for free and none does it twice.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import TracebackType
from typing import ClassVar, Protocol, runtime_checkable

from msgbridge.core.errors import ConfigError, UnsupportedFeature
from msgbridge.core.message import DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.options import OptionSet, OptionValues
from msgbridge.core.url import TransportURL, split

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capabilities:
    """What a transport can honour; the dispatcher and CLI read it, `msgbridge transports` prints it."""

    channels: tuple[str, ...] = ("sms",)
    max_batch: int = 1  # messages per send() call that map to one request
    unicode: bool = True
    long_messages: bool = True
    dlr_push: bool = False  # receipts() yields receipts
    status_poll: int = 0  # ids per status() call; 0 = cannot poll
    scheduling: bool = False
    campaigns: bool = False  # has a provider-side campaign API
    inbound: bool = False  # inbound() yields MO messages
    lookup_by_reference: bool = False  # lookup() can tell whether a reference was sent

    def describe(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# What a transport with ``writes_in_groups`` awaits before it writes a group of requests: the ids of the
# messages about to be written, and the results it already has for others of the same send() call (so the
# caller can record them now rather than when the whole call returns). If it raises, nothing is written:
# the transport fails those messages (and the rest of the call) as not sent.
BeforeWrite = Callable[[Sequence[str], Sequence[SendResult]], Awaitable[None]]


@runtime_checkable
class AcknowledgesReceipts(Protocol):
    """A transport whose peer keeps a pushed receipt until it is acknowledged (SMPP: deliver_sm_resp).

    A caller that stores receipts says so once (``hold_receipt_acks``) and
    names each batch it has committed (``receipts_stored``): only then is it
    acknowledged, so a receipt lost with this process (a kill) is delivered
    again by the peer instead of being forgotten.
    """

    def hold_receipt_acks(self) -> None: ...

    def receipts_stored(self, receipts: Sequence[DeliveryReceipt]) -> None: ...


class Transport(ABC):
    """Base class for every transport. Subclasses set ``scheme`` and ``capabilities``."""

    # True where send() takes ``before_write=`` (a BeforeWrite) and awaits it before every write; the
    # dispatcher then marks messages in doubt group by group instead of all before send().
    writes_in_groups: ClassVar[bool] = False

    scheme: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    # Whether the user part of the URL is an API key rather than a login.
    user_is_secret: ClassVar[bool] = False
    summary: ClassVar[str] = ""
    # The query options this transport reads (msgbridge.core.options). Reading the URL through it at
    # construction refuses unknown options and out-of-range values before anything connects. None: a
    # transport that declares nothing (third-party ones written before declarations) reads its URL itself.
    declared_options: ClassVar[OptionSet | None] = None

    def __init__(self, url: TransportURL) -> None:
        self.url = url
        declared = type(self).declared_options
        self.settings: OptionValues = declared.read(url) if declared is not None else OptionValues({})

    @classmethod
    def from_url(cls, url: str | TransportURL) -> Transport:
        parsed = url if isinstance(url, TransportURL) else TransportURL.parse(url, user_is_secret=cls.user_is_secret)
        return cls(parsed)

    @property
    def link(self) -> str:
        """A name for the peer, used to key native ids (they are unique only per link)."""
        return f"{self.url.scheme}://{self.url.host or ''}:{self.url.port or ''}"

    @property
    def resends(self) -> int:
        """Requests this transport sent again by itself (a throttled SMPP PDU); summaries count them as retries."""
        return 0

    async def open(self) -> None:
        """Connect, bind or log in. Idempotent; send() calls it if needed."""
        return None

    @abstractmethod
    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        """One result per message, in order. Per-message failures are results, not exceptions."""

    async def status(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        raise UnsupportedFeature(f"{self.scheme}:// cannot be polled for status")

    async def lookup(self, references: Sequence[str]) -> dict[str, SendResult]:
        """Which of these caller references did the peer accept? Used to settle MAYBE_SUBMITTED."""
        raise UnsupportedFeature(f"{self.scheme}:// cannot look messages up by reference")

    async def receipts(self) -> AsyncIterator[DeliveryReceipt]:
        """Pushed receipts, until the transport is closed. Default: none."""
        return
        yield  # pragma: no cover

    async def inbound(self) -> AsyncIterator[InboundMessage]:
        """Mobile-originated messages, until the transport is closed. Default: none."""
        return
        yield  # pragma: no cover

    async def aclose(self) -> None:
        """Release connections; unbind where the protocol has it."""
        return None

    async def __aenter__(self) -> Transport:
        # ``async with`` skips __aexit__ when __aenter__ raises: a failed open (a refused login or bind)
        # would leave what it had opened so far (HTTP connections, sessions retrying) behind.
        try:
            await self.open()
        except BaseException:
            try:
                await self.aclose()
            except Exception:
                log.debug("closing %r after a failed open also failed", self, exc_info=True)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


class Registry:
    """Schemes -> transport classes: built-ins by module path, third parties by entry point."""

    BUILTIN: ClassVar[dict[str, str]] = {
        "memory": "msgbridge.adapters.memory:MemoryTransport",
        "smpp": "msgbridge.adapters.smpp.transport:SmppTransport",
        "selzy": "msgbridge.adapters.http.selzy:SelzyTransport",
        "bsg": "msgbridge.adapters.http.bsg:BsgTransport",
        "smsc": "msgbridge.adapters.http.smsc:SmscTransport",
        "mobizon": "msgbridge.adapters.http.mobizon:MobizonTransport",
        "smtp": "msgbridge.adapters.smtp.transport:SmtpTransport",
    }
    ENTRY_POINT_GROUP: ClassVar[str] = "msgbridge.transports"

    def __init__(self) -> None:
        self._classes: dict[str, type[Transport]] = {}
        self._paths: dict[str, str] = dict(self.BUILTIN)
        for ep in entry_points(group=self.ENTRY_POINT_GROUP):
            self._paths.setdefault(ep.name, ep.value)

    def register(self, scheme: str, cls: type[Transport] | str) -> None:
        if isinstance(cls, str):
            self._paths[scheme] = cls
            self._classes.pop(scheme, None)
        else:
            self._classes[scheme] = cls

    def schemes(self) -> list[str]:
        return sorted(set(self._paths) | set(self._classes))

    def get(self, scheme: str) -> type[Transport]:
        if scheme in self._classes:
            return self._classes[scheme]
        path = self._paths.get(scheme)
        if path is None:
            raise ConfigError(f"unknown transport scheme {scheme!r}; known: {', '.join(self.schemes())}")
        module_name, _, attr = path.partition(":")
        try:
            module = importlib.import_module(module_name)
            cls = getattr(module, attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"transport {scheme!r} could not be loaded from {path}: {exc}") from exc
        self._classes[scheme] = cls
        return cls  # type: ignore[no-any-return]

    def available(self) -> dict[str, type[Transport] | Exception]:
        out: dict[str, type[Transport] | Exception] = {}
        for scheme in self.schemes():
            try:
                out[scheme] = self.get(scheme)
            except ConfigError as exc:
                out[scheme] = exc
        return out


registry = Registry()


def open_transport(url: str) -> Transport:
    """The transport for ``url``, not yet connected: ``async with open_transport(url) as t: ...``."""
    return registry.get(split(url).scheme).from_url(url)
