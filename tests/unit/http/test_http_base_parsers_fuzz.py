"""Whatever JSON a provider sends, the Selzy and BSG parsers return data and never raise."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.adapters.http import bsg, selzy
from msgbridge.adapters.http.base import classify_response
from msgbridge.core.errors import ErrorInfo
from msgbridge.core.message import Message

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
# Bodies shaped like the providers' own, with arbitrary values in their fields.
selzy_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"result": json_values},
        optional={"warnings": json_values, "error": json_values, "code": json_values},
    ),
    st.fixed_dictionaries(
        {"result": st.lists(st.dictionaries(st.sampled_from(["phone", "sms_id", "error", "code"]), scalars))}
    ),
)
bsg_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"data": json_values}),
    st.fixed_dictionaries({"message": json_values, "errors": json_values}),
    st.fixed_dictionaries({"error": json_values, "errorDescription": json_values}),
    st.fixed_dictionaries(
        {
            "data": st.lists(
                st.dictionaries(st.sampled_from(["campaign_id", "reference_id", "status", "id"]), scalars)
            )
        }
    ),
)
MESSAGES = [Message(to="+77011234567", text="x"), Message(to="+77017654321", text="y")]


@settings(max_examples=300, deadline=None)
@given(selzy_bodies)
def test_selzy_parsers_never_raise(body: Any) -> None:
    results = selzy.parse_send(body, MESSAGES)
    assert [r.message_id for r in results] == [m.id for m in MESSAGES]
    assert all(r.ok == (r.error is None) for r in results)
    assert isinstance(selzy.parse_check(body, "1", "selzy://x"), ErrorInfo | selzy.DeliveryReceipt)
    assert isinstance(selzy.parse_delivery_stats(body, "5", "selzy://x"), ErrorInfo | list)
    selzy.warnings_of(body)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.sampled_from([200, 401, 404, 422, 429, 500])), bsg_bodies)
def test_bsg_parsers_never_raise(status: int | None, body: Any) -> None:
    bsg.error_of(status, body)
    bsg.failed_indexes(body)
    assert isinstance(bsg.parse_campaign(body), ErrorInfo | dict)
    assert isinstance(bsg.parse_messages(body, "bsg://x"), ErrorInfo | tuple)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([200, 201, 400, 401, 422, 429, 500, 502, 503]), st.binary(max_size=200))
def test_any_http_body_is_classified_without_raising(status: int, body: bytes) -> None:
    import httpx

    data, error = classify_response(httpx.Response(status, content=body))
    assert error is not None or data is not None
