"""The one error shape of every endpoint, and the handlers that turn every failure into it.

::

    {"error": {"code": "INVALID_DESTINATION", "message": "...",
               "fields": [{"field": "messages[3].to", "code": "INVALID_DESTINATION", "message": "..."}]}}

``code`` is our :class:`~msgbridge.core.errors.ErrorCode`, so a client decides on retrying the same way for
an HTTP answer as for a transport's. Validation (pydantic's and the runtime's InvalidSubmission) is 422 and
names each field by its path in the request body; nothing else in a body comes from an exception's text
unless it is one of ours (MessagingError), whose messages are written for the user and never hold secrets.

Anything unexpected is caught by :class:`CatchAll`, outermost but for the metrics: it logs the exception
once (through the secret filter) and answers a generic 500 that tells nothing of the internals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.service.contract import FieldError
from msgbridge.store import StoreError

log = logging.getLogger("msgbridge.service.http")


class FieldProblem(BaseModel):
    field: str  # the path in the request: "messages[3].to", "cursor", "file"
    code: ErrorCode
    message: str


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str
    fields: list[FieldProblem] = []


class ErrorBody(BaseModel):
    error: ErrorDetail


# What an HTTP status means in our taxonomy where nothing more precise is known.
STATUS_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_ARGUMENT,
    401: ErrorCode.AUTH_FAILED,
    403: ErrorCode.ACCESS_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.UNSUPPORTED,
    406: ErrorCode.UNSUPPORTED,
    409: ErrorCode.DUPLICATE,
    413: ErrorCode.INVALID_ARGUMENT,
    415: ErrorCode.UNSUPPORTED,
    422: ErrorCode.INVALID_ARGUMENT,
    429: ErrorCode.THROTTLED,
    500: ErrorCode.TEMPORARY_FAILURE,
    501: ErrorCode.UNSUPPORTED,
    503: ErrorCode.TEMPORARY_FAILURE,
}

# The HTTP status of a MessagingError that reaches a handler, by its code; unlisted codes are 503 (the
# gateway could not do it now, the request itself was not at fault).
ERROR_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_ARGUMENT: 422,
    ErrorCode.INVALID_DESTINATION: 422,
    ErrorCode.INVALID_SENDER: 422,
    ErrorCode.MESSAGE_TOO_LONG: 422,
    ErrorCode.UNSUPPORTED: 501,  # this gateway (its store, its transport) cannot do it at all
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.DUPLICATE: 409,
    ErrorCode.ACCESS_DENIED: 403,
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.THROTTLED: 429,
}

GENERIC_500 = "internal error; it has been logged (no internals are shown here)"


class ApiError(StarletteHTTPException):
    """An answer in the error shape. A Starlette HTTPException, so FastAPI lets it through while it reads
    a request body (a body limit raised from ``receive`` must reach the client as 413, not as a 400)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: ErrorCode | None = None,
        fields: Sequence[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, dict(headers) if headers else None)
        self.code = code or STATUS_CODES.get(status, ErrorCode.INVALID_ARGUMENT)
        self.message = message
        self.fields = list(fields)


def error_response(
    status: int,
    message: str,
    *,
    code: ErrorCode | None = None,
    fields: Iterable[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": (code or STATUS_CODES.get(status, ErrorCode.INVALID_ARGUMENT)).value,
            "message": message,
            "fields": [f.model_dump(mode="json") for f in fields],
        }
    }
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def field_path(loc: Iterable[int | str]) -> str:
    """pydantic's ``("body", "messages", 3, "to")`` -> ``messages[3].to``; the request part is left out."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("body", "query", "path", "header", "cookie") and not out:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_fields(
    errors: Iterable[Mapping[str, Any]], prefix: Sequence[int | str] = ()
) -> list[FieldProblem]:
    """pydantic's error list as our field problems (its messages name no value, so nothing sent is echoed)."""
    return [
        FieldProblem(
            field=field_path([*prefix, *e.get("loc", ())]),
            code=ErrorCode.INVALID_ARGUMENT,
            message=str(e.get("msg", "invalid")),
        )
        for e in errors
    ]


def validation_error(
    exc: ValidationError | RequestValidationError, prefix: Sequence[int | str] = ()
) -> ApiError:
    fields = validation_fields(exc.errors(), prefix)
    return ApiError(
        422,
        f"{len(fields)} invalid field(s); first: {fields[0].field}: {fields[0].message}"
        if fields
        else "invalid request",
        fields=fields,
    )


def submission_fields(errors: Iterable[FieldError], *, batch: bool) -> list[FieldProblem]:
    """The runtime's per-message problems by their path in the body: ``messages[i].field`` or ``field``."""
    return [
        FieldProblem(
            field=f"messages[{e.index}].{e.field}" if batch else e.field, code=e.code, message=e.message
        )
        for e in errors
    ]


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiError):
        return error_response(
            exc.status_code, exc.message, code=exc.code, fields=exc.fields, headers=exc.headers
        )
    assert isinstance(exc, StarletteHTTPException)
    text = exc.detail if isinstance(exc.detail, str) else "request refused"
    return error_response(exc.status_code, text, headers=exc.headers)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    err = validation_error(exc)
    return error_response(422, err.message, fields=err.fields)


async def _messaging_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MessagingError)
    if isinstance(exc, StoreError):
        log.error("store error on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            503, "the store could not be used; retry later (with the same Idempotency-Key or reference)",
            code=ErrorCode.TEMPORARY_FAILURE, headers={"Retry-After": "1"},
        )  # fmt: skip
    status = ERROR_STATUS.get(exc.code, 503)
    return error_response(status, str(exc), code=exc.code)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _api_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(MessagingError, _messaging_error)


class CatchAll:
    """The last line: an exception nothing else handled is logged and answered as a generic 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # the status line is out: the server can only cut the connection
            await error_response(500, GENERIC_500)(scope, receive, send)


# The error responses every route documents (OpenAPI), so a client and the fuzz test know the shape.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "an unknown transport, or a body that cannot be read"),
        (401, "no key or an unknown key"),
        (403, "the key may not use this transport"),
        (404, "no such message, campaign or route"),
        (413, "the body is larger than [serve] max_body / max_upload"),
        (422, "a field is invalid; each one is named"),
        (429, "the key's rate is used up; see Retry-After"),
        (500, "an internal error (logged)"),
        (501, "this gateway's store or transport cannot do that"),
        (503, "draining for shutdown, or the store is unavailable"),
    )
}
