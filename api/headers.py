"""What a browser-facing server sends and checks on every response (issue 12).

The Host check is the defence against DNS rebinding: a page on evil.example whose name is
re-pointed at 127.0.0.1 talks to this server as its own origin (so neither CORS nor the
cross-site guard object), but its requests still say `Host: evil.example`. Only the names in
NEWSDESK_ALLOWED_HOSTS (default: the loopback names and the host the server binds to) are
answered; any other is a 400 before a route runs.

The headers: the chat page loads only its own script and stylesheet (no inline code, nothing
from elsewhere), so a strict Content-Security-Policy costs it nothing and stops an injected
script or a framing page; nosniff keeps JSON and text from being run as script.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def host_name(host: str) -> str:
    """'Example.com:8000' -> 'example.com'; '[::1]:8000' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class BrowserSafety:
    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        host = Headers(scope=scope).get("host", "")
        if "*" not in self.allowed and host_name(host) not in self.allowed:
            detail = (
                f"Host {host!r} is not served here; allowed: {', '.join(sorted(self.allowed))} "
                "(NEWSDESK_ALLOWED_HOSTS)"
            )
            await JSONResponse({"detail": detail}, status_code=400)(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)
