"""Request body limits, enforced while the body is read: a client cannot make the server hold more.

A declared ``Content-Length`` over the limit is refused before a byte of the body is read; a chunked body
(or a lying length) is counted as it arrives, and the read that crosses the limit raises a 413 instead of
handing the bytes on. A multipart upload (the CSV of ``POST /v1/campaigns``) has its own, larger limit:
it is streamed to a temporary file, never held in memory whole.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from msgbridge.service.http.errors import ApiError, error_response


def _too_large(limit: int) -> str:
    return f"request body larger than {limit:,} bytes"


UPLOAD_PATHS = frozenset({"/v1/campaigns"})  # where a multipart body is an upload (to a temporary file)


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    def limit_for(self, scope: Scope) -> int:
        """The upload limit for a multipart body to an upload path; ``max_body`` for everything else (a
        route that reads its body into memory never gets the larger limit by naming another content type)."""
        if scope["path"] not in UPLOAD_PATHS:
            return self.max_body
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                return self.max_upload if value[:19].lower() == b"multipart/form-data" else self.max_body
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    await error_response(400, "Content-Length is not a number")(scope, receive, send)
                    return
                if int(value) > limit:
                    await error_response(413, _too_large(limit))(scope, receive, send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, _too_large(limit))
            return message

        await self.app(scope, counted, send)
