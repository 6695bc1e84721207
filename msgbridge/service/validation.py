"""Checking a front's submissions before anything is queued: every problem found, by index and field.

A batch is all or nothing: one bad phone refuses the whole call with every problem listed
(:class:`~msgbridge.service.contract.InvalidSubmission`), so a caller fixes its batch once instead of
learning about its errors one retry at a time, and nothing is half queued.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from msgbridge.core.callbacks import CallbackTarget, target_problem
from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.core.phone import normalize
from msgbridge.core.sendable import check_text
from msgbridge.service.contract import MAX_BATCH, FieldError, InvalidSubmission, Submission

MAX_ALPHA_SENDER = 11  # GSM 03.38 alphanumeric originator: at most 11 characters
MAX_NUMERIC_SENDER = 20  # SMPP source_addr: up to 20 digits
MAX_REFERENCE = 200


@dataclass(frozen=True, slots=True)
class Checked:
    """One submission that passed: the phone in E.164 and the transport resolved to a configured name."""

    submission: Submission
    to: str
    transport: str
    callback: CallbackTarget | None = None  # its own (the defaults are the runtime's to add)
    segments: int = 1  # as the text was measured here (an expected price is per segment)


def _printable(text: str) -> bool:
    return text.isprintable()


def sender_problem(sender: str) -> str | None:
    """Why ``sender`` cannot be an SMS originator (None when it can)."""
    s = sender.strip()
    if not s:
        return "empty sender"
    digits = s[1:] if s.startswith("+") else s
    if digits.isdigit():
        return None if len(digits) <= MAX_NUMERIC_SENDER else f"more than {MAX_NUMERIC_SENDER} digits"
    if not s.isascii() or not _printable(s):
        return "an alphanumeric sender is printable ASCII only"
    if len(s) > MAX_ALPHA_SENDER:
        return f"an alphanumeric sender has at most {MAX_ALPHA_SENDER} characters"
    return None


def own_target(item: Submission, scope: str = "") -> CallbackTarget | None:
    """The target a submission names itself: ``callback``, or ``callback_url`` as a JSON callback signed with
    the secret of the key it came with (``scope``)."""
    if item.callback is not None:
        return item.callback
    if item.callback_url is not None:
        return CallbackTarget(item.callback_url, key=scope or None)
    return None


FRONT_FORMAT = "smpp"  # receipts over an SMPP front's own binds; only that front names such a target
FRONT_SCOPE = "smpp@"  # the front's scope prefix: API key names cannot hold "@", so no HTTP caller has it
RESERVED_OPTIONS = frozenset({"callback"})  # kept by the store as the target: set through ``callback`` only


def front_target_problem(target: CallbackTarget, scope: str) -> str | None:
    """Why an ``smpp`` target may not be kept: only the SMPP front's account ``X`` (scope ``smpp@X``) names
    ``smpp://X``, so no other caller can route another account's receipts, or its own, over a bind."""
    system_id = scope.removeprefix(FRONT_SCOPE) if scope.startswith(FRONT_SCOPE) else None
    if system_id is None or target.url != f"smpp://{system_id}":
        return "callback format 'smpp' is the SMPP front's own"
    return None


def form_problem(target: CallbackTarget) -> str | None:
    """What is wrong with a target's form alone (no name resolved): for callers that resolve nothing."""
    return target_problem(target, allow_private=True)


def check_batch(
    items: Sequence[Submission],
    resolve: Callable[[str | None], str | None],
    *,
    scope: str = "",
    callback_problem: Callable[[CallbackTarget], str | None] = form_problem,
) -> list[Checked]:
    """Every submission checked; raises InvalidSubmission listing all problems, or returns them all.

    ``resolve`` turns a submission's transport (None: the default) into a configured name, or None when no
    transport by that name is configured. ``callback_problem`` says what is wrong with a submission's own
    callback target (the runtime's looks up what it resolved beforehand, off the event loop).
    """
    if len(items) > MAX_BATCH:
        raise InvalidSubmission(
            [
                FieldError(
                    MAX_BATCH,
                    "messages",
                    ErrorCode.INVALID_ARGUMENT,
                    f"at most {MAX_BATCH} messages per call, got {len(items)}",
                )
            ]
        )
    errors: list[FieldError] = []
    out: list[Checked] = []
    for i, item in enumerate(items):
        before = len(errors)

        def bad(field: str, code: ErrorCode, message: str, i: int = i) -> None:
            errors.append(FieldError(i, field, code, message))

        transport = resolve(item.transport)
        if transport is None:
            bad(
                "transport",
                ErrorCode.INVALID_ARGUMENT,
                f"no transport named {item.transport!r} is configured",
            )
        to = ""
        segments = 1
        try:
            to = normalize(item.to, item.region)
        except MessagingError as exc:
            bad("to", exc.code, str(exc))
        try:
            segments = check_text(item.text).segments
        except MessagingError as exc:
            bad("text", exc.code, str(exc))
        if item.sender is not None:
            why = sender_problem(item.sender)
            if why is not None:
                bad("sender", ErrorCode.INVALID_SENDER, why)
        if item.reference is not None:
            if not item.reference or len(item.reference) > MAX_REFERENCE or not _printable(item.reference):
                bad("reference", ErrorCode.INVALID_ARGUMENT, f"1 to {MAX_REFERENCE} printable characters")
        target = own_target(item, scope)
        if item.callback is not None and item.callback_url is not None:
            bad(
                "callback_url", ErrorCode.INVALID_ARGUMENT, "give callback_url or a callback target, not both"
            )
        elif target is not None:
            why = callback_problem(target)
            if why is not None:
                bad("callback_url", ErrorCode.INVALID_ARGUMENT, why)
        if item.options and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in item.options.items()
        ):
            bad("options", ErrorCode.INVALID_ARGUMENT, "option names and values are text")
        elif item.options and RESERVED_OPTIONS & set(item.options):
            names = ", ".join(sorted(RESERVED_OPTIONS & set(item.options)))
            bad(
                "options",
                ErrorCode.INVALID_ARGUMENT,
                f"option(s) {names} are reserved: name a callback target",
            )
        if len(errors) == before and transport is not None:
            out.append(Checked(item, to, transport, target, segments))
    if errors:
        raise InvalidSubmission(errors)
    return out
