"""The unsupported-field rule and the default grouping of the shared send loop, as pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from msgbridge.adapters.http.payload import (
    Call,
    Payload,
    failed_result,
    uncarried,
    unsupported_result,
    without,
)
from msgbridge.adapters.http.replies import Reply
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import LOCAL_METADATA, Channel, Message, SendResult
from msgbridge.core.status import DeliveryStatus

SMS = frozenset({Channel.SMS})


def test_only_fields_that_are_set_and_not_carried_are_named_in_order() -> None:
    m = Message(to="+77011234567", text="x", html="<b>x</b>", subject="s", validity=timedelta(hours=1))
    assert uncarried(m, frozenset(), SMS) == ["subject", "html", "validity"]
    assert uncarried(m, frozenset({"validity"}), SMS) == ["subject", "html"]
    assert uncarried(Message(to="+77011234567", text="x", subject=""), frozenset(), SMS) == []


def test_channel_comes_first_and_local_metadata_is_not_a_field() -> None:
    mail = Message(channel=Channel.EMAIL, to="a@example.com", text="x")
    assert uncarried(mail, frozenset(), SMS) == ["channel"]
    local = Message(to="+77011234567", text="x", metadata=dict.fromkeys(LOCAL_METADATA, "v"))
    assert uncarried(local, frozenset(), SMS) == []
    mixed = local.model_copy(update={"metadata": {**local.metadata, "order": "1"}})
    assert uncarried(mixed, frozenset(), SMS) == ["metadata"]
    assert without(mixed, ["metadata"]).metadata == local.metadata


def test_the_refusal_names_every_field_and_the_switch() -> None:
    m = Message(to="+77011234567", text="x")
    result = unsupported_result(m, "demo", ["subject", "html"])
    assert result.status is DeliveryStatus.REJECTED
    assert result.error is not None and result.error.code is ErrorCode.UNSUPPORTED
    assert result.error.native_code == "subject"
    assert (
        result.error.native_message
        == "subject, html: demo:// cannot carry this field; unsupported=ignore sends without it"
    )
    assert "unsupported=ignore" not in str(unsupported_result(m, "demo", ["channel"]).error)


def test_a_failed_send_is_in_doubt_only_when_it_may_have_been_taken() -> None:
    m = Message(to="+77011234567", text="x")
    assert failed_result(m, ErrorInfo(code=ErrorCode.TIMEOUT)).status is DeliveryStatus.MAYBE_SUBMITTED
    assert (
        failed_result(m, ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_code=200)).status
        is DeliveryStatus.MAYBE_SUBMITTED
    )
    assert (
        failed_result(m, ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_code=400)).status
        is DeliveryStatus.FAILED
    )
    assert (
        failed_result(m, ErrorInfo(code=ErrorCode.TEMPORARY_FAILURE), in_doubt=True).status
        is DeliveryStatus.MAYBE_SUBMITTED
    )


class ByText(Payload):
    max_batch = 2

    def group_key(self, message: Message) -> str:
        return message.text

    def build_send(self, batch: Sequence[Message]) -> Call:
        return Call("send", [m.to for m in batch])

    def parse_send(self, reply: Reply, batch: Sequence[Message]) -> list[SendResult | None]:
        return [None for _ in batch]


def test_default_batches_group_by_key_in_first_seen_order_and_cut_at_max_batch() -> None:
    texts = ["a", "b", "a", "a", "b", "a"]
    messages = [Message(to=f"+7701123456{i}", text=t) for i, t in enumerate(texts)]
    assert ByText().batches(messages, [0, 1, 2, 3, 4, 5]) == [[0, 2], [3, 5], [1, 4]]
    assert ByText().batches(messages, [1, 3]) == [[1], [3]]
