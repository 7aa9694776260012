"""What one request, and one client, may cost (issue 12): body limits on every route,
counted as the bytes arrive, and a per-client rate on the answering routes.

A declared Content-Length over the limit is refused at the route's first read, before any
byte is taken. A body without one (chunked) is counted chunk by chunk as the route reads it,
and the read that passes the limit raises a 413 there (an HTTPException, so the app's handlers
answer it in the route's own shape: OpenAI's error object on /v1), so neither a JSON parser
nor the multipart parser (which spools files to disk) ever holds more than the limit. Living
in one middleware, it covers every route, including ones added later.
"""

from __future__ import annotations

import math
import time

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.routes.openai_compat import error_body
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


ANSWERING_PATHS = frozenset({"/ask", "/search", "/chat", "/v1/chat/completions"})
"""The routes that run retrieval and the reader: each request costs real CPU."""
MAX_TRACKED_CLIENTS = 10_000


class RateLimit:
    """A token bucket per client address: `burst` requests at once, refilled at `per_minute`.
    Over it, 429 with Retry-After (the seconds until one request is allowed again) and a JSON
    reason, in OpenAI's error shape on /v1. Behind a reverse proxy on 127.0.0.1 the client is
    the X-Forwarded-For address (uvicorn trusts it from there).

    The buckets live in this process: with `serve --workers N` each worker holds 1/N of the
    rate and burst, so that the client's connections, which the kernel spreads over the
    workers, get the configured limit in all rather than N times it."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.rate = settings.rate_limit_per_minute / 60.0 / settings.workers
        self.burst = max(1.0, settings.rate_limit_burst / settings.workers)
        self.limit = settings.rate_limit_per_minute
        self.buckets: dict[str, tuple[float, float]] = {}
        """client -> (tokens, when counted). Only the event loop touches it."""

    def take(self, client: str, now: float) -> float:
        """Seconds to wait before the next request, 0 when this one may go ahead."""
        tokens, then = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens < 1:
            self.buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self.buckets) >= MAX_TRACKED_CLIENTS and client not in self.buckets:
            self.forget_idle(now)
        self.buckets[client] = (tokens - 1, now)
        return 0.0

    def forget_idle(self, now: float) -> None:
        """Drops the clients whose buckets have refilled: they would start full anyway."""
        for client, (tokens, then) in list(self.buckets.items()):
            if tokens + (now - then) * self.rate >= self.burst:
                del self.buckets[client]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or self.rate <= 0 or path.rstrip("/") not in ANSWERING_PATHS:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.take(client, time.monotonic())
        if not wait:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        message = (
            f"too many requests from {client}: at most {self.limit:g} a minute to the "
            f"answering routes (NEWSDESK_RATE_LIMIT_PER_MINUTE); retry in {retry} s"
        )
        body: dict[str, object] = {"detail": message}
        if path.startswith("/v1/"):
            body = error_body(message, "rate_limit_error", None, "rate_limit_exceeded")
        response = JSONResponse(body, status_code=429, headers={"Retry-After": str(retry)})
        await response(scope, receive, send)
