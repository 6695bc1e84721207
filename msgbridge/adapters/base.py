"""The Transport contract, the capability protocols, and the registry that finds a transport by URL scheme.

The contract is as small as httpx's ``AsyncBaseTransport``: open, send a
batch, close. What only some peers can do is a protocol of its own
(:class:`StatusPolling`, :class:`ReferenceLookup`, :class:`ReceiptPush`,
:class:`InboundMessages`, :class:`ProviderCampaigns`): a transport has the
capability when it has the method, and the dispatcher and the CLI ask with
``isinstance``. Everything else (retries, rate caps, the store) lives in the
dispatcher, so that every transport gets it for free and none does it twice.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from types import TracebackType
from typing import Any, ClassVar, Protocol, runtime_checkable

from msgbridge.core.errors import ConfigError
from msgbridge.core.message import Campaign, DeliveryReceipt, InboundMessage, Message, SendResult
from msgbridge.core.options import OptionSet, OptionValues
from msgbridge.core.ratelimit import DEFAULT_MAX_RETRY_WAIT
from msgbridge.core.url import TransportURL, redact, split

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capabilities:
    """The sizes the dispatcher works in. What a transport can *do* is the protocols it implements."""

    max_batch: int = 1  # messages per send() call that map to one request
    status_poll: int = 0  # native ids per status() call of a StatusPolling transport


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
    """Base class for every transport: open, send, aclose. Subclasses set ``scheme`` and ``capabilities``."""

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
    # The longest wait a peer may ask of the dispatcher (Retry-After) before a message ends THROTTLED;
    # HTTP transports read it from their URL (``max_retry_wait=``).
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT

    def __init__(self, url: TransportURL) -> None:
        declared = type(self).declared_options
        private = type(self).private_options()
        self.url = url if private <= url.private else replace(url, private=url.private | private)
        self.settings: OptionValues = declared.read(url) if declared is not None else OptionValues({})

    @classmethod
    def private_options(cls) -> frozenset[str]:
        """The declared options whose values are credentials: hidden wherever the URL is shown."""
        return cls.declared_options.private_names() if cls.declared_options is not None else frozenset()

    @classmethod
    def from_url(cls, url: str | TransportURL) -> Transport:
        parsed = (
            url
            if isinstance(url, TransportURL)
            else TransportURL.parse(url, user_is_secret=cls.user_is_secret)
        )
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


# -- capabilities: a transport has one when it has the method -------------------------------------------


@runtime_checkable
class StatusPolling(Protocol):
    """Can be asked how messages it accepted are doing, ``capabilities.status_poll`` native ids per call.

    The dispatcher polls such a transport (within the provider's limits, ``dispatch.polling``) while it
    waits for receipts.
    """

    async def status(self, native_ids: Sequence[str]) -> list[DeliveryReceipt]:
        """What the peer knows of these ids now; ids it does not know are left out."""
        ...


@runtime_checkable
class ReferenceLookup(Protocol):
    """Can tell which caller references it accepted: how a re-run settles what a killed run left MAYBE_SUBMITTED."""

    async def lookup(self, references: Sequence[str]) -> dict[str, SendResult]:
        """Reference -> what the peer accepted under it; a reference it never saw is absent.

        Raises rather than answers "absent" when the peer cannot be asked: an absent reference is sent again.
        """
        ...


@runtime_checkable
class ReceiptPush(Protocol):
    """Pushes delivery receipts; the dispatcher reads them while it sends and after it closes the transport."""

    def receipts(self) -> AsyncIterator[DeliveryReceipt]:
        """Pushed receipts, until the transport is closed (then what it still held, then the end)."""
        ...


@runtime_checkable
class InboundMessages(Protocol):
    """Receives mobile-originated messages (``msgbridge inbox listen``)."""

    def inbound(self) -> AsyncIterator[InboundMessage]:
        """Inbound messages, until the transport is closed."""
        ...


@runtime_checkable
class ComposedOf(Protocol):
    """Made of other transports, each with its own link (a routed transport, ``msgbridge.routing``).

    Its results name the part they came through (``SendResult.link``), so what waits for a polled
    receipt is found by the part's link and polled through the part, with the part's own limits.
    """

    def parts(self) -> Sequence[Transport]: ...


def polled_parts(transport: Transport) -> list[Transport]:
    """What the dispatcher polls for receipts: the transport, or the parts of a composed one, that can be
    polled and do not push."""
    parts = transport.parts() if isinstance(transport, ComposedOf) else [transport]
    return [p for p in parts if isinstance(p, StatusPolling) and not isinstance(p, ReceiptPush)]


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """How a long-open transport's link is doing now, for a service's health and metrics.

    Counters are since the transport was opened; ``last_error`` is text the transport already logs (never a
    credential).
    """

    up: bool  # usable now (SMPP: at least one bind that can submit is bound)
    binds_up: int | None = None  # SMPP: binds bound now, of ``binds``
    binds: int | None = None
    in_flight: int = 0  # requests written and not yet answered
    throttled: bool = False  # the peer is throttling us now (a pause or a shrunk window)
    throttle_events: int = 0
    last_error: str | None = None


@runtime_checkable
class ReportsHealth(Protocol):
    """Can say how its link is doing (SMPP: binds up, window in flight, throttling)."""

    def health(self) -> LinkHealth: ...


@dataclass(frozen=True)
class ProviderCampaignResult:
    """What a provider-side campaign run returns: the provider's campaign and one result per recipient.

    ``results`` is in the order of the recipients given, each with the native
    id receipts will name, so the store tracks every message as if it had been
    sent one by one. ``requests`` counts the HTTP calls the run took.
    """

    campaign_id: str
    status: str
    results: list[SendResult]
    requests: int = 0
    warnings: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ProviderCampaigns(Protocol):
    """Has a provider-side campaign API: ``campaign run --mode provider`` hands it the whole campaign at once."""

    async def run_campaign(self, campaign: Campaign, recipients: Sequence[Message]) -> ProviderCampaignResult:
        """One result per recipient, in order, as send() would give."""
        ...


@dataclass(frozen=True)
class Feature:
    """One capability protocol as ``msgbridge transports`` shows it: its ``--json`` key, column and word."""

    key: str
    column: str
    word: str
    protocol: type


FEATURES: tuple[Feature, ...] = (
    Feature("dlr_push", "receipts", "push", ReceiptPush),
    Feature("polling", "receipts", "poll", StatusPolling),
    Feature("lookup_by_reference", "lookup", "yes", ReferenceLookup),
    Feature("inbound", "inbound", "yes", InboundMessages),
    Feature("campaigns", "campaigns", "yes", ProviderCampaigns),
)


def features(transport: Transport | type[Transport]) -> dict[str, bool]:
    """Which capability protocols a transport implements: a class as declared, an instance as its URL made it."""
    if isinstance(transport, type):
        return {f.key: issubclass(transport, f.protocol) for f in FEATURES}
    return {f.key: isinstance(transport, f.protocol) for f in FEATURES}


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


def redact_for(transport: Transport, url: str) -> str:
    """``url`` as it may be shown or stored: credentials hidden, and the options ``transport`` declares private."""
    return redact(url, type(transport).private_options())
