"""Every error leaves as JSON with a `detail` that names the problem."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core.articles import ArticleError
from index.lock import LockTimeout


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

    @app.exception_handler(LockTimeout)
    async def busy(request: Request, exc: LockTimeout) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})


def _plain(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without the raw input echo (a 10 kB question need not come back)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors
    ]
