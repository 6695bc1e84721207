"""The error shape's pieces: field paths as a client reads them, and every status mapped into our taxonomy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from msgbridge.core.errors import ErrorCode
from msgbridge.service.contract import FieldError
from msgbridge.service.http.errors import (
    ERRORS,
    STATUS_CODES,
    field_path,
    submission_fields,
    validation_error,
)
from msgbridge.service.http.models import BatchIn


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "messages", 3, "to"), "messages[3].to"),
        (("query", "cursor"), "cursor"),
        (("path", "message_id"), "message_id"),
        (("header", "Idempotency-Key"), "Idempotency-Key"),
        (("body",), "body"),
        (("recipients", 0, "fields", "name"), "recipients[0].fields.name"),
        (("messages", 1, "body"), "messages[1].body"),  # a field called "body" deeper down is kept
    ],
)
def test_field_paths(loc: tuple[int | str, ...], path: str) -> None:
    assert field_path(loc) == path


def test_pydantic_and_runtime_errors_name_the_same_paths() -> None:
    with pytest.raises(ValidationError) as caught:
        BatchIn.model_validate({"messages": [{"to": "+77011234567", "text": "ok"}, {"to": 1}]})
    err = validation_error(caught.value)
    assert err.status_code == 422 and {f.field for f in err.fields} == {"messages[1].to", "messages[1].text"}
    runtime = submission_fields([FieldError(1, "to", ErrorCode.INVALID_DESTINATION, "bad")], batch=True)
    assert [(f.field, f.code) for f in runtime] == [("messages[1].to", ErrorCode.INVALID_DESTINATION)]
    assert (
        submission_fields([FieldError(0, "sender", ErrorCode.INVALID_SENDER, "x")], batch=False)[0].field
        == "sender"
    )


def test_every_documented_status_has_a_code() -> None:
    assert {int(s) for s in ERRORS} <= set(STATUS_CODES)
