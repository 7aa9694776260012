"""Adding, listing and removing articles while the server answers questions."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import RuntimeDep, WriteAccess
from api.errors import describe
from api.schemas import ArticleIn, ArticleList, ArticlesIn, IngestOut
from core.articles import Article, ArticleError, make_article, with_default_source
from core.records import MAX_OFFSET
from index.loaders import ALL_SUFFIXES, reader_for

router = APIRouter(prefix="/articles", tags=["articles"])


def articles_from_json(raw: bytes) -> list[Article]:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise HTTPException(400, "malformed JSON: nested too deeply") from None
    if isinstance(data, dict) and "articles" not in data:
        data = {"articles": [data]}
    elif isinstance(data, list):
        data = {"articles": data}
    try:
        batch = ArticlesIn.model_validate(data)
    except ValidationError as exc:
        detail = "; ".join(describe(dict(e)) for e in exc.errors())
        raise HTTPException(422, detail) from None
    return [from_schema(a, f"articles[{i}]") for i, a in enumerate(batch.articles)]


def from_schema(article: ArticleIn, origin: str) -> Article:
    return make_article(
        title=article.title,
        text=article.text,
        published=article.published,
        source=article.source,
        url=article.url,
        id=article.id,
        origin=origin,
    )


async def articles_from_upload(request: Request) -> list[Article]:
    """The body is at most NEWSDESK_MAX_UPLOAD_BYTES (api/limits.py counts it as it arrives),
    so no file in it is larger."""
    form = await request.form(max_files=20)
    articles: list[Article] = []
    files = [v for v in form.values() if not isinstance(v, str)]
    if not files:
        raise HTTPException(422, "multipart upload has no file field")
    for upload in files:
        name = Path(upload.filename or "upload.txt").name
        suffix = Path(name).suffix.lower()
        if suffix not in ALL_SUFFIXES:
            raise HTTPException(
                415, f"{name}: unsupported file type; expected one of {sorted(ALL_SUFFIXES)}"
            )
        data = await upload.read()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            try:
                articles.extend(reader_for(path)(path))
            except ArticleError as exc:
                raise HTTPException(422, str(exc).replace(str(path), name)) from None
    return articles


@router.post("", response_model=IngestOut, dependencies=[WriteAccess], status_code=200)
async def add_articles(
    request: Request,
    runtime: RuntimeDep,
    prune: Annotated[bool, Query(description="delete articles not in this batch")] = False,
    source: Annotated[
        str | None, Query(description="outlet for articles that do not name their own")
    ] = None,
) -> dict[str, Any]:
    """JSON (one article, a list, or {"articles": [...]}) or a multipart file upload in any
    format that `newsdesk ingest` reads. The whole batch is validated before anything is
    written, so bad input changes nothing."""
    if source is not None and not source.strip():
        raise HTTPException(422, "source: the outlet name is empty")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        articles = await articles_from_upload(request)
    elif content_type.startswith("application/json"):
        # Only with its content type: a body without one is what a cross-site no-cors fetch
        # sends (api/guard.py refuses it first; this keeps the route from reading it as JSON).
        articles = articles_from_json(await request.body())
    else:
        raise HTTPException(
            415,
            f"unsupported content type {content_type or 'none'!r}; expected application/json "
            "or multipart/form-data",
        )
    if not articles:
        raise HTTPException(422, "no articles in the request")
    articles = [with_default_source(a, source) for a in articles]
    summary = await run_in_threadpool(runtime.writer.ingest, articles, prune=prune)
    runtime.recorder.ingested(summary.as_dict())
    return {"ids": list(dict.fromkeys(a.id for a in articles)), **summary.as_dict()}


@router.get("", response_model=ArticleList)
def list_articles(
    runtime: RuntimeDep,
    source: str | None = None,
    published_after: date | None = None,
    published_before: date | None = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    total, entries = runtime.store.catalog.page(
        source=source, after=published_after, before=published_before, offset=offset, limit=limit
    )
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "articles": [
            {
                "id": e.id,
                "title": e.title,
                "published": e.published.isoformat() if e.published else None,
                "source": e.source,
                "sources": list(e.sources),
                "url": e.url,
                "passages": e.n_chunks,
                "indexed_at": e.indexed_at,
            }
            for e in entries
        ],
    }


@router.delete("/{article_id}", dependencies=[WriteAccess])
async def delete_article(article_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    removed = await run_in_threadpool(runtime.writer.delete, [article_id])
    if not removed:
        raise HTTPException(404, f"no article with id {article_id!r}")
    runtime.recorder.ingested({"deleted": removed})
    return {"deleted": article_id}
