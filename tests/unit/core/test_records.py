"""The hot-path records: plain frozen dataclasses, with pydantic's JSON, validation and schema at the edge."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pydantic import ValidationError

from msgbridge.core import records
from msgbridge.core.errors import ErrorCode, ErrorInfo
from msgbridge.core.message import DeliveryReceipt, InboundMessage, SendResult
from msgbridge.core.status import DeliveryStatus as S


def test_records_are_frozen_and_slotted() -> None:
    r = SendResult(message_id="m1", status=S.SUBMITTED, native_ids=("A",), native_id="A")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = S.FAILED  # type: ignore[misc]
    assert not hasattr(r, "__dict__")
    changed = dataclasses.replace(r, status=S.FAILED)
    assert (changed.status, changed.native_ids, r.status) == (S.FAILED, ("A",), S.SUBMITTED)


def test_defaults_match_what_keyword_construction_always_gave() -> None:
    r = SendResult(message_id="m1", status=S.SUBMITTED)
    assert (r.native_id, r.native_ids, r.segments, r.error, r.warnings, r.raw, r.ok) == (
        None,
        (),
        1,
        None,
        (),
        None,
        True,
    )
    d = DeliveryReceipt(native_id="n", status=S.DELIVERED)
    assert (d.native_status, d.error, d.message_id, d.link, d.raw) == ("", None, None, "", None)
    assert d.received_at > 0
    a = InboundMessage(source="1", destination="2", text="hi")
    b = InboundMessage(source="1", destination="2", text="hi")
    assert a.id != b.id and (a.link, a.parts, a.raw) == ("", 1, None)


def test_a_receipt_goes_to_json_and_back_whole() -> None:
    error = ErrorInfo(code=ErrorCode.THROTTLED, native_code=88, native_message="slow down", retry_after=1.5)
    r = DeliveryReceipt(
        native_id="n1",
        status=S.UNDELIVERABLE,
        native_status="UNDELIV",
        error=error,
        message_id="m1",
        link="L",
        received_at=12.5,
        raw={"err": "001"},
    )
    data = records.dump(r)
    assert data["status"] == "UNDELIVERABLE" and data["error"]["code"] == "THROTTLED"
    assert json.loads(records.dump_json(r)) == data
    assert records.load(DeliveryReceipt, data) == r
    assert records.load_json(DeliveryReceipt, records.dump_json(r)) == r


def test_native_code_keeps_its_type_through_json() -> None:
    for native in (88, "088", None):
        e = ErrorInfo(code=ErrorCode.PERMANENT_FAILURE, native_code=native)
        back = records.load_json(ErrorInfo, records.dump_json(e))
        assert back == e and type(back.native_code) is type(native)


def test_a_result_read_back_has_tuples_and_members() -> None:
    r = SendResult(message_id="m1", status=S.SUBMITTED, native_id="B", native_ids=("A", "B"), segments=2)
    back = records.load(SendResult, json.loads(records.dump_json(r)))
    assert back == r and isinstance(back.native_ids, tuple) and back.status is S.SUBMITTED


def test_input_from_outside_is_validated() -> None:
    with pytest.raises(ValidationError):
        records.load(SendResult, {"message_id": "m1", "status": "NOT-A-STATUS"})
    with pytest.raises(ValidationError):
        records.load(DeliveryReceipt, {"status": "DELIVERED"})  # no native_id


def test_schema_names_every_field_and_the_required_ones() -> None:
    schema = records.json_schema(SendResult)
    assert list(schema["properties"]) == [f.name for f in dataclasses.fields(SendResult)]
    assert set(schema["required"]) == {"message_id", "status"}
    inbound = records.json_schema(InboundMessage)
    assert set(inbound["required"]) == {"source", "destination", "text"}
