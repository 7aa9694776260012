"""Request body limits on every route, counted as the bytes arrive (issue 12).

A declared Content-Length over the limit is refused at the route's first read, before any
byte is taken. A body without one (chunked) is counted chunk by chunk as the route reads it,
and the read that passes the limit raises a 413 there (an HTTPException, so the app's handlers
answer it in the route's own shape: OpenAI's error object on /v1), so neither a JSON parser
nor the multipart parser (which spools files to disk) ever holds more than the limit. Living
in one middleware, it covers every route, including ones added later.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings

UPLOAD_PATHS = frozenset({"/articles"})
"""Routes that take article batches and files: NEWSDESK_MAX_UPLOAD_BYTES; every other route
gets NEWSDESK_MAX_REQUEST_BYTES."""


def too_large(limit: int, setting: str) -> str:
    return f"request body exceeds the {limit}-byte limit ({setting})"


class BodyLimit:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.upload_limit = settings.max_upload_bytes
        self.request_limit = settings.max_request_bytes

    def limit_for(self, path: str) -> tuple[int, str]:
        if path.rstrip("/") in UPLOAD_PATHS:
            return self.upload_limit, "NEWSDESK_MAX_UPLOAD_BYTES"
        return self.request_limit, "NEWSDESK_MAX_REQUEST_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        received = 0

        async def counted() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > limit:
                raise HTTPException(
                    413, f"body of {declared} bytes exceeds the {limit}-byte limit ({setting})"
                )
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, too_large(limit, setting))
            return message

        await self.app(scope, counted, send)
