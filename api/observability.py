"""Request ids, per-request metrics and structured logs.

Every request gets an id: the caller's X-Request-ID when it is a sane token (a load balancer
or client that already traces the request keeps its id), otherwise a fresh one. The response
echoes it, and every log record written while the request runs carries it (a context
variable, which Starlette copies into the worker threads that run blocking routes), so one
grep finds everything a request did. With NEWSDESK_LOG_FORMAT=json each record is one JSON
object per line on stderr, ready for a log shipper.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics
from core.settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

request_id: ContextVar[str] = ContextVar("request_id", default="-")
log = logging.getLogger("newsdesk.request")


def incoming_id(value: str | None) -> str:
    """The caller's id when it is a short token (nothing that could forge a log line or
    bloat every record), otherwise a new random one."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def route_label(scope: Scope) -> str:
    """The route template ("/articles/{article_id}"), never the raw path: one series per
    route, however many ids clients ask for."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    return str(getattr(route, "path", "unmatched"))


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"


class RequestObserver:
    """Pure ASGI middleware (streams pass through untouched), outermost so that it times and
    counts what every other middleware answers too."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(REQUEST_ID_HEADER.lower().encode())
        rid = incoming_id(given.decode("latin-1") if given else None)
        token = request_id.set(rid)
        status = 500
        started = False
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                message["headers"] = [
                    *(
                        (k, v)
                        for k, v in message.get("headers", [])
                        if k.lower() != REQUEST_ID_HEADER.lower().encode()
                    ),
                    (REQUEST_ID_HEADER.encode(), rid.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Logged here, while the request id is still set; and answered here, so even a
            # bug's 500 says which log lines belong to it.
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await JSONResponse(
                {"detail": f"internal error (request id {rid}; the server log has the rest)"},
                status_code=500,
            )(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            route = route_label(scope)
            method = str(scope.get("method", ""))
            self.metrics.request(method, route, status, seconds)
            log.info(
                "%s %s %d",
                method,
                scope.get("path", ""),
                status,
                extra={
                    "client": client_address(scope),
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
            request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was written for ("-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, and whatever
    the caller passed in `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value if isinstance(value, (int, float, bool, str)) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's `log_config` for the settings' log format: "text" keeps uvicorn's own text
    logs; "json" sends uvicorn's and Newsdesk's records as JSON lines to stderr."""
    if settings.log_format != "json":
        from uvicorn.config import LOGGING_CONFIG

        return LOGGING_CONFIG
    handler = {"handlers": ["json"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "uvicorn": handler,
            "uvicorn.error": {"level": "INFO"},
            # newsdesk.request writes one richer line per request (route, status, time).
            "uvicorn.access": {**handler, "level": "WARNING"},
            "newsdesk": handler,
        },
        "root": {"handlers": ["json"], "level": "WARNING"},
    }
