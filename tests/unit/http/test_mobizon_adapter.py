"""Mobizon tables, request shapes and envelope parsing, without a network."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from msgbridge.adapters.http import mobizon
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.message import Campaign, Message, Recipient
from msgbridge.core.status import DeliveryStatus

# Independent copies of Mobizon's "API response codes" and message status tables (docs/sources.md).
EXPECTED_ERRORS = [
    (1, "INVALID_ARGUMENT"),
    (2, "NOT_FOUND"),
    (3, "PERMANENT_FAILURE"),
    (4, "PROTOCOL_ERROR"),
    (5, "PROTOCOL_ERROR"),
    (6, "PROTOCOL_ERROR"),
    (8, "AUTH_FAILED"),
    (9, "ACCESS_DENIED"),
    (10, "TEMPORARY_FAILURE"),
    (11, "INVALID_ARGUMENT"),
    (12, "INVALID_ARGUMENT"),
    (13, "WRONG_SERVER"),
    (14, "ACCOUNT_BLOCKED"),
    (15, "PERMANENT_FAILURE"),
    (30, "THROTTLED"),
    (98, "PARTIAL"),
    (99, "PERMANENT_FAILURE"),
    (999, "TEMPORARY_FAILURE"),
]
EXPECTED_FIELD_ERRORS = [
    ("recipient", "INVALID_DESTINATION"),
    ("from", "INVALID_SENDER"),
    ("text", "MESSAGE_TOO_LONG"),
]
EXPECTED_RECIPIENT_ERRORS = [
    (1, "INVALID_DESTINATION"),
    (2, "INVALID_DESTINATION"),
    (3, "INVALID_DESTINATION"),
    (4, "DUPLICATE"),
    (5, "PERMANENT_FAILURE"),
    (6, "UNSUPPORTED"),
    (7, "UNSUPPORTED"),
    (8, "UNSUPPORTED"),
    (20, "INVALID_ARGUMENT"),
    (30, "INVALID_ARGUMENT"),
    (31, "INVALID_ARGUMENT"),
    (32, "INVALID_ARGUMENT"),
    (51, "PERMANENT_FAILURE"),
    (99, "TEMPORARY_FAILURE"),
]
EXPECTED_STATUSES = [
    ("NEW", "QUEUED"),
    ("ENQUEUD", "QUEUED"),
    ("ACCEPTD", "ACCEPTED"),
    ("PDLIVRD", "PARTIALLY_DELIVERED"),
    ("DELIVRD", "DELIVERED"),
    ("UNDELIV", "UNDELIVERABLE"),
    ("REJECTD", "REJECTED"),
    ("EXPIRED", "EXPIRED"),
    ("DELETED", "DELETED"),
    ("UNKNOWN", "UNKNOWN"),
]
EXPECTED_STATUS_ERRORS = [
    ("UNDELIV", "PERMANENT_FAILURE"),
    ("REJECTD", "PERMANENT_FAILURE"),
    ("EXPIRED", "TEMPORARY_FAILURE"),
    ("DELETED", "PERMANENT_FAILURE"),
]
EXPECTED_TASKS = [(0, "waiting", False), (1, "running", False), (2, "done", True), (3, "rejected", True)]


def form(request: object) -> dict[str, str]:
    body = request.content.decode()  # type: ignore[attr-defined]
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def msg(to: str = "+77011234567", text: str = "hi", **kw: object) -> Message:
    return Message(to=to, text=text, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- tables


def test_tables_have_exactly_the_documented_rows() -> None:
    assert {k: v.value for k, v in mobizon.ERRORS.items()} == dict(EXPECTED_ERRORS)
    assert {k: v.value for k, v in mobizon.FIELD_ERRORS.items()} == dict(EXPECTED_FIELD_ERRORS)
    assert {k: v.value for k, v in mobizon.RECIPIENT_ERRORS.items()} == dict(EXPECTED_RECIPIENT_ERRORS)
    assert {k: v.value for k, v in mobizon.STATUSES.items()} == dict(EXPECTED_STATUSES)
    assert {k: v.value for k, v in mobizon.STATUS_ERRORS.items()} == dict(EXPECTED_STATUS_ERRORS)
    assert mobizon.TASK_STATUSES == {c: n for c, n, _ in EXPECTED_TASKS}


@pytest.mark.parametrize(("code", "expected"), EXPECTED_ERRORS)
def test_error_row(code: int, expected: str) -> None:
    info = mobizon.envelope_error(mobizon.Envelope(code=code, data="", message=f"m{code}"))
    assert info is not None and info.code.value == expected
    assert info.native_code == code and info.native_message.startswith(f"m{code}")


@pytest.mark.parametrize("code", [0, 100])
def test_success_codes_are_not_errors(code: int) -> None:
    assert mobizon.envelope_error(mobizon.Envelope(code=code)) is None


@pytest.mark.parametrize(("field", "expected"), EXPECTED_FIELD_ERRORS)
def test_validation_error_on_a_field_names_it(field: str, expected: str) -> None:
    info = mobizon.envelope_error(mobizon.Envelope(code=1, data={field: "bad value"}, message="Validation"))
    assert info is not None and info.code.value == expected
    assert f"{field}: bad value" in info.native_message


def test_validation_error_on_other_fields_stays_invalid_argument() -> None:
    info = mobizon.envelope_error(mobizon.Envelope(code=1, data={"validity": "too short"}))
    assert info is not None and info.code is ErrorCode.INVALID_ARGUMENT


@pytest.mark.parametrize(("code", "expected"), EXPECTED_RECIPIENT_ERRORS)
def test_recipient_item_row(code: int, expected: str) -> None:
    env = mobizon.Envelope(code=99, data=[{"recipient": "77011234567", "code": code}])
    [result] = mobizon.parse_add_recipients(env, [msg()])
    assert (
        result.error is not None and result.error.code.value == expected and result.error.native_code == code
    )
    assert result.native_id is None


@pytest.mark.parametrize(("native", "expected"), EXPECTED_STATUSES)
def test_status_row(native: str, expected: str) -> None:
    receipt = mobizon.receipt_from_item({"id": 5, "status": native})
    assert receipt is not None and receipt.status.value == expected and receipt.native_status == native


@pytest.mark.parametrize(("native", "expected"), EXPECTED_STATUS_ERRORS)
def test_failed_status_carries_an_error(native: str, expected: str) -> None:
    receipt = mobizon.receipt_from_item({"id": 5, "status": native})
    assert receipt is not None and receipt.error is not None and receipt.error.code.value == expected


@pytest.mark.parametrize(("code", "name", "final"), EXPECTED_TASKS)
def test_task_status_row(code: int, name: str, final: bool) -> None:
    state = mobizon.parse_task(mobizon.Envelope(code=0, data={"progress": 40, "status": code}))
    assert isinstance(state, mobizon.TaskState)
    assert (state.name, state.final, state.progress) == (name, final, 40)


def test_unknown_code_and_status_keep_the_native_value() -> None:
    info = mobizon.envelope_error(mobizon.Envelope(code=77, message="odd"))
    assert info is not None and info.code is ErrorCode.PERMANENT_FAILURE and info.native_code == 77
    receipt = mobizon.receipt_from_item({"id": 1, "status": "SOMETHING"})
    assert (
        receipt is not None
        and receipt.status is DeliveryStatus.UNKNOWN
        and receipt.native_status == "SOMETHING"
    )


# --------------------------------------------------------------------------- requests


def test_flatten_makes_php_bracket_arrays() -> None:
    assert mobizon.flatten(
        {
            "ids": ["1", 2],
            "params": {"validity": 60, "x": None, "on": True},
            "recipients": [{"recipient": "7", "name": "A"}],
        }
    ) == [
        ("ids[0]", "1"),
        ("ids[1]", "2"),
        ("params[validity]", "60"),
        ("params[on]", "1"),
        ("recipients[0][recipient]", "7"),
        ("recipients[0][name]", "A"),
    ]


def test_request_shape_follows_the_documents_key_in_the_query_string() -> None:
    # docs: "curl -X POST '.../service/message/getSMSStatus?output=json&api=v1&apiKey=KKKK' -d 'ids%5B0%5D=123'"
    request = mobizon.api_request(
        "https://api.mobizon.kz", "SECRETKEY", "message", "sendSmsMessage", {"recipient": "7701"}
    )
    assert request.method == "POST"
    assert request.url.path == "/service/message/sendsmsmessage"
    assert request.url.host == "api.mobizon.kz"
    assert dict(request.url.params) == {"output": "json", "api": "v1", "apiKey": "SECRETKEY"}
    assert form(request) == {"recipient": "7701"}
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_request_key_in_body_on_request() -> None:
    request = mobizon.api_request(
        "https://api.mobizon.kz",
        "SECRETKEY",
        "message",
        "sendSmsMessage",
        {"recipient": "7701"},
        key_in="body",
    )
    assert dict(request.url.params) == {"output": "json", "api": "v1"}
    assert "SECRETKEY" not in str(request.url)
    assert form(request) == {"apiKey": "SECRETKEY", "recipient": "7701"}


def test_request_key_in_query_and_host_override() -> None:
    request = mobizon.api_request(
        "http://127.0.0.1:9", "K", "taskqueue", "getStatus", {"id": 3}, key_in="query", host="api.mobizon.ua"
    )
    assert dict(request.url.params) == {"output": "json", "api": "v1", "apiKey": "K"}
    assert request.headers["host"] == "api.mobizon.ua"
    assert form(request) == {"id": "3"}


def test_send_params_cover_sender_validity_schedule_links_and_name() -> None:
    when = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    params = mobizon.send_params(
        msg("+77011234567", "Hello", validity=timedelta(hours=2), scheduled_at=when, reference="order-7"),
        sender="Shop",
        shorten_links=True,
    )
    assert params == {
        "recipient": "77011234567",
        "text": "Hello",
        "from": "Shop",
        "params": {
            "validity": 120,
            "deferredToTs": "2030-05-06 07:08:09",
            "shortenLinks": 1,
            "name": "order-7",
        },
    }


def test_status_params_refuse_more_than_100_ids() -> None:
    assert mobizon.status_params([str(i) for i in range(100)])["ids"] == [str(i) for i in range(100)]
    with pytest.raises(ConfigError):
        mobizon.status_params([str(i) for i in range(101)])


@pytest.mark.parametrize(
    ("kw", "ok"),
    [
        ({"validity": timedelta(minutes=59)}, False),
        ({"validity": timedelta(minutes=60)}, True),
        ({"validity": timedelta(minutes=1440)}, True),
        ({"validity": timedelta(minutes=1441)}, False),
        ({"scheduled_at": datetime(2030, 1, 1, 0, 30, tzinfo=UTC)}, False),
        ({"scheduled_at": datetime(2030, 1, 1, 2, 0, tzinfo=UTC)}, True),
        ({"scheduled_at": datetime(2030, 1, 16, 0, 0, tzinfo=UTC)}, False),
    ],
)
def test_local_checks_name_the_field(kw: dict[str, object], ok: bool) -> None:
    problem = mobizon.check_message(msg(**kw), now=datetime(2030, 1, 1, tzinfo=UTC))
    assert (problem is None) == ok
    if problem is not None:
        assert problem.code is ErrorCode.INVALID_ARGUMENT
        assert problem.native_message.split(":")[0] in kw


# --------------------------------------------------------------------------- replies


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("api.mobizon.ua", "api.mobizon.ua"),
        ("https://api.mobizon.com.br/", "api.mobizon.com.br"),
        ({"domain": "api.mobizon.gmbh"}, "api.mobizon.gmbh"),
        ("", None),
        (None, None),
    ],
)
def test_wrong_server_domain_accepts_string_url_or_object(data: object, expected: str | None) -> None:
    assert mobizon.wrong_server_domain(mobizon.Envelope(code=13, data=data)) == expected


@pytest.mark.parametrize(
    ("domain", "ok"),
    [
        ("api.mobizon.kz", True),
        ("api.mobizon.ua", True),
        ("API.Mobizon.UZ", True),
        ("api.mobizon.com.br", True),
        ("api.mobizon.gmbh", True),
        ("evil.example.com", False),
        ("api.mobizon.kz.evil.example", False),
        ("api.mobizon.kz:8080", False),
        ("mobizon.kz", False),
    ],
)
def test_only_mobizon_api_hosts_are_followed(domain: str, ok: bool) -> None:
    assert mobizon.acceptable_domain(domain) is ok


@pytest.mark.parametrize("body", [None, "text", [1], {"data": 1}, {"code": "x"}])
def test_non_envelopes_are_protocol_errors(body: object) -> None:
    parsed = mobizon.parse_envelope(body)
    assert not isinstance(parsed, mobizon.Envelope) and parsed.code is ErrorCode.PROTOCOL_ERROR


def test_parse_send_success_moderation_and_failure() -> None:
    ok = mobizon.parse_send(mobizon.Envelope(0, {"campaignId": 1, "messageId": 55, "status": 2}), msg())
    assert (ok.status, ok.native_id, ok.warnings) == (DeliveryStatus.SUBMITTED, "55", ())
    held = mobizon.parse_send(mobizon.Envelope(0, {"campaignId": 1, "messageId": 56, "status": 1}), msg())
    assert held.warnings == ("in moderation",)
    bad = mobizon.parse_send(mobizon.Envelope(1, {"recipient": "invalid"}, "Validation"), msg())
    assert bad.status is DeliveryStatus.FAILED and bad.error is not None
    assert bad.error.code is ErrorCode.INVALID_DESTINATION
    odd = mobizon.parse_send(mobizon.Envelope(0, {"campaignId": 1}), msg())
    assert odd.status is DeliveryStatus.MAYBE_SUBMITTED and odd.error is not None


def test_parse_status_skips_ids_the_provider_did_not_return() -> None:
    env = mobizon.Envelope(
        0, [{"id": 1, "status": "DELIVRD"}, {"id": 2, "status": "ACCEPTD"}, {"status": "NEW"}]
    )
    assert [(r.native_id, r.status) for r in mobizon.parse_status(env)] == [
        ("1", DeliveryStatus.DELIVERED),
        ("2", DeliveryStatus.ACCEPTED),
    ]
    assert mobizon.parse_status(mobizon.Envelope(12, "")) == []


def test_partial_add_matches_items_by_number() -> None:
    env = mobizon.Envelope(
        98,
        [
            {"recipient": "77011234562", "code": 4},
            {"recipient": "77011234561", "code": 0, "messageId": 11},
        ],
    )
    results = mobizon.parse_add_recipients(env, [msg("+77011234561"), msg("+77011234562")])
    assert [(r.status, r.native_id) for r in results] == [
        (DeliveryStatus.QUEUED, "11"),
        (DeliveryStatus.REJECTED, None),
    ]


def test_whole_add_failure_applies_to_every_recipient() -> None:
    results = mobizon.parse_add_recipients(mobizon.Envelope(10, "", "locked"), [msg(), msg("+77011234568")])
    assert all(r.error is not None and r.error.code is ErrorCode.TEMPORARY_FAILURE for r in results)


def test_webhook_signature_and_receipt() -> None:
    payload = {
        "eventId": "e1",
        "eventType": "sms-delivery-report",
        "eventCreateTs": "2030-01-01 10:00:00",
        "attempt": 2,
        "data": {"campaignId": 3, "messageId": 44, "status": "DELIVRD", "to": "77011234567"},
    }
    expected = hashlib.sha1(b"e1|2|2030-01-01 10:00:00|s3cret").hexdigest()
    assert mobizon.webhook_signature(payload, "s3cret") == expected
    assert mobizon.verify_webhook({**payload, "sign": expected}, "s3cret")
    assert not mobizon.verify_webhook({**payload, "sign": expected}, "other")
    assert not mobizon.verify_webhook(payload, "s3cret")
    receipt = mobizon.receipt_from_webhook(payload)
    assert receipt is not None and (receipt.native_id, receipt.status) == ("44", DeliveryStatus.DELIVERED)
    assert mobizon.receipt_from_webhook({**payload, "eventType": "other"}) is None


def test_template_fields_only_when_the_template_renders_each_text() -> None:
    campaign = Campaign(
        name="c",
        template="Hi {name}, code {code}",
        recipients=(
            Recipient(phone="+77011234561", fields={"name": "Ann", "code": "1"}),
            Recipient(phone="77011234562", fields={"name": "Bob", "code": "2"}),
        ),
    )
    messages = [msg("+77011234561", "Hi Ann, code 1"), msg("+77011234562", "Hi Bob, code 2")]
    assert mobizon.template_fields(campaign, messages) == [
        {"name": "Ann", "code": "1"},
        {"name": "Bob", "code": "2"},
    ]
    edited = [messages[0], msg("+77011234562", "Hi Bob!")]
    assert mobizon.template_fields(campaign, edited) is None
    assert (
        mobizon.template_fields(campaign.model_copy(update={"template": "Hi {{x}} {name}"}), messages) is None
    )
    assert mobizon.template_fields(campaign, [msg("+77019999999", "Hi Ann, code 1")]) is None
