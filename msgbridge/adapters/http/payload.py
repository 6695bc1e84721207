"""What a provider supplies to the shared send loop: a payload class, and the unsupported-field rule.

:class:`HttpTransport <msgbridge.adapters.http.base.HttpTransport>` runs one
loop for every provider (check -> group -> chunk -> build -> call with retry
-> parse -> results in message order). What differs between providers is
what goes into a request and how an answer is read, so that is all a
provider writes: a :class:`Payload` subclass beside its tables. The steps to
add a provider are in ``docs/adding-a-provider.md``.

A field of a :class:`Message` that the provider cannot carry (``html`` on an
SMS API, a schedule it cannot honour, ...) is never dropped in silence
(``UnsupportedFeature`` in ``msgbridge/core/errors.py``: "we refuse rather
than drop it"): the message gets its own UNSUPPORTED result naming the field,
the rest of the batch goes out. The URL option ``unsupported=ignore`` sends
such a message without the field instead, with a warning on its result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from msgbridge.adapters.http.replies import Reply
from msgbridge.core import options as opt
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import LOCAL_METADATA, Channel, DeliveryReceipt, Message, SendResult
from msgbridge.core.status import DeliveryStatus

# Optional fields of a Message, in the order an UNSUPPORTED result names them. A provider's payload
# lists in ``carries`` those it puts on the wire; the others may not be set on a message it sends.
OPTIONAL_FIELDS: tuple[str, ...] = ("subject", "html", "metadata", "validity", "scheduled_at")

REFUSE, IGNORE = "refuse", "ignore"
UNSUPPORTED_OPTION = opt.choice(
    "unsupported",
    REFUSE,
    (REFUSE, IGNORE),
    "a message field the provider cannot carry (subject, html, metadata, a validity or schedule it takes no "
    "such thing for): `refuse` makes that message UNSUPPORTED naming the field, `ignore` sends it without "
    "the field and says so in the result's warnings (another channel is always refused)",
)


@dataclass(frozen=True)
class Call:
    """One request a payload wants made: the provider's name for the call and its arguments.

    ``method`` is what the provider calls it (``sendSms``, ``send``,
    ``message/sendSmsMessage``, ``/api/campaigns/sms/send``); the transport's
    ``exchange`` turns it into an HTTP request (credentials, host, auth
    token) and makes it.
    """

    method: str
    params: Any


def uncarried(message: Message, carries: frozenset[str], channels: frozenset[Channel]) -> list[str]:
    """The fields set on ``message`` that a provider carrying ``carries`` over ``channels`` cannot send."""
    out = [] if message.channel in channels else ["channel"]
    for name in OPTIONAL_FIELDS:
        if name in carries:
            continue
        if name == "metadata":
            if any(key not in LOCAL_METADATA for key in message.metadata):
                out.append(name)
        elif getattr(message, name) not in (None, ""):
            out.append(name)
    return out


def unsupported_result(message: Message, scheme: str, fields: Sequence[str]) -> SendResult:
    """The result of a message refused for ``fields``: REJECTED (final, not retryable), UNSUPPORTED."""
    named = ", ".join(fields)
    hint = "" if "channel" in fields else "; unsupported=ignore sends without it"
    what = f"{message.channel.value} messages" if "channel" in fields else "this field"
    return SendResult(
        message_id=message.id,
        status=DeliveryStatus.REJECTED,
        error=ErrorInfo(
            code=ErrorCode.UNSUPPORTED,
            native_code=fields[0],
            native_message=f"{named}: {scheme}:// cannot carry {what}{hint}",
        ),
    )


def failed_result(message: Message, error: ErrorInfo, *, in_doubt: bool = False) -> SendResult:
    """The result for a message whose send request failed; ``in_doubt``: the request may have been taken.

    MAYBE_SUBMITTED when the outcome is unknown: no answer at all, a 2xx
    answer we could not read (the provider said "OK" in some form, so the
    message may well be on its way), or ``in_doubt``; the dispatcher never
    resends MAYBE_SUBMITTED on its own. FAILED otherwise (the dispatcher
    retries it when the code is retryable).
    """
    unreadable_ok = (
        error.code is ErrorCode.PROTOCOL_ERROR
        and isinstance(error.native_code, int)
        and 200 <= error.native_code < 300
    )
    doubtful = in_doubt or error.code.outcome_unknown or unreadable_ok
    return SendResult(
        message_id=message.id,
        status=DeliveryStatus.MAYBE_SUBMITTED if doubtful else DeliveryStatus.FAILED,
        error=error,
    )


def without(message: Message, fields: Sequence[str]) -> Message:
    """``message`` with ``fields`` cleared (``unsupported=ignore``); local metadata is kept."""
    update: dict[str, Any] = {}
    for name in fields:
        if name == "metadata":
            update[name] = {k: v for k, v in message.metadata.items() if k in LOCAL_METADATA}
        else:
            update[name] = None
    return message.model_copy(update=update)


class Payload(ABC):
    """A provider's request builder and response parser; pure, one instance per transport.

    The shared loop calls, in order: :meth:`check` for each message,
    :meth:`batches` to group and chunk them, :meth:`build_send` for each
    batch, the transport's ``exchange`` to make the call, and
    :meth:`parse_send` to read the answer. Status polls go through
    :meth:`build_status` and :meth:`parse_status` the same way.
    """

    # Optional Message fields (OPTIONAL_FIELDS) this provider puts on the wire.
    carries: ClassVar[frozenset[str]] = frozenset()
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.SMS})
    # Messages per send request, and native ids per status request (an instance may set its own).
    max_batch: int = 1
    status_batch: int = 1
    # The status of a message refused by check(): REJECTED where the provider's documents call
    # it a refusal, FAILED where the adapter always reported it so.
    refused_as: ClassVar[DeliveryStatus] = DeliveryStatus.REJECTED

    def check(self, message: Message) -> ErrorInfo | None:
        """The provider's documented limits, checked before a request is spent; None when it may go."""
        return None

    def group_key(self, message: Message) -> Hashable:
        """Messages with equal keys may share one request (same text, sender...). Default: each alone."""
        return message.id

    def batches(self, messages: Sequence[Message], indexes: Sequence[int]) -> list[list[int]]:
        """``indexes`` into ``messages``, grouped by :meth:`group_key` and cut at ``max_batch``."""
        groups: dict[Hashable, list[int]] = {}
        for index in indexes:
            groups.setdefault(self.group_key(messages[index]), []).append(index)
        size = self.max_batch
        return [
            group[start : start + size] for group in groups.values() for start in range(0, len(group), size)
        ]

    @abstractmethod
    def build_send(self, batch: Sequence[Message]) -> Call:
        """The call that sends ``batch`` (one group, at most ``max_batch`` messages)."""

    @abstractmethod
    def parse_send(self, reply: Reply, batch: Sequence[Message]) -> list[SendResult | None]:
        """One result per message of ``batch``, from an answer the HTTP layer did not refuse.

        ``None`` for a message the provider provably did not take while it
        refused others of the batch by name: the loop sends those again.
        """

    def build_status(self, native_ids: Sequence[str]) -> Call:
        """The call that asks about ``native_ids`` (at most ``status_batch``)."""
        raise NotImplementedError(f"{type(self).__name__} polls through its transport")

    def parse_status(
        self, reply: Reply, native_ids: Sequence[str], link: str
    ) -> list[DeliveryReceipt] | ErrorInfo:
        """Receipts for the ids the answer names, or why the poll failed."""
        raise NotImplementedError(f"{type(self).__name__} polls through its transport")

    def error_of(self, data: Any) -> ErrorInfo | None:
        """The provider's refusal in a parsed body that is worth a retry inside the call (its rate limits)."""
        return None
