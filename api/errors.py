"""Every error leaves as JSON with a `detail` that names the problem."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core.articles import ArticleError
from index.lock import LockTimeout
from index.store import is_storage_fault
from index.vector_store import VectorStoreUnreachable

log = logging.getLogger("newsdesk.api")


def storage_detail(error: BaseException) -> str:
    return (
        f"the index cannot be read or written right now ({type(error).__name__}: {error}); "
        "GET /ready says what is wrong"
    )


def describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":
        return f"malformed JSON: {error.get('ctx', {}).get('error', message)}"
    if error.get("type") == "extra_forbidden":
        return f"unknown field {where!r}"
    return f"{where}: {message}" if where else message


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [describe(dict(e)) for e in exc.errors()]
        return JSONResponse(
            status_code=422,
            content={"detail": "; ".join(problems), "errors": _plain(exc.errors())},
        )

    @app.exception_handler(ArticleError)
    async def bad_article(request: Request, exc: ArticleError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    async def storage_fault(request: Request, exc: Exception) -> JSONResponse:
        log.error("storage fault on %s %s: %r", request.method, request.url.path, exc)
        return JSONResponse(status_code=503, content={"detail": storage_detail(exc)})

    import psycopg
    from chromadb.errors import ChromaError

    app.add_exception_handler(sqlite3.Error, storage_fault)
    app.add_exception_handler(psycopg.Error, storage_fault)  # the catalog in PostgreSQL
    app.add_exception_handler(ChromaError, storage_fault)
    app.add_exception_handler(VectorStoreUnreachable, storage_fault)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Whatever else escaped a route still leaves as JSON (the traceback goes to the log)."""
        if is_storage_fault(exc):
            return await storage_fault(request, exc)
        return JSONResponse(
            status_code=500, content={"detail": "internal error; see the server log"}
        )

    @app.exception_handler(LockTimeout)
    async def busy(request: Request, exc: LockTimeout) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})


def _plain(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without the raw input echo (a 10 kB question need not come back)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors
    ]
