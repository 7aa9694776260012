"""Sending writes to the server that owns a data directory (see owner.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

from core.articles import Article
from core.client import NewsdeskClient, ServerError
from index.writer import IngestSummary

BATCH = 200


def _write(client: NewsdeskClient, method: str, path: str, body: object = None) -> Any:
    try:
        return client.request(method, path, body)
    except ServerError as exc:
        if exc.status is None:
            raise RuntimeError(f"server at {client.base} did not answer: {exc}") from None
        raise RuntimeError(
            f"server at {client.base}{path.split('?')[0]} refused the write "
            f"({exc.status}): {exc.detail}"
        ) from None


def as_json(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "text": article.text,
        "published": article.published.isoformat() if article.published else None,
        "source": article.source,
        "url": article.url,
    }


def batches(
    articles: Sequence[Article], max_bytes: int, count: int = BATCH
) -> Iterator[list[dict[str, Any]]]:
    """Requests of at most `count` articles and `max_bytes` of JSON (the server's body limit,
    NEWSDESK_MAX_UPLOAD_BYTES), so a large corpus goes over in pieces the server accepts.
    An article that alone is over the limit stops the ingest before anything is sent."""
    sized = [(as_json(a), len(json.dumps(as_json(a)).encode()) + 2) for a in articles]
    for record, size in sized:
        if size + 16 > max_bytes:
            raise RuntimeError(
                f"article {record['id']!r} is {size} bytes as JSON, more than the server's "
                f"{max_bytes}-byte limit (NEWSDESK_MAX_UPLOAD_BYTES); nothing was sent"
            )
    batch: list[dict[str, Any]] = []
    used = 16  # {"articles": []}
    for record, size in sized:
        if batch and (len(batch) >= count or used + size > max_bytes):
            yield batch
            batch, used = [], 16
        batch.append(record)
        used += size
    if batch:
        yield batch


def ingest_remote(
    client: NewsdeskClient,
    articles: Sequence[Article],
    *,
    prune: bool,
    max_bytes: int,
    progress: Callable[[int, int], None] | None = None,
) -> IngestSummary:
    total = IngestSummary()
    for batch in batches(articles, max_bytes):
        got = _write(client, "POST", "/articles", {"articles": batch})
        for key in ("added", "updated", "unchanged", "chunks_embedded"):
            setattr(total, key, getattr(total, key) + int(got[key]))
        if progress is not None:
            progress(len(batch), int(got["chunks_embedded"]))
    if prune:
        keep = {a.id for a in articles}
        gone: list[str] = []
        offset = 0
        while True:
            page = _write(client, "GET", f"/articles?offset={offset}&limit=500")
            listed = page["articles"]
            gone += [a["id"] for a in listed if a["id"] not in keep]
            offset += len(listed)
            if not listed or offset >= int(page["total"]):
                break
        total.deleted = delete_remote(client, gone)
    return total


def delete_remote(client: NewsdeskClient, article_ids: Sequence[str]) -> int:
    deleted = 0
    for article_id in article_ids:
        try:
            client.delete(f"/articles/{quote(article_id, safe='')}")
            deleted += 1
        except ServerError as exc:
            if exc.status != 404:
                raise RuntimeError(
                    f"server at {client.base} refused the delete ({exc.status}): {exc.detail}"
                ) from None
    return deleted
