"""Sending writes to the server that owns a data directory (see owner.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def ingest_remote(
    client: NewsdeskClient,
    articles: Sequence[Article],
    *,
    prune: bool,
    progress: Callable[[int, int], None] | None = None,
) -> IngestSummary:
    total = IngestSummary()
    for begin in range(0, len(articles), BATCH):
        batch = articles[begin : begin + BATCH]
        payload = {
            "articles": [
                {
                    "id": a.id,
                    "title": a.title,
                    "text": a.text,
                    "published": a.published.isoformat() if a.published else None,
                    "source": a.source,
                    "url": a.url,
                }
                for a in batch
            ]
        }
        got = _write(client, "POST", "/articles", payload)
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
