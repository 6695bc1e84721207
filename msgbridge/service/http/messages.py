"""``POST /v1/messages`` (one message or a batch) and ``GET /v1/messages/{message_id}``.

The 202 is sent only after :meth:`Gateway.accept` has returned, that is after the outbox commit (shared
with concurrent requests): a client that got it may crash, and so may we, and the message is still sent.
A retry is made safe by the ``Idempotency-Key`` header or each message's ``reference``: under the same API
key the same reference is queued once and the retry gets the first message's id and current status. In a
batch the header stands for the whole request: message ``i`` without a reference of its own gets
``<Idempotency-Key>#<i>``.

The body is parsed here rather than by FastAPI's body parameter, for two reasons: one path takes either a
single object or ``{"messages": [...]}`` (a union would report every field twice, once per branch), and a
10,000-message batch is validated in one pydantic call. The OpenAPI request body is declared by hand from
the same models (``openapi_extra``).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from msgbridge.core.errors import ErrorCode
from msgbridge.service.apikeys import ApiKey
from msgbridge.service.contract import InvalidSubmission, Submission
from msgbridge.service.http.auth import api_key, check_transports, submitter
from msgbridge.service.http.errors import ERRORS, ApiError, FieldProblem, submission_fields, validation_error
from msgbridge.service.http.models import (
    AcceptedOut,
    BatchIn,
    BatchOut,
    MessageIn,
    MessageOut,
    accepted_json,
    from_record,
)
from msgbridge.service.http.state import service
from msgbridge.service.http.transports import resolve, unknown_transports

router = APIRouter(tags=["messages"], responses=ERRORS)

REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/MessageIn"},
                        {"$ref": "#/components/schemas/BatchIn"},
                    ]
                }
            }
        },
    }
}
IDEMPOTENCY_HEADER = Header(
    default=None, alias="Idempotency-Key", min_length=1, max_length=200,
    description="Makes a retry return the first result instead of queuing again.",
)  # fmt: skip


def parse(body: bytes) -> tuple[list[MessageIn], bool]:
    """The messages of a request body, and whether it was a batch; 422 naming every bad field."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            422,
            f"the body is not JSON: {exc}",
            fields=[FieldProblem(field="body", code=ErrorCode.INVALID_ARGUMENT, message="not JSON")],
        ) from None
    try:
        if isinstance(data, dict) and "messages" in data:
            return BatchIn.model_validate(data).messages, True
        return [MessageIn.model_validate(data)], False
    except ValidationError as exc:
        raise validation_error(exc) from None


@router.post(
    "/v1/messages",
    status_code=202,
    response_model=AcceptedOut | BatchOut,
    openapi_extra=REQUEST_BODY,
)
async def post_messages(
    request: Request, key: ApiKey = Depends(submitter), idempotency_key: str | None = IDEMPOTENCY_HEADER
) -> JSONResponse:
    """Queue one message (a JSON object) or a batch (``{"messages": [...]}``, up to 10,000); 202 once
    durably queued, with our ids. Sent as one commit: either every message is queued or none is."""
    svc = service(request)
    items, batch = parse(await request.body())
    gateway = svc.gateway
    where = [f"messages[{i}].transport" if batch else "transport" for i in range(len(items))]
    unknown_transports(gateway, list(zip(where, (m.transport for m in items), strict=True)))
    chosen = [resolve(gateway, m.transport) or "" for m in items]
    check_transports(key, gateway, list(zip(where, chosen, strict=True)))
    if not batch and idempotency_key is not None and items[0].reference not in (None, idempotency_key):
        raise ApiError(422, "Idempotency-Key and reference differ; give one, or the same in both",
                       fields=[FieldProblem(field="reference", code=ErrorCode.INVALID_ARGUMENT, message="differs from Idempotency-Key")])  # fmt: skip
    submissions = [
        Submission(
            to=m.to,
            text=m.text,
            sender=m.sender,
            reference=m.reference
            or (idempotency_key and (f"{idempotency_key}#{i}" if batch else idempotency_key)),
            transport=chosen[i],
            region=m.region,
            callback_url=m.callback_url,
            options=m.options,
        )
        for i, m in enumerate(items)
    ]
    try:
        accepted = await svc.gateway.accept(submissions, scope=key.name)
    except InvalidSubmission as exc:
        fields = submission_fields(exc.errors, batch=batch)
        first = f"; first: {fields[0].field}: {fields[0].message}" if fields else ""
        code = fields[0].code if fields else None
        raise ApiError(
            422, f"{len(fields)} invalid field(s){first}; nothing was queued", code=code, fields=fields
        ) from None
    if batch:
        return JSONResponse({"messages": [accepted_json(a) for a in accepted]}, status_code=202)
    return JSONResponse(accepted_json(accepted[0]), status_code=202)


@router.get("/v1/messages/{message_id}", response_model=MessageOut)
async def get_message(
    request: Request, message_id: str = Path(min_length=1, max_length=64), key: ApiKey = Depends(api_key)
) -> MessageOut:
    """Status, native ids, segments, history and the last error (with the peer's own code and text)."""
    record = await service(request).gateway.message(message_id)
    if record is None:
        raise ApiError(404, f"no message {message_id!r}")
    return from_record(record)
