"""Refusing cross-site writes: a page on another origin must not change the index (issue 12).

A browser attaches no API key to a cross-site request, but with no key configured (the
default) a page anywhere could POST /articles?prune=true as a plain HTML form and empty the
index. Browsers let a foreign page send only "simple" requests without asking the server
first (a CORS preflight, which this server never grants unless NEWSDESK_CORS_ORIGINS says
so): GET/HEAD/POST with a text/plain, urlencoded or multipart body and no custom header. So
every request that is not GET/HEAD/OPTIONS passes three checks here, before any route runs:

1. Origin. Browsers send it with every POST and DELETE (the Fetch standard), and a page
   cannot forge it. When present it must be this server's own origin (scheme and the Host
   the browser addressed) or one listed in NEWSDESK_CORS_ORIGINS; "null" (sandboxed or
   opaque pages) never is.
2. Sec-Fetch-Site. `cross-site` or `same-site` (another port or subdomain of the same site)
   is refused unless the Origin is an allowed one.
3. The body. JSON must say `Content-Type: application/json`, a type no simple request may
   carry; text/plain, a form encoding or no type at all is refused with 415, so a no-cors
   fetch can no longer slip JSON in. A multipart upload is the one body a cross-site form
   can send, so it must also carry a header such a form cannot: `X-Newsdesk-Client` (any
   value), unless the browser itself vouched that the page is ours (a matching Origin or
   `Sec-Fetch-Site: same-origin`). The custom header is the rule that does not depend on the
   browser sending Origin at all: older browsers left it off form posts, and some proxies
   and extensions strip it; an upload with ?prune can delete the whole index, so it gets
   the guarantee that holds in every browser.

Requests with neither Origin nor Sec-Fetch-Site (curl, the CLI, the openai client) are not a
browser acting for a foreign page; they pass, and the API key, when set, still guards writes.
Living in one middleware, the rule covers every route that changes state, including routes
added later, without each one having to remember it.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.settings import normalize_origin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
CLIENT_HEADER = "X-Newsdesk-Client"
JSON_TYPE = "application/json"
MULTIPART_TYPE = "multipart/form-data"


class Refusal(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def check_write(method: str, scheme: str, headers: Headers, allowed_origins: Sequence[str]) -> None:
    """Raises Refusal (403 or 415, with what is wrong) for a write a browser may be sending
    on behalf of a foreign page; returns for anything else."""
    if method in SAFE_METHODS:
        return
    host = headers.get("host")
    own = normalize_origin(f"{scheme}://{host}") if host else None
    origin = headers.get("origin")
    given = normalize_origin(origin) if origin is not None else None
    listed = given is not None and given in allowed_origins
    ours = given is not None and given == own
    if origin is not None and not (ours or listed):
        raise Refusal(
            403,
            f"cross-origin write refused: the page at Origin {origin!r} is not this server "
            f"({own or 'unknown host'}) nor listed in NEWSDESK_CORS_ORIGINS",
        )
    site = headers.get("sec-fetch-site", "").lower()
    if site in ("cross-site", "same-site") and not listed:
        raise Refusal(
            403,
            f"cross-site write refused: the browser sent it from another origin "
            f"(Sec-Fetch-Site: {site})",
        )
    if method not in BODY_METHODS:
        return
    content_type = headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media == MULTIPART_TYPE:
        vouched = ours or listed or site == "same-origin"
        if not vouched and not headers.get(CLIENT_HEADER):
            raise Refusal(
                403,
                f"a multipart upload needs the {CLIENT_HEADER} header (any value), which a "
                "cross-site form cannot send",
            )
    elif media != JSON_TYPE:
        got = repr(content_type) if content_type else "none"
        raise Refusal(
            415,
            f"expected Content-Type: {JSON_TYPE} (or {MULTIPART_TYPE} for a file upload), "
            f"got {got}",
        )


class CrossSiteGuard:
    """The ASGI middleware around the whole app: refuses before a route reads the body."""

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str] = ()) -> None:
        self.app = app
        self.allowed_origins = tuple(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_write(
                    scope["method"], scope["scheme"], Headers(scope=scope), self.allowed_origins
                )
            except Refusal as refusal:
                response = JSONResponse({"detail": refusal.detail}, status_code=refusal.status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
