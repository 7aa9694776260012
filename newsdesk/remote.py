"""Sending writes to the server that owns a data directory (see registry.py)."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from index.articles import Article
from index.writer import IngestSummary

BATCH = 200


class NotFound(LookupError):
    pass


def _request(method: str, url: str, api_key: str | None, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if api_key:
        request.add_header("x-api-key", api_key)
    try:
        with urllib.request.urlopen(request, timeout=3600) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and method == "DELETE":
            raise NotFound(url) from None
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("detail", detail)
        raise RuntimeError(f"server at {url} refused the write ({exc.code}): {detail}") from None


def ingest_remote(
    base: str,
    articles: Sequence[Article],
    *,
    prune: bool,
    api_key: str | None,
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
        got = _request("POST", f"{base}/articles", api_key, payload)
        for key in ("added", "updated", "unchanged", "chunks_embedded"):
            setattr(total, key, getattr(total, key) + int(got[key]))
        if progress is not None:
            progress(len(batch), int(got["chunks_embedded"]))
    if prune:
        keep = {a.id for a in articles}
        gone: list[str] = []
        offset = 0
        while True:
            page = _request("GET", f"{base}/articles?offset={offset}&limit=500", None)
            gone += [a["id"] for a in page["articles"] if a["id"] not in keep]
            offset += len(page["articles"])
            if not page["articles"] or offset >= page["total"]:
                break
        total.deleted = delete_remote(base, gone, api_key=api_key)
    return total


def delete_remote(base: str, article_ids: Sequence[str], *, api_key: str | None) -> int:
    deleted = 0
    for article_id in article_ids:
        try:
            _request("DELETE", f"{base}/articles/{quote(article_id, safe='')}", api_key)
            deleted += 1
        except NotFound:
            pass
    return deleted
