"""Questions and passages: /ask, /search, /health."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.deadline import answered_within
from api.deps import RuntimeDep
from api.errors import describe
from api.schemas import (
    AskRequest,
    AskResponse,
    FiltersIn,
    HealthResponse,
    ReadyResponse,
    SearchResponse,
)
from core.records import MAX_QUESTION_CHARS, MAX_TOP_K
from index.store import is_storage_fault

router = APIRouter()


@router.post("/ask", response_model=AskResponse, summary="Answer a question with citations")
async def ask(body: AskRequest, runtime: RuntimeDep) -> dict[str, object]:
    filters = body.filters.to_filters() if body.filters else None
    answer = await answered_within(
        runtime.settings, runtime.assistant.ask, body.question, body.top_k, filters
    )
    return answer.as_dict()


@router.get("/search", response_model=SearchResponse, summary="Ranked passages for a query")
async def search(
    runtime: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS)],
    k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 5,
    source: str | None = None,
    published_after: date | None = None,
    published_before: date | None = None,
    as_of: date | None = None,
) -> dict[str, object]:
    if not q.strip():
        raise HTTPException(status_code=422, detail="q: the query is empty")
    try:
        filters = FiltersIn(
            source=source,
            published_after=published_after,
            published_before=published_before,
            as_of=as_of,
        ).to_filters()
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(describe(dict(e)) for e in exc.errors())) from None
    hits = await answered_within(runtime.settings, runtime.assistant.search, q, k, filters)
    return {"query": q, "passages": [h.as_dict() for h in hits]}


@router.get("/health", response_model=HealthResponse, summary="Alive; index size and models")
def health(runtime: RuntimeDep) -> dict[str, object]:
    """Liveness: answers while the process does, even when the store cannot be read (then the
    counts are null and GET /ready says why)."""
    try:
        counts: dict[str, int | None] = dict(runtime.store.catalog.counts())
    except Exception as exc:
        if not is_storage_fault(exc):
            raise
        counts = {"articles": None, "passages": None}
    return {
        "status": "ok",
        "articles": counts["articles"],
        "passages": counts["passages"],
        "embedding_model": runtime.store.embedder.name,
        "answerer": "extractive",
        "data_dir": str(runtime.settings.data_dir),
    }


@router.get(
    "/ready",
    response_model=ReadyResponse,
    summary="Ready to answer: models loaded, catalog and vector store readable and in agreement",
    responses={503: {"model": ReadyResponse, "description": "Not ready; `problems` says why"}},
)
def ready(runtime: RuntimeDep) -> JSONResponse:
    report = runtime.readiness()
    return JSONResponse(report, status_code=200 if report["status"] == "ready" else 503)
