"""SMSC.ru tables, request shapes and reply parsing, without a network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from msgbridge.adapters.http import smsc
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.message import Message
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import Secret

# Independent copies of the tables of SMSC.ru's HTTP API document (docs/sources.md).
EXPECTED_ERRORS = [
    (1, "INVALID_ARGUMENT"),
    (2, "AUTH_FAILED"),
    (3, "INSUFFICIENT_FUNDS"),
    (4, "THROTTLED"),
    (5, "INVALID_ARGUMENT"),
    (6, "PERMANENT_FAILURE"),
    (7, "INVALID_DESTINATION"),
    (8, "INVALID_DESTINATION"),
    (9, "DUPLICATE"),
]
# status.php: the same codes, but 9 is "more than five status requests for one message, or more
# than one mass request, within a minute": a rate limit.
EXPECTED_STATUS_ERRORS = [(9, "THROTTLED")]
EXPECTED_CONTACT_ERRORS = [
    (1, "INVALID_ARGUMENT"),
    (2, "AUTH_FAILED"),
    (3, "NOT_FOUND"),
    (4, "THROTTLED"),
    (5, "TEMPORARY_FAILURE"),
    (9, "THROTTLED"),
]
EXPECTED_STATUSES = [
    (-3, "UNKNOWN"),
    (-2, "CANCELED"),
    (-1, "QUEUED"),
    (0, "SUBMITTED"),
    (1, "DELIVERED"),
    (2, "DELIVERED"),
    (3, "EXPIRED"),
    (4, "DELIVERED"),
    (20, "UNDELIVERABLE"),
    (22, "UNDELIVERABLE"),
    (23, "REJECTED"),
    (24, "REJECTED"),
    (25, "UNDELIVERABLE"),
]
EXPECTED_DELIVERY_ERRORS = [
    (1, "INVALID_DESTINATION"),
    (6, "TEMPORARY_FAILURE"),
    (11, "PERMANENT_FAILURE"),
    (12, "PERMANENT_FAILURE"),
    (13, "PERMANENT_FAILURE"),
    (21, "UNSUPPORTED"),
    (219, "PERMANENT_FAILURE"),
    (220, "QUEUE_FULL"),
]

CFG = smsc.SmscConfig(login="user", secret=Secret("pa ss"), sender="Shop")
KEY_CFG = smsc.SmscConfig(login=None, secret=Secret("KEY123"))


def msg(to: str, text: str = "hi", **kw: object) -> Message:
    return Message(to=to, text=text, **kw)  # type: ignore[arg-type]


def form(request: object) -> dict[str, str]:
    body = request.content.decode()  # type: ignore[attr-defined]
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


# --------------------------------------------------------------------------- tables


def test_tables_have_exactly_the_documented_rows() -> None:
    assert {k: v.value for k, v in smsc.ERRORS.items()} == dict(EXPECTED_ERRORS)
    assert {k: v.value for k, v in smsc.CONTACT_ERRORS.items()} == dict(EXPECTED_CONTACT_ERRORS)
    assert {k: v.value for k, v in smsc.STATUS_ERRORS.items()} == dict(EXPECTED_STATUS_ERRORS)
    assert {k: v.value for k, v in smsc.STATUSES.items()} == dict(EXPECTED_STATUSES)
    assert {k: v[0].value for k, v in smsc.DELIVERY_ERRORS.items()} == dict(EXPECTED_DELIVERY_ERRORS)


@pytest.mark.parametrize(("code", "expected"), EXPECTED_ERRORS)
def test_send_error_row(code: int, expected: str) -> None:
    reply = smsc.parse_reply(f'{{"error": "e{code}", "error_code": {code}}}')
    info = smsc.error_info(reply)
    assert info is not None and info.code.value == expected and info.native_code == code
    assert info.native_message == f"e{code}"


@pytest.mark.parametrize(("code", "expected"), EXPECTED_STATUS_ERRORS)
def test_status_error_row(code: int, expected: str) -> None:
    table = {**smsc.ERRORS, **smsc.STATUS_ERRORS}
    info = smsc.error_info(smsc.parse_reply(f"0,-{code}", 1, op="status"), table)
    assert info is not None and info.code.value == expected and info.native_code == code
    assert smsc.ERRORS[code].value != expected  # only the rows where status.php differs


@pytest.mark.parametrize(("code", "expected"), EXPECTED_CONTACT_ERRORS)
def test_contact_error_row(code: int, expected: str) -> None:
    result = smsc.parse_contacts(smsc.parse_reply(f"ERROR = {code} (text {code})", 0))
    assert result.error is not None and result.error.code.value == expected
    assert result.error.native_code == code and result.error.native_message == f"text {code}"


@pytest.mark.parametrize(("native", "expected"), EXPECTED_STATUSES)
def test_status_row(native: int, expected: str) -> None:
    receipt = smsc.receipt_from_row({"status": native, "err": 0}, "7:77011234567")
    assert receipt.status.value == expected
    assert receipt.native_status == str(native)


@pytest.mark.parametrize(("err", "expected"), EXPECTED_DELIVERY_ERRORS)
def test_delivery_error_row(err: int, expected: str) -> None:
    receipt = smsc.receipt_from_row({"status": 20, "err": err}, "7:77011234567")
    assert receipt.status is DeliveryStatus.UNDELIVERABLE
    assert (
        receipt.error is not None
        and receipt.error.code.value == expected
        and receipt.error.native_code == err
    )


def test_delivered_receipt_carries_no_error_and_unknown_status_is_unknown() -> None:
    assert smsc.receipt_from_row({"status": 1, "err": 0}, "1:7").error is None
    assert smsc.receipt_from_row({"status": 77}, "1:7").status is DeliveryStatus.UNKNOWN


def test_unknown_error_code_is_permanent_with_native_kept() -> None:
    info = smsc.error_info(smsc.parse_reply('{"error": "odd", "error_code": 42}'))
    assert info is not None and info.code is ErrorCode.PERMANENT_FAILURE and info.native_code == 42


# --------------------------------------------------------------------------- requests


def test_send_request_shape_and_credentials_in_body() -> None:
    request = smsc.send_request(CFG, ["+77011234567", "+77011234568"], "Привет & co")
    assert request.method == "POST"
    assert str(request.url) == "https://smsc.ru/sys/send.php"
    assert "psw" not in str(request.url) and "pa" not in request.url.query.decode()
    body = form(request)
    assert body == {
        "login": "user",
        "psw": "pa ss",
        "phones": "77011234567,77011234568",
        "mes": "Привет & co",
        "fmt": "3",
        "charset": "utf-8",
        "op": "1",
            "cost": "2",
        "sender": "Shop",
    }


def test_api_key_replaces_login_and_password() -> None:
    body = form(smsc.balance_request(KEY_CFG))
    assert body == {"apikey": "KEY123", "fmt": "3"}


def test_send_params_validity_schedule_and_client_id() -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    params = smsc.send_params(
        ["+77011234567"], "x", validity=timedelta(hours=2, minutes=30), scheduled_at=when, client_id=42
    )
    assert params["valid"] == "02:30"
    assert params["time"] == f"0{int(when.timestamp())}"
    assert params["id"] == "42"


@pytest.mark.parametrize(
    ("validity", "expected"),
    [(timedelta(seconds=10), "00:01"), (timedelta(hours=1), "01:00"), (timedelta(days=3), "24:00")],
)
def test_validity_is_clamped_to_what_smsc_accepts(validity: timedelta, expected: str) -> None:
    assert smsc.format_validity(validity) == expected


def test_status_request_lists_pairs_with_trailing_commas() -> None:
    request = smsc.status_request(CFG, ["5:77011234567", "6:77011234568"], "http://127.0.0.1:9")
    assert str(request.url) == "http://127.0.0.1:9/sys/status.php"
    body = form(request)
    assert body["id"] == "5,6," and body["phone"] == "77011234567,77011234568,"
    assert body["fmt"] == "3" and body["all"] == "0"


def test_status_request_for_one_message_is_not_a_mass_request() -> None:
    body = form(smsc.status_request(CFG, ["5:77011234567"], "http://127.0.0.1:9"))
    assert body["id"] == "5" and body["phone"] == "77011234567"


def test_contacts_request_uses_phones_php_with_an_action_flag() -> None:
    request = smsc.contacts_request(CFG, "add_group", {"name": "vip"})
    assert request.url.path == "/sys/phones.php"
    assert form(request)["add_group"] == "1" and form(request)["name"] == "vip"


def test_native_id_round_trip_and_bad_id() -> None:
    assert smsc.native_id(12, "+77011234567") == "12:77011234567"
    assert smsc.split_native_id("12:77011234567") == ("12", "77011234567")
    with pytest.raises(ConfigError):
        smsc.split_native_id("12")


def test_plan_batches_groups_identical_texts_and_splits_by_size_and_repeats() -> None:
    messages = [
        msg("+77011234561"),
        msg("+77011234562", "other"),
        msg("+77011234563"),
        msg("+77011234561"),  # same phone again: must go in another request
        msg("+77011234564"),
        msg("+77011234565", sender="X"),
    ]
    assert smsc.plan_batches(messages, 3) == [[0, 2, 4], [1], [3], [5]]
    assert smsc.plan_batches(messages, 2) == [[0, 2], [1], [3, 4], [5]]


# --------------------------------------------------------------------------- replies in four formats


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (0, "OK - 4 SMS, ID - 77"),
        (1, "77,4"),
        (2, "<result><id>77</id><cnt>4</cnt></result>"),
        (3, '{"id": 77, "cnt": 4}'),
    ],
)
def test_send_success_in_every_format(fmt: int, text: str) -> None:
    reply = smsc.parse_reply(text, fmt, op="send")
    assert reply.ok
    assert str(reply.first()["id"]) == "77" and str(reply.first()["cnt"]) == "4"
    results = smsc.parse_send(reply, [msg("+77011234561"), msg("+77011234562")])
    assert [r.native_id for r in results] == ["77:77011234561", "77:77011234562"]
    assert all(r.status is DeliveryStatus.SUBMITTED and r.segments == 2 for r in results)


@pytest.mark.parametrize(
    ("fmt", "text", "sms_id"),
    [
        (0, "ERROR = 7 (invalid phone), ID - 12", "12"),
        (0, "ERROR = 2 (bad login)", None),
        (1, "12,-7", "12"),
        (1, "0,-2", None),
        (2, "<result><error>invalid phone</error><error_code>7</error_code><id>12</id></result>", "12"),
        (3, '{"error": "invalid phone", "error_code": 7, "id": 12}', "12"),
    ],
)
def test_errors_in_every_format(fmt: int, text: str, sms_id: str | None) -> None:
    reply = smsc.parse_reply(text, fmt, op="send")
    assert not reply.ok and reply.error_code in (2, 7) and reply.error_id == sms_id
    results = smsc.parse_send(reply, [msg("+77011234561")])
    assert results[0].status is DeliveryStatus.FAILED
    assert results[0].error is not None and results[0].error.native_code == reply.error_code


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (
            0,
            "Status = 1, check_time = 10.10.2020 10:10:10, err = 0\nStatus = 20, check_time = 10.10.2020 10:10:11, err = 1",
        ),
        (1, "1,1602324610,0\n20,1602324611,1"),
        (
            2,
            "<list><sms><status>1</status><err>0</err></sms><sms><status>20</status><err>1</err></sms></list>",
        ),
        (3, '[{"status": 1, "err": 0}, {"status": 20, "err": 1}]'),
    ],
)
def test_status_lists_in_every_format(fmt: int, text: str) -> None:
    reply = smsc.parse_reply(text, fmt, op="status")
    receipts = smsc.parse_status(reply, ["5:77011234561", "5:77011234562"])
    assert [(r.native_id, r.status) for r in receipts] == [
        ("5:77011234561", DeliveryStatus.DELIVERED),
        ("5:77011234562", DeliveryStatus.UNDELIVERABLE),
    ]
    assert receipts[1].error is not None and receipts[1].error.code is ErrorCode.INVALID_DESTINATION


def test_status_rows_are_matched_by_id_and_phone_not_order() -> None:
    reply = smsc.parse_reply(
        '[{"id": "6", "phone": "77011234562", "status": 3}, {"id": "5", "phone": "77011234561", "status": 1}]'
    )
    receipts = smsc.parse_status(reply, ["5:77011234561", "6:77011234562", "9:77011234569"])
    assert [(r.native_id, r.status) for r in receipts] == [
        ("5:77011234561", DeliveryStatus.DELIVERED),
        ("6:77011234562", DeliveryStatus.EXPIRED),
    ]


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        (0, "ID = 31", "31"),
        (1, "31", "31"),
        (2, "<group><id>31</id></group>", "31"),
        (3, '{"id": 31}', "31"),
    ],
)
def test_contact_created_in_every_format(fmt: int, text: str, expected: str) -> None:
    result = smsc.parse_contacts(smsc.parse_reply(text, fmt, op="create"))
    assert result.error is None and result.id == expected


@pytest.mark.parametrize(
    ("fmt", "text"), [(0, "OK"), (1, "OK"), (2, "<result>OK</result>"), (3, '{"result": "OK"}')]
)
def test_contact_ok_in_every_format(fmt: int, text: str) -> None:
    result = smsc.parse_contacts(smsc.parse_reply(text, fmt))
    assert result.ok and result.id is None and not result.items


def test_group_list_in_fmt0_and_fmt1() -> None:
    zero = smsc.parse_contacts(
        smsc.parse_reply(
            "id = 1, name = vip, number = 10, cnt = 2\nid = 2, name = b, number = 11, cnt = 0", 0
        )
    )
    one = smsc.parse_contacts(smsc.parse_reply("1,vip,10,2\n2,b,11,0", 1, op="groups"))
    assert (
        zero.items
        == one.items
        == (
            {"id": "1", "name": "vip", "number": "10", "cnt": "2"},
            {"id": "2", "name": "b", "number": "11", "cnt": "0"},
        )
    )


def test_balance_in_text_and_json() -> None:
    assert smsc.parse_balance(smsc.parse_reply("123.45", 0)) == "123.45"
    assert smsc.parse_balance(smsc.parse_reply('{"balance": "9.50"}')) == "9.50"


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("", 3),
        ("   ", 0),
        ('{"id": 77, "cn', 3),
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", 3),
        ("<result><id>1</id>", 2),
        ("[1, 2]", 3),
        ('"text"', 3),
    ],
)
def test_unreadable_replies_are_protocol_errors_with_text_kept(text: str, fmt: int) -> None:
    reply = smsc.parse_reply(text, fmt)
    assert reply.malformed
    info = smsc.error_info(reply)
    assert info is not None and info.code is ErrorCode.PROTOCOL_ERROR
    assert text.strip()[:10] in info.native_message


def test_op1_reports_a_bad_phone_alone() -> None:
    reply = smsc.parse_reply(
        '{"id": 9, "cnt": 2, "phones": [{"phone": "77011234561", "status": "0"},'
        ' {"phone": "12", "error": "7", "error_text": "invalid phone"}, {"phone": "77011234562", "status": "0"}]}'
    )
    results = smsc.parse_send(reply, [msg("+77011234561"), msg("+12"), msg("+77011234562")])
    assert [r.status for r in results] == [
        DeliveryStatus.SUBMITTED,
        DeliveryStatus.FAILED,
        DeliveryStatus.SUBMITTED,
    ]
    assert results[1].error is not None and results[1].error.code is ErrorCode.INVALID_DESTINATION
    assert results[1].native_id is None and results[2].native_id == "9:77011234562"


def test_duplicate_send_is_in_doubt_not_retried_and_missing_id_is_protocol_error() -> None:
    dup = smsc.parse_send(smsc.parse_reply('{"error": "duplicate", "error_code": 9}'), [msg("+77011234561")])
    assert dup[0].status is DeliveryStatus.MAYBE_SUBMITTED and dup[0].error is not None
    assert dup[0].error.code is ErrorCode.DUPLICATE and not dup[0].error.retryable
    bad = smsc.parse_send(smsc.parse_reply('{"cnt": 1}'), [msg("+77011234561")])
    assert bad[0].status is DeliveryStatus.MAYBE_SUBMITTED
    assert bad[0].error is not None and bad[0].error.code is ErrorCode.PROTOCOL_ERROR


# --------------------------------------------------------------------------- what a send cost


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (0, "OK - 3 SMS, ID - 77, COST - 4.01"),
        (1, "77,3,4.01"),
        (2, "<result><id>77</id><cnt>3</cnt><cost>4.01</cost></result>"),
        (3, '{"id": 77, "cnt": 3, "cost": "4.01"}'),
    ],
)
def test_the_requests_cost_is_split_over_its_phones_and_adds_up(fmt: int, text: str) -> None:
    reply = smsc.parse_reply(text, fmt, op="send")
    results = smsc.parse_send(reply, [msg("+77011234561"), msg("+77011234562"), msg("+77011234563")], "KZT")
    assert [r.cost for r in results] == [(1_336_667, "KZT"), (1_336_667, "KZT"), (1_336_666, "KZT")]
    assert sum(r.cost[0] for r in results if r.cost) == 4_010_000


def test_a_phones_own_cost_in_the_op1_list_is_taken_and_a_refused_phone_has_none() -> None:
    reply = smsc.parse_reply(
        '{"id": 9, "cnt": 2, "cost": "4.90", "phones": [{"phone": "77011234561", "cost": "1.40"},'
        ' {"phone": "12", "error": "7"}, {"phone": "4915112345678", "cost": "3.5"}]}'
    )
    results = smsc.parse_send(reply, [msg("+77011234561"), msg("+12"), msg("+4915112345678")])
    assert [r.cost for r in results] == [(1_400_000, "RUB"), None, (3_500_000, "RUB")]


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 9, "cnt": 2}',  # cost not asked for, or not answered
        '{"id": 9, "cnt": 2, "cost": "n/a"}',
        '{"id": 9, "cnt": 2, "cost": null}',
    ],
)
def test_no_readable_cost_is_none_not_zero(text: str) -> None:
    results = smsc.parse_send(smsc.parse_reply(text), [msg("+77011234561"), msg("+77011234562")])
    assert [r.cost for r in results] == [None, None]


def test_the_currency_option_is_read_and_checked() -> None:
    from msgbridge.adapters.base import open_transport
    from msgbridge.adapters.http.smsc import SmscTransport
    from msgbridge.core.errors import ConfigError

    default = open_transport("smsc://user:pw@smsc.ru")
    assert isinstance(default, SmscTransport) and default.config.currency == "RUB"
    kz = open_transport("smsc://user:pw@smsc.kz?currency=kzt")
    assert isinstance(kz, SmscTransport) and kz.config.currency == "KZT"
    with pytest.raises(ConfigError, match="option currency"):
        open_transport("smsc://user:pw@smsc.ru?currency=roubles")
