"""JSON Lines (one article record a line) and JSON files (one record or a list of them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from core.articles import Article, ArticleError, make_article
from index.formats.text import read_text_file


def parse_record(record: object, origin: str) -> Article:
    """One JSON object with id?, title, published, source, url, text."""
    if not isinstance(record, dict):
        raise ArticleError(f"{origin}: expected a JSON object, got {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str):
        raise ArticleError(f"{origin}: field 'text' is missing or not a string")
    fields = {}
    for key in ("title", "source", "url", "id"):
        value = record.get(key)
        if value is not None and not isinstance(value, str | int):
            raise ArticleError(f"{origin}: field {key!r} must be a string")
        fields[key] = None if value is None else str(value)
    return make_article(
        title=fields["title"] or "",
        text=text,
        published=record.get("published") or record.get("published_at") or record.get("date"),
        source=fields["source"] or "",
        url=fields["url"] or "",
        id=fields["id"],
        origin=origin,
    )


def read_jsonl(path: Path) -> Iterator[Article]:
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ArticleError(f"{origin}: malformed JSON ({exc.msg})") from None
        yield parse_record(record, origin)


def read_json(path: Path) -> Iterator[Article]:
    try:
        data = json.loads(read_text_file(path))
    except json.JSONDecodeError as exc:
        raise ArticleError(f"{path}: malformed JSON ({exc.msg})") from None
    records = data if isinstance(data, list) else [data]
    for number, record in enumerate(records, start=1):
        yield parse_record(record, f"{path}[{number}]")
