"""``/v1/campaigns``: start one (JSON recipients, or a CSV upload), read its counts and per-recipient
results page by page, cancel what is still queued.

A CSV upload (``multipart/form-data``: the campaign's fields and ``file``) is streamed to a temporary file
and read from there by the CLI's own reader (:func:`msgbridge.dispatch.run.csv_rows`), so the HTTP API
accepts exactly the files ``campaign run`` does (BOMs, semicolons, UTF-16) with the same line-numbered
problems, and a million-row file never sits in memory. The answer (202) comes once every row is queued or
reported; the campaign's transport sends meanwhile and afterwards.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path as FilePath

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse

from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.status import DeliveryStatus
from msgbridge.dispatch.campaign import Row
from msgbridge.dispatch.run import CsvRows, RunRequest
from msgbridge.service.apikeys import ApiKey
from msgbridge.service.contract import CampaignSubmission
from msgbridge.service.http.auth import api_key, check_transports, submitter
from msgbridge.service.http.errors import ERRORS, ApiError, ErrorBody, FieldProblem, validation_error
from msgbridge.service.http.models import (
    MAX_PAGE,
    NAME_PATTERN,
    CampaignIn,
    CampaignOut,
    CampaignSpec,
    CampaignStartedOut,
    CanceledOut,
    CsvUploadForm,
    RecipientPage,
    from_export,
    from_report,
    from_view,
)
from msgbridge.service.http.state import service
from msgbridge.service.http.transports import resolve, unknown_transports

router = APIRouter(tags=["campaigns"], responses=ERRORS)

REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CampaignIn"}},
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/CsvUpload"}},
        },
    }
}
NAME = Path(pattern=NAME_PATTERN, max_length=128)
COPY_CHUNK = 1024 * 1024
MAX_FORM_FIELDS = 32


def _not_found(name: str) -> ApiError:
    return ApiError(404, f"no campaign {name!r}")


async def _start(
    request: Request, spec: CampaignSpec, rows: Iterable[Row], key: ApiKey, dry_run: bool
) -> CampaignStartedOut | JSONResponse:
    svc = service(request)
    unknown_transports(svc.gateway, [("transport", spec.transport)])
    transport = resolve(svc.gateway, spec.transport) or ""
    check_transports(key, svc.gateway, [("transport", transport)])
    if not dry_run and await svc.gateway.campaign(spec.name) is not None:
        raise ApiError(409, f"a campaign named {spec.name!r} exists already; choose another name")
    campaign = CampaignSubmission(
        name=spec.name, template=spec.template, transport=transport, sender=spec.sender, region=spec.region,
        phone_check=spec.phone_check, strict=spec.strict, options=spec.options, callback_url=spec.callback_url,
    )  # fmt: skip
    try:
        if dry_run:  # the plan ``msgbridge campaign plan --json`` prints (docs/plan.md); nothing queued
            return JSONResponse((await svc.gateway.plan_campaign(campaign, rows)).to_json())
        report = await svc.gateway.start_campaign(campaign, rows, scope=key.name)
    except ConfigError as exc:
        raise ApiError(422, str(exc), code=exc.code) from None
    return from_report(report)


async def _json_campaign(request: Request, key: ApiKey, dry_run: bool) -> CampaignStartedOut | JSONResponse:
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "the body is not JSON", fields=[FieldProblem(field="body", code=ErrorCode.INVALID_ARGUMENT, message="not JSON")]) from None  # fmt: skip
    try:
        spec = CampaignIn.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    rows: list[Row] = [(i, r.phone, r.fields, None) for i, r in enumerate(spec.recipients)]
    return await _start(request, spec, rows, key, dry_run)


async def _csv_campaign(request: Request, key: ApiKey, dry_run: bool) -> CampaignStartedOut | JSONResponse:
    async with request.form(max_files=1, max_fields=MAX_FORM_FIELDS) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "the form has no file part named 'file'",
                           fields=[FieldProblem(field="file", code=ErrorCode.INVALID_ARGUMENT, message="missing")])  # fmt: skip
        values = {
            k: v for k, v in form.multi_items() if k != "file" and isinstance(v, str)
        }  # strict="true": pydantic reads it
        try:
            spec = CsvUploadForm.model_validate(values)
        except ValidationError as exc:
            raise validation_error(exc) from None
        with tempfile.TemporaryDirectory(prefix="msgbridge-upload-") as folder:
            path = FilePath(folder) / "recipients.csv"
            with path.open("wb") as out:
                await run_in_threadpool(shutil.copyfileobj, upload.file, out, COPY_CHUNK)
            run = RunRequest(
                name=spec.name, template=spec.template, csv_path=str(path), transport_label=spec.transport,
                phone_column=spec.phone_column, encoding=spec.encoding,
            )  # fmt: skip
            try:
                rows = CsvRows(run)
            except ConfigError as exc:
                text = str(exc).replace(str(path), upload.filename or "the upload")
                raise ApiError(
                    422, text, fields=[FieldProblem(field="file", code=exc.code, message=text)]
                ) from None
            return await _start(request, spec, rows, key, dry_run)


@router.post("/v1/campaigns", status_code=202, response_model=CampaignStartedOut, openapi_extra=REQUEST_BODY,
             responses={200: {"description": "dry_run=true: the campaign's plan, as `msgbridge campaign plan --json` "
                                             "prints it (docs/plan.md); nothing queued",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                        409: {"model": ErrorBody, "description": "the name is taken"},
                        415: {"model": ErrorBody, "description": "neither JSON nor multipart"}})  # fmt: skip
async def post_campaign(
    request: Request,
    key: ApiKey = Depends(submitter),
    dry_run: bool = Query(False, description="answer the campaign's plan (200) instead of starting it"),
) -> CampaignStartedOut | JSONResponse:
    """Start a campaign: JSON with ``recipients``, or ``multipart/form-data`` with the fields and a CSV ``file``.

    With ``dry_run=true`` nothing is queued or sent: the answer (200) is the plan ``msgbridge campaign plan
    --json`` prints for the same rows: messages, segments and expected price per transport and country,
    bad rows with their lines, and the characters that make texts UCS-2."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return await _csv_campaign(request, key, dry_run)
    if kind in ("application/json", ""):
        return await _json_campaign(request, key, dry_run)
    raise ApiError(415, f"send application/json or multipart/form-data, not {kind[:64]!r}")


@router.get("/v1/campaigns/{name}", response_model=CampaignOut)
async def get_campaign(request: Request, name: str = NAME, key: ApiKey = Depends(api_key)) -> CampaignOut:
    """Counts by status and progress."""
    view = await service(request).gateway.campaign(name)
    if view is None:
        raise _not_found(name)
    return from_view(view)


@router.get("/v1/campaigns/{name}/messages", response_model=RecipientPage)
async def campaign_messages(
    request: Request,
    name: str = NAME,
    status: DeliveryStatus | None = Query(default=None),
    cursor: int | None = Query(default=None, ge=0, le=2**62),
    limit: int = Query(default=100, ge=1, le=MAX_PAGE),
    key: ApiKey = Depends(api_key),
) -> RecipientPage:
    """Per-recipient results in order, a page at a time (``next_cursor`` continues)."""
    gateway = service(request).gateway
    if await gateway.campaign(name) is None:
        raise _not_found(name)
    page = await gateway.campaign_messages(name, status=status, after=cursor, limit=limit)
    following = page[-1].cursor if len(page) == limit else None
    return RecipientPage(messages=[from_export(r) for r in page], next_cursor=following)


@router.post("/v1/campaigns/{name}/cancel", response_model=CanceledOut)
async def cancel_campaign(
    request: Request, name: str = NAME, key: ApiKey = Depends(submitter)
) -> CanceledOut:
    """What is still queued becomes CANCELED and is never sent; what was handed over keeps its course."""
    gateway = service(request).gateway
    view = await gateway.campaign(name)
    if view is None:
        raise _not_found(name)
    if view.transport:
        check_transports(key, gateway, [("name", view.transport)])
    return CanceledOut(name=name, canceled=await gateway.cancel_campaign(name))
